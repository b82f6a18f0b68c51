/* rm-canvas.c: the image canvas (zoom, pan, tiled drawing, overlays, brush, eraser, polygons)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Over the image, in this order: the candidate's prior as a heatmap (when shown), the accepted
 * annotations of the image, each in its colour, the highlighted annotation (the one selected in
 * the annotations panel, whatever its status), then the candidate mask with its outline, and the
 * polygon being drawn. The masks are tiled textures (rm-mask-overlay.c) drawn with the image's
 * transform; the prior is one g x g texture stretched over the image.
 *
 * The polygon tools: a click (a press and release that does not move) adds a vertex, a drag
 * still pans; a double click, Enter or rm_canvas_polygon_close () closes the polygon, which then
 * adds to the candidate's mask (or removes from it: the "polygon-erase" tool, or Ctrl held on the
 * first vertex), as one undo step. Backspace takes the last vertex back.
 *
 * While Space is held (the canvas focused), a primary-button drag pans whatever the tool: no
 * stroke, no vertex. Releasing Space gives the tool back; a drag under way goes on panning.
 */

#include "rm-annotation.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-image-pyramid.h"
#include "rm-mask-overlay.h"

#include <math.h>

#define ANIMATION_USEC     (180 * G_TIME_SPAN_MILLISECOND)
#define SMOOTH_ZOOM_FACTOR 0.01 /* per pixel of touchpad scroll with Ctrl */
#define KEY_PAN_FRACTION   0.1
#define MIN_BRUSH_SIZE     1.0
#define MAX_BRUSH_SIZE     1000.0
#define CLICK_SLOP         4.0 /* widget pixels a click may move and still add a vertex */

/* The candidate, and the annotations (in turn, by position) */
#define DEFAULT_CANDIDATE_COLOUR "#33d9ff" /* the candidate-color preference's default */
static const GdkRGBA highlight_colour = { 1.0f, 0.35f, 0.85f, 1.0f }; /* magenta */
static const GdkRGBA polygon_add_colour = { 0.35f, 1.0f, 0.45f, 1.0f };
static const GdkRGBA polygon_erase_colour = { 1.0f, 0.4f, 0.4f, 1.0f };
static const GdkRGBA annotation_colours[] = {
  { 0.965f, 0.827f, 0.176f, 1.0f }, /* yellow */
  { 0.341f, 0.890f, 0.537f, 1.0f }, /* green */
  { 1.0f, 0.639f, 0.282f, 1.0f },   /* orange */
  { 0.753f, 0.380f, 0.796f, 1.0f }, /* purple */
  { 0.929f, 0.200f, 0.231f, 1.0f }, /* red */
  { 0.976f, 0.941f, 0.420f, 1.0f }, /* light yellow */
};

/* An accepted annotation's overlay, made again when its mask is replaced. */
typedef struct
{
  GBytes *mask;
  RmMaskOverlay *overlay;
} AnnotationOverlay;

static void
annotation_overlay_free (gpointer data)
{
  AnnotationOverlay *entry = data;

  g_bytes_unref (entry->mask);
  rm_mask_overlay_free (entry->overlay);
  g_free (entry);
}

struct _RmCanvas
{
  GtkWidget parent_instance;

  RmImagePyramid *image;

  RmView view;  /* where the view is going: what the getters report */
  RmView shown; /* what is drawn; differs from view only while animating */
  RmView animation_from;
  gint64 animation_start;
  guint tick_id;
  gboolean fit; /* refit when the widget is resized */

  double drag_origin_x;
  double drag_origin_y;
  double pinch_start_zoom;
  double pointer_x;
  double pointer_y;
  gboolean pointer_inside;

  guint drawn_level;
  guint n_drawn_tiles;

  RmCandidate *candidate;
  RmMaskOverlay *candidate_overlay;
  guint n_old_uploads; /* of the candidate overlays before the current one */
  gboolean show_prior;
  gboolean prior_drawn;
  double overlay_opacity;
  GdkRGBA candidate_colour;
  char *candidate_colour_string; /* as set: "#rrggbb" or any gdk_rgba_parse () form */
  guint n_drawn_overlay_tiles;
  GListModel *annotations;
  GHashTable *annotation_overlays; /* RmAnnotation -> AnnotationOverlay */

  RmCanvasTool tool;
  gboolean space_held; /* Space+drag pans, whatever the tool */
  double brush_size;   /* image pixels */
  gboolean painting;
  double stroke_origin_x;
  double stroke_origin_y;

  guint drag_button;
  GArray *polygon;           /* of double: x, y image pixels of each vertex so far */
  gboolean polygon_inverted; /* Ctrl on the first vertex: the other mode */
  guint32 last_click_time;
  double last_click_x;
  double last_click_y;

  RmAnnotation *highlight;
  GBytes *highlight_mask;
  RmMaskOverlay *highlight_overlay;
  gboolean highlight_drawn;
};

G_DEFINE_FINAL_TYPE (RmCanvas, rm_canvas, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_IMAGE,
  PROP_ZOOM,
  PROP_FIT,
  PROP_SHOW_PRIOR,
  PROP_OVERLAY_OPACITY,
  PROP_CANDIDATE_COLOR,
  PROP_BRUSH_SIZE,
  PROP_POLYGON_POINTS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
animations_enabled (RmCanvas *self)
{
  gboolean enabled = TRUE;

  g_object_get (gtk_widget_get_settings (GTK_WIDGET (self)), "gtk-enable-animations", &enabled,
                NULL);

  return enabled && gtk_widget_get_mapped (GTK_WIDGET (self));
}

static void
stop_animation (RmCanvas *self)
{
  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  self->shown = self->view;
}

static gboolean
animation_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  RmCanvas *self = RM_CANVAS (widget);
  double t =
      (double) (gdk_frame_clock_get_frame_time (clock) - self->animation_start) / ANIMATION_USEC;

  gtk_widget_queue_draw (widget);
  if (t >= 1.0)
    {
      self->tick_id = 0;
      self->shown = self->view;
      return G_SOURCE_REMOVE;
    }

  /* ease-out cubic */
  rm_view_interpolate (&self->animation_from, &self->view, 1.0 - pow (1.0 - t, 3), &self->shown);

  return G_SOURCE_CONTINUE;
}

static void
set_view (RmCanvas *self, const RmView *view, gboolean fit, gboolean animate)
{
  double old_zoom = rm_view_get_zoom (&self->view);

  self->view = *view;
  if (animate && animations_enabled (self) && !rm_view_equal (&self->shown, view))
    {
      self->animation_from = self->shown;
      self->animation_start =
          gdk_frame_clock_get_frame_time (gtk_widget_get_frame_clock (GTK_WIDGET (self)));
      if (self->tick_id == 0)
        self->tick_id =
            gtk_widget_add_tick_callback (GTK_WIDGET (self), animation_tick, NULL, NULL);
    }
  else
    {
      stop_animation (self);
    }

  gtk_widget_queue_draw (GTK_WIDGET (self));

  if (old_zoom != rm_view_get_zoom (&self->view))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
  if (self->fit != fit)
    {
      self->fit = fit;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FIT]);
    }
}

static void
anchor_point (RmCanvas *self, gboolean at_pointer, double *x, double *y)
{
  if (at_pointer && self->pointer_inside)
    {
      *x = self->pointer_x;
      *y = self->pointer_y;
    }
  else
    {
      *x = self->view.view_width / 2;
      *y = self->view.view_height / 2;
    }
}

void
rm_canvas_zoom_at (RmCanvas *self, double zoom, double widget_x, double widget_y, gboolean animate)
{
  RmView view;

  g_return_if_fail (RM_IS_CANVAS (self));

  if (self->image == NULL)
    return;

  view = self->view;
  rm_view_zoom_at (&view, zoom * view.pixel_scale, widget_x, widget_y);
  /* Zooming out all the way is the same as "fit", and should follow resizes like it. */
  set_view (self, &view, view.scale <= rm_view_get_fit_scale (&view) * (1 + 1e-9), animate);
}

void
rm_canvas_zoom_in (RmCanvas *self)
{
  double x, y;

  g_return_if_fail (RM_IS_CANVAS (self));

  anchor_point (self, FALSE, &x, &y);
  rm_canvas_zoom_at (self, rm_view_get_zoom (&self->view) * RM_CANVAS_ZOOM_STEP, x, y, TRUE);
}

void
rm_canvas_zoom_out (RmCanvas *self)
{
  double x, y;

  g_return_if_fail (RM_IS_CANVAS (self));

  anchor_point (self, FALSE, &x, &y);
  rm_canvas_zoom_at (self, rm_view_get_zoom (&self->view) / RM_CANVAS_ZOOM_STEP, x, y, TRUE);
}

void
rm_canvas_zoom_1to1 (RmCanvas *self)
{
  double x, y;

  g_return_if_fail (RM_IS_CANVAS (self));

  anchor_point (self, FALSE, &x, &y);
  rm_canvas_zoom_at (self, 1.0, x, y, TRUE);
}

void
rm_canvas_zoom_fit (RmCanvas *self)
{
  RmView view;

  g_return_if_fail (RM_IS_CANVAS (self));

  view = self->view;
  rm_view_fit (&view);
  set_view (self, &view, TRUE, TRUE);
}

void
rm_canvas_pan (RmCanvas *self, double dx, double dy)
{
  RmView view;

  g_return_if_fail (RM_IS_CANVAS (self));

  view = self->view;
  rm_view_pan (&view, dx, dy);
  set_view (self, &view, self->fit && rm_view_equal (&view, &self->view), FALSE);
}

/* ---- input ------------------------------------------------------------------------------- */

static gboolean
can_paint (RmCanvas *self)
{
  return self->image != NULL && self->candidate != NULL && self->tool != RM_CANVAS_TOOL_PAN &&
         rm_candidate_get_width (self->candidate) == rm_image_pyramid_get_width (self->image) &&
         rm_candidate_get_height (self->candidate) == rm_image_pyramid_get_height (self->image);
}

static gboolean
is_polygon_tool (RmCanvasTool tool)
{
  return tool == RM_CANVAS_TOOL_POLYGON || tool == RM_CANVAS_TOOL_POLYGON_ERASE;
}

static gboolean
is_brush_tool (RmCanvasTool tool)
{
  return tool == RM_CANVAS_TOOL_BRUSH || tool == RM_CANVAS_TOOL_ERASER;
}

static const char *
idle_cursor (RmCanvas *self)
{
  if (self->image == NULL)
    return NULL;

  return can_paint (self) && !self->space_held ? "crosshair" : "grab";
}

/* A drag with @button (primary or middle) starts at a widget point: a brush stroke, or a pan
 * (the middle button, the pan tool, a polygon tool, or Space held). Returns FALSE, doing
 * nothing, for other buttons or without an image. The drag gesture calls these; so can tests. */
gboolean
rm_canvas_drag_begin (RmCanvas *self, guint button, double widget_x, double widget_y)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  if (self->image == NULL || (button != GDK_BUTTON_PRIMARY && button != GDK_BUTTON_MIDDLE))
    return FALSE;

  stop_animation (self);
  self->drag_button = button;
  self->stroke_origin_x = widget_x;
  self->stroke_origin_y = widget_y;
  if (button == GDK_BUTTON_PRIMARY && !self->space_held &&
      rm_canvas_stroke_begin (self, widget_x, widget_y))
    return TRUE;
  self->drag_origin_x = self->view.x;
  self->drag_origin_y = self->view.y;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), "grabbing");

  return TRUE;
}

/* The drag has moved by an offset from where it began (widget pixels). */
void
rm_canvas_drag_update (RmCanvas *self, double offset_x, double offset_y)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  if (self->drag_button == 0)
    return;
  if (self->painting)
    {
      self->pointer_x = self->stroke_origin_x + offset_x;
      self->pointer_y = self->stroke_origin_y + offset_y;
      rm_canvas_stroke_update (self, self->pointer_x, self->pointer_y);
      return;
    }
  rm_canvas_pan (self, self->drag_origin_x + offset_x - self->view.x,
                 self->drag_origin_y + offset_y - self->view.y);
}

/* The drag ends at an offset, at event @time with modifiers @state: the stroke is one undo
 * step; with a polygon tool, a drag that did not move (and not a Space pan) is a click. */
void
rm_canvas_drag_end (RmCanvas *self, double offset_x, double offset_y, guint32 time,
                    GdkModifierType state)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  if (self->drag_button == 0)
    return;
  if (self->painting)
    rm_canvas_stroke_end (self);
  else if (self->drag_button == GDK_BUTTON_PRIMARY && !self->space_held &&
           is_polygon_tool (self->tool) && hypot (offset_x, offset_y) <= CLICK_SLOP)
    /* a click (the image moved with the pointer, if at all: the point under it is the same) */
    rm_canvas_polygon_click (self, self->stroke_origin_x + offset_x,
                             self->stroke_origin_y + offset_y, time, state);
  self->drag_button = 0;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), idle_cursor (self));
}

gboolean
rm_canvas_get_space_held (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->space_held;
}

/* Whether Space is held: primary-button drags then pan, whatever the tool. The canvas's key
 * controller calls this (released also when the canvas loses the focus); so can tests. */
void
rm_canvas_set_space_held (RmCanvas *self, gboolean held)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  held = !!held;
  if (self->space_held == held)
    return;
  self->space_held = held;
  if (self->drag_button == 0)
    gtk_widget_set_cursor_from_name (GTK_WIDGET (self), idle_cursor (self));
  gtk_widget_queue_draw (GTK_WIDGET (self)); /* the brush outline */
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, RmCanvas *self)
{
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));

  if (!rm_canvas_drag_begin (self, button, x, y))
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
on_drag_update (GtkGestureDrag *gesture, double offset_x, double offset_y, RmCanvas *self)
{
  rm_canvas_drag_update (self, offset_x, offset_y);
}

static void
on_drag_end (GtkGestureDrag *gesture, double offset_x, double offset_y, RmCanvas *self)
{
  GtkEventController *controller = GTK_EVENT_CONTROLLER (gesture);

  rm_canvas_drag_end (self, offset_x, offset_y,
                      gtk_event_controller_get_current_event_time (controller),
                      gtk_event_controller_get_current_event_state (controller));
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, RmCanvas *self)
{
  if (keyval != GDK_KEY_space ||
      (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK | GDK_META_MASK)) != 0)
    return FALSE;
  rm_canvas_set_space_held (self, TRUE); /* key repeats too: nothing changes */

  return TRUE;
}

static void
on_key_released (GtkEventControllerKey *controller, guint keyval, guint keycode,
                 GdkModifierType state, RmCanvas *self)
{
  if (keyval == GDK_KEY_space)
    rm_canvas_set_space_held (self, FALSE);
}

static void
on_focus_leave (GtkEventControllerFocus *controller, RmCanvas *self)
{
  rm_canvas_set_space_held (self, FALSE); /* its release goes elsewhere */
}

static void
on_drag_cancel (GtkGesture *gesture, GdkEventSequence *sequence, RmCanvas *self)
{
  if (self->painting)
    rm_canvas_stroke_end (self);
  self->drag_button = 0;
}

static gboolean
on_scroll (GtkEventControllerScroll *controller, double dx, double dy, RmCanvas *self)
{
  GdkModifierType state;
  GdkScrollUnit unit;
  double x, y;

  if (self->image == NULL)
    return FALSE;

  unit = gtk_event_controller_scroll_get_unit (controller);
  state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (controller));
  anchor_point (self, TRUE, &x, &y);

  /* A mouse wheel zooms about the pointer; a touchpad pans, and zooms with Ctrl. */
  if (unit == GDK_SCROLL_UNIT_WHEEL)
    rm_canvas_zoom_at (self, rm_view_get_zoom (&self->view) * pow (RM_CANVAS_ZOOM_STEP, -dy), x, y,
                       TRUE);
  else if (state & GDK_CONTROL_MASK)
    rm_canvas_zoom_at (self, rm_view_get_zoom (&self->view) * exp (-dy * SMOOTH_ZOOM_FACTOR), x, y,
                       FALSE);
  else
    rm_canvas_pan (self, -dx, -dy);

  return TRUE;
}

static void
on_motion (GtkEventControllerMotion *controller, double x, double y, RmCanvas *self)
{
  self->pointer_x = x;
  self->pointer_y = y;
  self->pointer_inside = TRUE;
  if (can_paint (self) && (is_brush_tool (self->tool) || self->polygon->len > 0))
    gtk_widget_queue_draw (GTK_WIDGET (self)); /* the brush outline or the polygon's last edge */
}

static void
on_leave (GtkEventControllerMotion *controller, RmCanvas *self)
{
  self->pointer_inside = FALSE;
  if (can_paint (self))
    gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_pinch_begin (GtkGesture *gesture, GdkEventSequence *sequence, RmCanvas *self)
{
  self->pinch_start_zoom = rm_view_get_zoom (&self->view);
}

static void
on_pinch_scale_changed (GtkGestureZoom *gesture, double scale, RmCanvas *self)
{
  double x, y;

  if (!gtk_gesture_get_bounding_box_center (GTK_GESTURE (gesture), &x, &y))
    anchor_point (self, FALSE, &x, &y);
  rm_canvas_zoom_at (self, self->pinch_start_zoom * scale, x, y, FALSE);
}

static gboolean
pan_binding (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  RmCanvas *self = RM_CANVAS (widget);
  int dir_x, dir_y;

  g_variant_get (args, "(ii)", &dir_x, &dir_y);
  rm_canvas_pan (self, -dir_x * self->view.view_width * KEY_PAN_FRACTION,
                 -dir_y * self->view.view_height * KEY_PAN_FRACTION);

  return TRUE;
}

static void
zoom_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmCanvas *self = RM_CANVAS (widget);

  if (g_str_equal (action_name, "canvas.zoom-in"))
    rm_canvas_zoom_in (self);
  else if (g_str_equal (action_name, "canvas.zoom-out"))
    rm_canvas_zoom_out (self);
  else if (g_str_equal (action_name, "canvas.zoom-fit"))
    rm_canvas_zoom_fit (self);
  else if (g_str_equal (action_name, "canvas.zoom-1to1"))
    rm_canvas_zoom_1to1 (self);
  else
    g_assert_not_reached ();
}

static void
polygon_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmCanvas *self = RM_CANVAS (widget);

  if (g_str_equal (action_name, "canvas.polygon-close"))
    rm_canvas_polygon_close (self);
  else if (g_str_equal (action_name, "canvas.polygon-remove-point"))
    rm_canvas_polygon_remove_point (self);
  else
    g_assert_not_reached ();
}

/* ---- GtkWidget --------------------------------------------------------------------------- */

static void
rm_canvas_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                   int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = 64;
  *natural = 480;
}

static void
rm_canvas_size_allocate (GtkWidget *widget, int width, int height, int baseline)
{
  RmCanvas *self = RM_CANVAS (widget);
  double old_zoom = rm_view_get_zoom (&self->view);

  self->view.pixel_scale = 1.0 / gtk_widget_get_scale_factor (widget);
  rm_view_set_view_size (&self->view, width, height);
  if (self->fit)
    rm_view_fit (&self->view);
  stop_animation (self);

  if (old_zoom != rm_view_get_zoom (&self->view))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
}

static double
snap (double v, double scale_factor)
{
  return round (v * scale_factor) / scale_factor;
}

static void
snapshot_prior (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v, int scale_factor)
{
  GdkTexture *texture = rm_canvas_get_show_prior (self) && self->candidate != NULL
                            ? rm_candidate_get_prior_texture (self->candidate)
                            : NULL;
  double left, top, right, bottom;

  if (texture == NULL)
    return;

  left = snap (v->x, scale_factor);
  top = snap (v->y, scale_factor);
  right = snap (v->x + v->image_width * v->scale, scale_factor);
  bottom = snap (v->y + v->image_height * v->scale, scale_factor);
  gtk_snapshot_push_opacity (snapshot, MAX (self->overlay_opacity, 0.35));
  gtk_snapshot_append_texture (snapshot, texture,
                               &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
  gtk_snapshot_pop (snapshot);
  self->prior_drawn = TRUE;
}

static void
snapshot_annotations (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v, int scale_factor)
{
  guint n = self->annotations != NULL ? g_list_model_get_n_items (self->annotations) : 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (self->annotations, i);
      GBytes *mask;
      AnnotationOverlay *entry;

      /* only what is drawn is decoded (rm_annotation_get_mask () decodes on first use) */
      if (rm_annotation_get_status (annotation) != RM_ANNOTATION_STATUS_ACCEPTED ||
          rm_annotation_get_area (annotation) == 0 ||
          rm_annotation_get_width (annotation) != (int) v->image_width ||
          rm_annotation_get_height (annotation) != (int) v->image_height)
        continue;
      mask = rm_annotation_get_mask (annotation);

      entry = g_hash_table_lookup (self->annotation_overlays, annotation);
      if (entry == NULL || entry->mask != mask)
        {
          entry = g_new0 (AnnotationOverlay, 1);
          entry->mask = g_bytes_ref (mask);
          entry->overlay = rm_mask_overlay_new (rm_annotation_get_width (annotation),
                                                rm_annotation_get_height (annotation));
          g_hash_table_replace (self->annotation_overlays, g_object_ref (annotation), entry);
        }
      rm_mask_overlay_set_style (entry->overlay,
                                 &annotation_colours[i % G_N_ELEMENTS (annotation_colours)],
                                 self->overlay_opacity);
      self->n_drawn_overlay_tiles += rm_mask_overlay_snapshot (
          entry->overlay, snapshot, g_bytes_get_data (mask, NULL), v, scale_factor);
    }
}

/* The brush's footprint around the pointer: a light ring inside a dark one. */
static void
snapshot_brush (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v)
{
  float r = (float) MAX (self->brush_size * v->scale / 2, 2.0);
  float cx = (float) self->pointer_x, cy = (float) self->pointer_y;
  GskRoundedRect ring;
  const GdkRGBA dark[4] = {
    { 0, 0, 0, 0.6f }, { 0, 0, 0, 0.6f }, { 0, 0, 0, 0.6f }, { 0, 0, 0, 0.6f }
  };
  GdkRGBA light = self->tool == RM_CANVAS_TOOL_ERASER ? (GdkRGBA){ 1.0f, 0.45f, 0.45f, 1.0f }
                                                      : (GdkRGBA){ 1.0f, 1.0f, 1.0f, 1.0f };
  const GdkRGBA lights[4] = { light, light, light, light };

  if (!self->pointer_inside && !self->painting)
    return;

  gsk_rounded_rect_init_from_rect (
      &ring, &GRAPHENE_RECT_INIT (cx - r - 1, cy - r - 1, 2 * r + 2, 2 * r + 2), r + 1);
  gtk_snapshot_append_border (snapshot, &ring, (const float[4]){ 1, 1, 1, 1 }, dark);
  gsk_rounded_rect_init_from_rect (&ring, &GRAPHENE_RECT_INIT (cx - r, cy - r, 2 * r, 2 * r), r);
  gtk_snapshot_append_border (snapshot, &ring, (const float[4]){ 1.5f, 1.5f, 1.5f, 1.5f }, lights);
}

/* The annotation selected in the panel, over the others, in the highlight colour. */
static void
snapshot_highlight (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v, int scale_factor)
{
  RmAnnotation *annotation = self->highlight;
  GBytes *mask;

  if (annotation == NULL || rm_annotation_get_area (annotation) == 0 ||
      rm_annotation_get_width (annotation) != (int) v->image_width ||
      rm_annotation_get_height (annotation) != (int) v->image_height)
    return;
  /* being corrected: the candidate shows it */
  if (self->candidate != NULL && rm_candidate_get_origin (self->candidate) == annotation)
    return;
  mask = rm_annotation_get_mask (annotation);

  if (self->highlight_overlay == NULL || self->highlight_mask != mask)
    {
      g_clear_pointer (&self->highlight_overlay, rm_mask_overlay_free);
      g_clear_pointer (&self->highlight_mask, g_bytes_unref);
      self->highlight_mask = g_bytes_ref (mask);
      self->highlight_overlay = rm_mask_overlay_new (rm_annotation_get_width (annotation),
                                                     rm_annotation_get_height (annotation));
    }
  rm_mask_overlay_set_style (self->highlight_overlay, &highlight_colour,
                             MAX (self->overlay_opacity, 0.3));
  self->n_drawn_overlay_tiles += rm_mask_overlay_snapshot (
      self->highlight_overlay, snapshot, g_bytes_get_data (mask, NULL), v, scale_factor);
  self->highlight_drawn = TRUE;
}

/* The polygon being drawn: its edges so far, the edge to the pointer, a light fill, and the
 * vertices. */
static void
snapshot_polygon (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v)
{
  const double *xy = (const double *) (void *) self->polygon->data;
  guint n = self->polygon->len / 2;
  const GdkRGBA *colour =
      rm_canvas_get_polygon_subtracts (self) ? &polygon_erase_colour : &polygon_add_colour;
  cairo_t *cr;

  if (n == 0)
    return;

  cr = gtk_snapshot_append_cairo (
      snapshot, &GRAPHENE_RECT_INIT (0, 0, (float) v->view_width, (float) v->view_height));
  for (guint i = 0; i < n; i++)
    {
      double wx, wy;

      rm_view_image_to_widget (v, xy[2 * i], xy[2 * i + 1], &wx, &wy);
      if (i == 0)
        cairo_move_to (cr, wx, wy);
      else
        cairo_line_to (cr, wx, wy);
    }
  if (self->pointer_inside)
    cairo_line_to (cr, self->pointer_x, self->pointer_y);
  cairo_close_path (cr);
  cairo_set_fill_rule (cr, CAIRO_FILL_RULE_EVEN_ODD);
  cairo_set_source_rgba (cr, colour->red, colour->green, colour->blue, 0.2);
  cairo_fill_preserve (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.6);
  cairo_set_line_width (cr, 3.5);
  cairo_stroke_preserve (cr);
  cairo_set_source_rgba (cr, colour->red, colour->green, colour->blue, 1.0);
  cairo_set_line_width (cr, 1.5);
  cairo_stroke (cr);

  for (guint i = 0; i < n; i++)
    {
      double wx, wy;

      rm_view_image_to_widget (v, xy[2 * i], xy[2 * i + 1], &wx, &wy);
      cairo_arc (cr, wx, wy, i == 0 ? 4.5 : 3.0, 0, 2 * G_PI);
      cairo_set_source_rgba (cr, 0, 0, 0, 0.7);
      cairo_fill_preserve (cr);
      cairo_set_source_rgba (cr, colour->red, colour->green, colour->blue, 1.0);
      cairo_set_line_width (cr, 1.5);
      cairo_stroke (cr);
    }
  cairo_destroy (cr);
}

static void
snapshot_overlays (RmCanvas *self, GtkSnapshot *snapshot, const RmView *v, int scale_factor)
{
  self->prior_drawn = FALSE;
  self->highlight_drawn = FALSE;
  self->n_drawn_overlay_tiles = 0;

  snapshot_prior (self, snapshot, v, scale_factor);
  snapshot_annotations (self, snapshot, v, scale_factor);
  snapshot_highlight (self, snapshot, v, scale_factor);

  if (self->candidate_overlay != NULL)
    {
      rm_mask_overlay_set_style (self->candidate_overlay, &self->candidate_colour,
                                 self->overlay_opacity);
      self->n_drawn_overlay_tiles +=
          rm_mask_overlay_snapshot (self->candidate_overlay, snapshot,
                                    rm_candidate_get_mask (self->candidate), v, scale_factor);
    }

  if (can_paint (self) && is_brush_tool (self->tool) && !self->space_held)
    snapshot_brush (self, snapshot, v);
  if (can_paint (self))
    snapshot_polygon (self, snapshot, v);
}

/* Draws only the tiles that intersect the view, from the coarsest level that still has a texel
 * per device pixel. Tile edges are snapped to device pixels so neighbours meet without seams. */
static void
rm_canvas_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  RmCanvas *self = RM_CANVAS (widget);
  const RmView *v = &self->shown;
  int scale_factor = gtk_widget_get_scale_factor (widget);
  double x0, y0, x1, y1, sx, sy;
  int level_width, level_height, n_columns, n_rows, c0, c1, r0, r1;
  guint level;

  self->n_drawn_tiles = 0;
  if (self->image == NULL || !rm_view_get_visible_region (v, &x0, &y0, &x1, &y1))
    return;

  level = rm_image_pyramid_choose_level (self->image, v->scale * scale_factor);
  rm_image_pyramid_get_level_size (self->image, level, &level_width, &level_height);
  rm_image_pyramid_get_tile_grid (self->image, level, &n_columns, &n_rows);
  sx = (double) level_width / v->image_width;
  sy = (double) level_height / v->image_height;

  {
    int tile_size = rm_image_pyramid_get_tile_size (self->image);

    c0 = CLAMP ((int) floor (x0 * sx / tile_size), 0, n_columns - 1);
    c1 = CLAMP ((int) ceil (x1 * sx / tile_size), 1, n_columns);
    r0 = CLAMP ((int) floor (y0 * sy / tile_size), 0, n_rows - 1);
    r1 = CLAMP ((int) ceil (y1 * sy / tile_size), 1, n_rows);
  }

  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget),
                                                         gtk_widget_get_height (widget)));
  for (int r = r0; r < r1; r++)
    for (int c = c0; c < c1; c++)
      {
        const RmImageTile *tile = rm_image_pyramid_get_tile (self->image, level, c, r);
        double left = snap (v->x + tile->x / sx * v->scale, scale_factor);
        double top = snap (v->y + tile->y / sy * v->scale, scale_factor);
        double right = snap (v->x + (tile->x + tile->width) / sx * v->scale, scale_factor);
        double bottom = snap (v->y + (tile->y + tile->height) / sy * v->scale, scale_factor);

        if (right <= left || bottom <= top)
          continue;

#if GTK_CHECK_VERSION(4, 10, 0)
        gtk_snapshot_append_scaled_texture (
            snapshot, tile->texture,
            v->scale * scale_factor >= 3.0 ? GSK_SCALING_FILTER_NEAREST : GSK_SCALING_FILTER_LINEAR,
            &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
#else
        gtk_snapshot_append_texture (snapshot, tile->texture,
                                     &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
#endif
        self->n_drawn_tiles++;
      }
  snapshot_overlays (self, snapshot, v, scale_factor);
  gtk_snapshot_pop (snapshot);

  self->drawn_level = level;
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
rm_canvas_dispose (GObject *object)
{
  RmCanvas *self = (RmCanvas *) object;

  if (self->tick_id != 0)
    {
      gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
      self->tick_id = 0;
    }
  g_clear_object (&self->image);
  rm_canvas_set_candidate (self, NULL);
  rm_canvas_set_annotations (self, NULL);
  rm_canvas_set_highlight (self, NULL);
  g_clear_pointer (&self->polygon, g_array_unref);
  g_clear_pointer (&self->annotation_overlays, g_hash_table_unref);
  g_clear_pointer (&self->candidate_colour_string, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_CANVAS);

  G_OBJECT_CLASS (rm_canvas_parent_class)->dispose (object);
}

static void
rm_canvas_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmCanvas *self = RM_CANVAS (object);

  switch (prop_id)
    {
    case PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case PROP_ZOOM:
      g_value_set_double (value, rm_canvas_get_zoom (self));
      break;
    case PROP_FIT:
      g_value_set_boolean (value, self->fit);
      break;
    case PROP_SHOW_PRIOR:
      g_value_set_boolean (value, self->show_prior);
      break;
    case PROP_OVERLAY_OPACITY:
      g_value_set_double (value, self->overlay_opacity);
      break;
    case PROP_CANDIDATE_COLOR:
      g_value_set_string (value, self->candidate_colour_string);
      break;
    case PROP_BRUSH_SIZE:
      g_value_set_double (value, self->brush_size);
      break;
    case PROP_POLYGON_POINTS:
      g_value_set_uint (value, rm_canvas_get_polygon_n_points (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_canvas_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmCanvas *self = RM_CANVAS (object);

  switch (prop_id)
    {
    case PROP_IMAGE:
      rm_canvas_set_image (self, g_value_get_object (value));
      break;
    case PROP_SHOW_PRIOR:
      rm_canvas_set_show_prior (self, g_value_get_boolean (value));
      break;
    case PROP_OVERLAY_OPACITY:
      rm_canvas_set_overlay_opacity (self, g_value_get_double (value));
      break;
    case PROP_CANDIDATE_COLOR:
      rm_canvas_set_candidate_color (self, g_value_get_string (value));
      break;
    case PROP_BRUSH_SIZE:
      rm_canvas_set_brush_size (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
add_zoom_binding (GtkWidgetClass *widget_class, guint keyval, const char *action)
{
  gtk_widget_class_add_binding_action (widget_class, keyval, 0, action, NULL);
}

static void
rm_canvas_class_init (RmCanvasClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rm_canvas_dispose;
  object_class->get_property = rm_canvas_get_property;
  object_class->set_property = rm_canvas_set_property;

  widget_class->measure = rm_canvas_measure;
  widget_class->size_allocate = rm_canvas_size_allocate;
  widget_class->snapshot = rm_canvas_snapshot;

  properties[PROP_IMAGE] =
      g_param_spec_object ("image", NULL, NULL, RM_TYPE_IMAGE_PYRAMID,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ZOOM] = g_param_spec_double ("zoom", NULL, NULL, 0, G_MAXDOUBLE, 1.0,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_FIT] =
      g_param_spec_boolean ("fit", NULL, NULL, TRUE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SHOW_PRIOR] =
      g_param_spec_boolean ("show-prior", NULL, NULL, FALSE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_OVERLAY_OPACITY] =
      g_param_spec_double ("overlay-opacity", NULL, NULL, 0, 1, 0.5,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The colour of the candidate mask, as gdk_rgba_parse () reads it ("#rrggbb"); alpha is
   * ignored (the opacity is overlay-opacity). */
  properties[PROP_CANDIDATE_COLOR] =
      g_param_spec_string ("candidate-color", NULL, NULL, DEFAULT_CANDIDATE_COLOUR,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BRUSH_SIZE] =
      g_param_spec_double ("brush-size", NULL, NULL, MIN_BRUSH_SIZE, MAX_BRUSH_SIZE, 24,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The vertices of the polygon being drawn (0: none is). */
  properties[PROP_POLYGON_POINTS] =
      g_param_spec_uint ("polygon-points", NULL, NULL, 0, G_MAXUINT, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class, RM_RESOURCE_PATH "/rm-canvas.ui");
  gtk_widget_class_bind_template_callback (widget_class, on_drag_begin);
  gtk_widget_class_bind_template_callback (widget_class, on_drag_update);
  gtk_widget_class_bind_template_callback (widget_class, on_drag_end);
  gtk_widget_class_bind_template_callback (widget_class, on_drag_cancel);
  gtk_widget_class_bind_template_callback (widget_class, on_scroll);
  gtk_widget_class_bind_template_callback (widget_class, on_motion);
  gtk_widget_class_bind_template_callback (widget_class, on_leave);
  gtk_widget_class_bind_template_callback (widget_class, on_pinch_begin);
  gtk_widget_class_bind_template_callback (widget_class, on_pinch_scale_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_key_pressed);
  gtk_widget_class_bind_template_callback (widget_class, on_key_released);
  gtk_widget_class_bind_template_callback (widget_class, on_focus_leave);

  gtk_widget_class_install_action (widget_class, "canvas.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "canvas.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "canvas.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "canvas.zoom-1to1", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "canvas.polygon-close", NULL, polygon_action);
  gtk_widget_class_install_action (widget_class, "canvas.polygon-remove-point", NULL,
                                   polygon_action);

  /* Unmodified keys only act while the canvas has the focus (so typing elsewhere is safe);
   * the Ctrl variants are application accelerators on the win.zoom-* actions. */
  add_zoom_binding (widget_class, GDK_KEY_plus, "canvas.zoom-in");
  add_zoom_binding (widget_class, GDK_KEY_equal, "canvas.zoom-in");
  add_zoom_binding (widget_class, GDK_KEY_KP_Add, "canvas.zoom-in");
  add_zoom_binding (widget_class, GDK_KEY_minus, "canvas.zoom-out");
  add_zoom_binding (widget_class, GDK_KEY_KP_Subtract, "canvas.zoom-out");
  add_zoom_binding (widget_class, GDK_KEY_0, "canvas.zoom-fit");
  add_zoom_binding (widget_class, GDK_KEY_KP_0, "canvas.zoom-fit");
  add_zoom_binding (widget_class, GDK_KEY_1, "canvas.zoom-1to1");
  add_zoom_binding (widget_class, GDK_KEY_KP_1, "canvas.zoom-1to1");
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Left, 0, pan_binding, "(ii)", -1, 0);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Right, 0, pan_binding, "(ii)", 1, 0);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Up, 0, pan_binding, "(ii)", 0, -1);
  gtk_widget_class_add_binding (widget_class, GDK_KEY_Down, 0, pan_binding, "(ii)", 0, 1);

  /* The editing tools, on the window's actions (rm-window-actions.c); single keys, so only
   * while the canvas has the focus. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_b, 0, "win.tool", "s", "brush");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_e, 0, "win.tool", "s", "eraser");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_h, 0, "win.tool", "s", "pan");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketleft, 0, "win.brush-smaller",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_bracketright, 0, "win.brush-larger",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, 0, "win.fill-holes", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_p, 0, "win.tool", "s", "polygon");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_P, GDK_SHIFT_MASK, "win.tool", "s",
                                       "polygon-erase");
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Return, 0, "canvas.polygon-close",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_KP_Enter, 0, "canvas.polygon-close",
                                       NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_BackSpace, 0,
                                       "canvas.polygon-remove-point", NULL);

  gtk_widget_class_set_css_name (widget_class, "rmcanvas");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
rm_canvas_init (RmCanvas *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  rm_view_init (&self->view);
  self->shown = self->view;
  self->fit = TRUE;
  self->overlay_opacity = 0.5;
  self->candidate_colour_string = g_strdup (DEFAULT_CANDIDATE_COLOUR);
  gdk_rgba_parse (&self->candidate_colour, DEFAULT_CANDIDATE_COLOUR);
  self->brush_size = 24;
  self->polygon = g_array_new (FALSE, FALSE, sizeof (double));
  self->annotation_overlays = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref,
                                                     annotation_overlay_free);
}

GtkWidget *
rm_canvas_new (void)
{
  return g_object_new (RM_TYPE_CANVAS, NULL);
}

RmImagePyramid *
rm_canvas_get_image (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), NULL);

  return self->image;
}

/* Shows @image (or nothing) fitted to the view. */
void
rm_canvas_set_image (RmCanvas *self, RmImagePyramid *image)
{
  RmView view;

  g_return_if_fail (RM_IS_CANVAS (self));
  g_return_if_fail (image == NULL || RM_IS_IMAGE_PYRAMID (image));

  if (!g_set_object (&self->image, image))
    return;

  rm_canvas_polygon_cancel (self);
  view = self->view;
  if (image != NULL)
    rm_view_set_image_size (&view, rm_image_pyramid_get_width (image),
                            rm_image_pyramid_get_height (image));
  else
    rm_view_set_image_size (&view, 0, 0);
  set_view (self, &view, TRUE, FALSE);

  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), idle_cursor (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE]);
}

const RmView *
rm_canvas_get_view (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), NULL);

  return &self->view;
}

/* Image pixels per device pixel (1.0 is 1:1) at the end of any running animation. */
double
rm_canvas_get_zoom (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 1.0);

  return rm_view_get_zoom (&self->view);
}

gboolean
rm_canvas_get_fit (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->fit;
}

gboolean
rm_canvas_is_animating (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->tick_id != 0;
}

void
rm_canvas_widget_to_image (RmCanvas *self, double widget_x, double widget_y, double *image_x,
                           double *image_y)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  rm_view_widget_to_image (&self->view, widget_x, widget_y, image_x, image_y);
}

/* The pyramid level and number of tiles of the last frame (for tests and profiling). */
guint
rm_canvas_get_drawn_level (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->drawn_level;
}

guint
rm_canvas_get_n_drawn_tiles (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->n_drawn_tiles;
}

/* ---- overlays and editing ---------------------------------------------------------------- */

RmCandidate *
rm_canvas_get_candidate (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), NULL);

  return self->candidate;
}

static void
on_candidate_mask_changed (RmCandidate *candidate, int x, int y, int width, int height,
                           RmCanvas *self)
{
  if (self->candidate_overlay != NULL)
    rm_mask_overlay_invalidate (self->candidate_overlay, &(RmMaskRect){ x, y, width, height });
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Shows @candidate's mask (and prior, when shown) over the image; brush and eraser edit it. */
void
rm_canvas_set_candidate (RmCanvas *self, RmCandidate *candidate)
{
  g_return_if_fail (RM_IS_CANVAS (self));
  g_return_if_fail (candidate == NULL || RM_IS_CANDIDATE (candidate));

  if (candidate == self->candidate)
    return;

  if (self->painting)
    rm_canvas_stroke_end (self);
  rm_canvas_polygon_cancel (self);
  if (self->candidate != NULL)
    g_signal_handlers_disconnect_by_func (self->candidate, on_candidate_mask_changed, self);
  if (self->candidate_overlay != NULL)
    self->n_old_uploads += rm_mask_overlay_get_n_uploads (self->candidate_overlay);
  g_clear_pointer (&self->candidate_overlay, rm_mask_overlay_free);
  g_set_object (&self->candidate, candidate);

  if (candidate != NULL)
    {
      self->candidate_overlay = rm_mask_overlay_new (rm_candidate_get_width (candidate),
                                                     rm_candidate_get_height (candidate));
      g_signal_connect (candidate, "mask-changed", G_CALLBACK (on_candidate_mask_changed), self);
    }

  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), idle_cursor (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

gboolean
rm_canvas_get_show_prior (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->show_prior;
}

/* Whether the candidate's prior is drawn as a heatmap under the masks. */
void
rm_canvas_set_show_prior (RmCanvas *self, gboolean show_prior)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  show_prior = !!show_prior;
  if (self->show_prior == show_prior)
    return;
  self->show_prior = show_prior;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_PRIOR]);
}

double
rm_canvas_get_overlay_opacity (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->overlay_opacity;
}

/* The opacity of mask fills (outlines: twice that) and of the prior heatmap. */
void
rm_canvas_set_overlay_opacity (RmCanvas *self, double opacity)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  opacity = CLAMP (opacity, 0, 1);
  if (self->overlay_opacity == opacity)
    return;
  self->overlay_opacity = opacity;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OVERLAY_OPACITY]);
}

const char *
rm_canvas_get_candidate_color (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), NULL);

  return self->candidate_colour_string;
}

/* The candidate mask's colour, as gdk_rgba_parse () reads it ("#rrggbb"; NULL: the default).
 * A string it cannot read is ignored with a warning. Its alpha is ignored. */
void
rm_canvas_set_candidate_color (RmCanvas *self, const char *color)
{
  GdkRGBA rgba;

  g_return_if_fail (RM_IS_CANVAS (self));

  if (color == NULL)
    color = DEFAULT_CANDIDATE_COLOUR;
  if (g_strcmp0 (self->candidate_colour_string, color) == 0)
    return;
  if (!gdk_rgba_parse (&rgba, color))
    {
      g_warning ("Not a colour: “%s”", color);
      return;
    }
  rgba.alpha = 1.0f;
  self->candidate_colour = rgba;
  g_free (self->candidate_colour_string);
  self->candidate_colour_string = g_strdup (color);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CANDIDATE_COLOR]);
}

RmCanvasTool
rm_canvas_get_tool (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), RM_CANVAS_TOOL_PAN);

  return self->tool;
}

/* What a primary-button drag does: pan, or paint or erase the candidate. The middle button
 * always pans. */
void
rm_canvas_set_tool (RmCanvas *self, RmCanvasTool tool)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  if (self->tool == tool)
    return;
  if (self->painting)
    rm_canvas_stroke_end (self);
  /* between the two polygon tools the polygon stays: only its mode changes */
  if (!is_polygon_tool (tool))
    rm_canvas_polygon_cancel (self);
  self->tool = tool;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), idle_cursor (self));
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
rm_canvas_get_brush_size (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->brush_size;
}

/* The diameter of the brush and the eraser, in image pixels. */
void
rm_canvas_set_brush_size (RmCanvas *self, double size)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  size = CLAMP (size, MIN_BRUSH_SIZE, MAX_BRUSH_SIZE);
  if (self->brush_size == size)
    return;
  self->brush_size = size;
  if (can_paint (self))
    gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BRUSH_SIZE]);
}

static void
on_annotations_changed (GListModel *model, guint position, guint removed, guint added,
                        RmCanvas *self)
{
  GHashTableIter iter;
  gpointer key;
  g_autoptr (GHashTable) present = g_hash_table_new (g_direct_hash, g_direct_equal);

  /* forget the overlays of annotations that left */
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr (GObject) item = g_list_model_get_item (model, i);

      g_hash_table_add (present, item);
    }
  g_hash_table_iter_init (&iter, self->annotation_overlays);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (present, key))
      g_hash_table_iter_remove (&iter);

  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The annotations to draw (a GListModel of RmAnnotation; the accepted ones of the image's size
 * are drawn, in colours by position). */
void
rm_canvas_set_annotations (RmCanvas *self, GListModel *annotations)
{
  g_return_if_fail (RM_IS_CANVAS (self));
  g_return_if_fail (annotations == NULL || G_IS_LIST_MODEL (annotations));

  if (self->annotations == annotations)
    return;
  if (self->annotations != NULL)
    g_signal_handlers_disconnect_by_func (self->annotations, on_annotations_changed, self);
  g_set_object (&self->annotations, annotations);
  if (self->annotation_overlays != NULL)
    g_hash_table_remove_all (self->annotation_overlays);
  if (annotations != NULL)
    g_signal_connect (annotations, "items-changed", G_CALLBACK (on_annotations_changed), self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Starts painting (brush) or erasing at a widget point, when the tool is one of those and
 * there is a candidate for the image. Returns whether a stroke started. The drag gesture
 * calls these; so can tests. */
gboolean
rm_canvas_stroke_begin (RmCanvas *self, double widget_x, double widget_y)
{
  double x, y;

  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  if (!can_paint (self) || !is_brush_tool (self->tool))
    return FALSE;

  if (self->painting)
    rm_canvas_stroke_end (self);
  rm_view_widget_to_image (&self->shown, widget_x, widget_y, &x, &y);
  self->painting = TRUE;
  rm_candidate_begin_stroke (self->candidate, self->tool == RM_CANVAS_TOOL_BRUSH, self->brush_size,
                             x, y);

  return TRUE;
}

void
rm_canvas_stroke_update (RmCanvas *self, double widget_x, double widget_y)
{
  double x, y;

  g_return_if_fail (RM_IS_CANVAS (self));

  if (!self->painting)
    return;
  rm_view_widget_to_image (&self->shown, widget_x, widget_y, &x, &y);
  rm_candidate_stroke_to (self->candidate, x, y);
}

/* Ends the stroke: one step of the candidate's undo history. */
void
rm_canvas_stroke_end (RmCanvas *self)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  if (!self->painting)
    return;
  self->painting = FALSE;
  if (self->candidate != NULL)
    rm_candidate_end_stroke (self->candidate);
}

/* Overlay tile textures made since the canvas was created (for tests and profiling). */
guint
rm_canvas_get_n_overlay_uploads (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->n_old_uploads + (self->candidate_overlay != NULL
                                    ? rm_mask_overlay_get_n_uploads (self->candidate_overlay)
                                    : 0);
}

/* Mask overlay tiles in the last frame. */
guint
rm_canvas_get_n_drawn_overlay_tiles (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->n_drawn_overlay_tiles;
}

/* Whether the last frame drew the prior heatmap. */
gboolean
rm_canvas_get_prior_drawn (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->prior_drawn;
}

/* ---- polygons ---------------------------------------------------------------------------- */

static void
polygon_changed (RmCanvas *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POLYGON_POINTS]);
}

/* Adds a vertex at a widget point to the polygon being drawn (starting one), when a polygon
 * tool is chosen and there is a candidate for the image. A vertex on the last one is not added.
 * Returns whether the point was taken. */
gboolean
rm_canvas_polygon_add_point (RmCanvas *self, double widget_x, double widget_y)
{
  double xy[2];
  guint n;

  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  if (!can_paint (self) || !is_polygon_tool (self->tool))
    return FALSE;

  rm_view_widget_to_image (&self->shown, widget_x, widget_y, &xy[0], &xy[1]);
  n = self->polygon->len;
  if (n >= 2)
    {
      double lx, ly;

      rm_view_image_to_widget (&self->shown, g_array_index (self->polygon, double, n - 2),
                               g_array_index (self->polygon, double, n - 1), &lx, &ly);
      if (hypot (lx - widget_x, ly - widget_y) < 1.0)
        return TRUE;
    }
  g_array_append_vals (self->polygon, xy, 2);
  polygon_changed (self);

  return TRUE;
}

/* Takes the last vertex back; FALSE if there was none. */
gboolean
rm_canvas_polygon_remove_point (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  if (self->polygon == NULL || self->polygon->len == 0)
    return FALSE;
  g_array_set_size (self->polygon, self->polygon->len - 2);
  polygon_changed (self);

  return TRUE;
}

/* Drops the polygon being drawn. */
void
rm_canvas_polygon_cancel (RmCanvas *self)
{
  g_return_if_fail (RM_IS_CANVAS (self));

  if (self->polygon == NULL || self->polygon->len == 0)
    return;
  g_array_set_size (self->polygon, 0);
  self->polygon_inverted = FALSE;
  polygon_changed (self);
}

/* Closes the polygon: with 3 vertices or more, its inside is added to (or removed from) the
 * candidate's mask as one undo step. The polygon is gone either way. Returns whether the mask
 * changed. */
gboolean
rm_canvas_polygon_close (RmCanvas *self)
{
  g_autoptr (GArray) polygon = NULL;
  gboolean paint;

  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  if (self->polygon == NULL || self->polygon->len == 0)
    return FALSE;

  paint = !rm_canvas_get_polygon_subtracts (self);
  polygon = g_steal_pointer (&self->polygon);
  self->polygon = g_array_new (FALSE, FALSE, sizeof (double));
  self->polygon_inverted = FALSE;
  polygon_changed (self);

  if (polygon->len < 6 || self->candidate == NULL || !can_paint (self))
    return FALSE;

  return rm_candidate_fill_polygon (self->candidate, (const double *) (void *) polygon->data,
                                    polygon->len / 2, paint);
}

guint
rm_canvas_get_polygon_n_points (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), 0);

  return self->polygon != NULL ? self->polygon->len / 2 : 0;
}

/* Whether the polygon (being drawn, or the next one) removes from the mask. */
gboolean
rm_canvas_get_polygon_subtracts (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return (self->tool == RM_CANVAS_TOOL_POLYGON_ERASE) != self->polygon_inverted;
}

/* A click with a polygon tool at a widget point, at event @time with modifiers @state: a
 * vertex, or with a second click on the last vertex within the double-click time, the end of
 * the polygon. Ctrl on the first vertex inverts the tool's mode for this polygon. The canvas's
 * gestures call this; so can tests. */
void
rm_canvas_polygon_click (RmCanvas *self, double widget_x, double widget_y, guint32 time,
                         GdkModifierType state)
{
  int double_click_time = 400, double_click_distance = 5;

  g_return_if_fail (RM_IS_CANVAS (self));

  g_object_get (gtk_widget_get_settings (GTK_WIDGET (self)), "gtk-double-click-time",
                &double_click_time, "gtk-double-click-distance", &double_click_distance, NULL);
  if (self->polygon->len > 0 && time - self->last_click_time <= (guint32) double_click_time &&
      hypot (widget_x - self->last_click_x, widget_y - self->last_click_y) <= double_click_distance)
    {
      rm_canvas_polygon_close (self);
      self->last_click_time = 0;
      return;
    }

  if (self->polygon->len == 0)
    self->polygon_inverted = (state & GDK_CONTROL_MASK) != 0;
  if (rm_canvas_polygon_add_point (self, widget_x, widget_y))
    {
      self->last_click_time = time;
      self->last_click_x = widget_x;
      self->last_click_y = widget_y;
    }
}

/* ---- the highlighted annotation ---------------------------------------------------------- */

RmAnnotation *
rm_canvas_get_highlight (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), NULL);

  return self->highlight;
}

static void
on_highlight_notify (RmAnnotation *annotation, GParamSpec *pspec, RmCanvas *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Draws @annotation's mask (any status) over the other annotations in the highlight colour, or
 * none with NULL: the annotation selected in the panel. */
void
rm_canvas_set_highlight (RmCanvas *self, RmAnnotation *annotation)
{
  g_return_if_fail (RM_IS_CANVAS (self));
  g_return_if_fail (annotation == NULL || RM_IS_ANNOTATION (annotation));

  if (self->highlight == annotation)
    return;
  if (self->highlight != NULL)
    g_signal_handlers_disconnect_by_func (self->highlight, on_highlight_notify, self);
  g_set_object (&self->highlight, annotation);
  g_clear_pointer (&self->highlight_overlay, rm_mask_overlay_free);
  g_clear_pointer (&self->highlight_mask, g_bytes_unref);
  if (annotation != NULL)
    g_signal_connect (annotation, "notify::mask", G_CALLBACK (on_highlight_notify), self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Whether the last frame drew the highlighted annotation. */
gboolean
rm_canvas_get_highlight_drawn (RmCanvas *self)
{
  g_return_val_if_fail (RM_IS_CANVAS (self), FALSE);

  return self->highlight_drawn;
}
