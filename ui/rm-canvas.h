/* rm-canvas.h: the image canvas (zoom, pan, tiled drawing)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"
#include "rm-view.h"

G_BEGIN_DECLS

#define RM_CANVAS_ZOOM_STEP 1.25

/* What a primary-button drag does. */
typedef enum
{
  RM_CANVAS_TOOL_PAN,
  RM_CANVAS_TOOL_BRUSH,
  RM_CANVAS_TOOL_ERASER,
  RM_CANVAS_TOOL_POLYGON,       /* clicks add vertices; the closed polygon adds to the mask */
  RM_CANVAS_TOOL_POLYGON_ERASE, /* … or removes from it */
} RmCanvasTool;

#define RM_TYPE_CANVAS (rm_canvas_get_type ())

G_DECLARE_FINAL_TYPE (RmCanvas, rm_canvas, RM, CANVAS, GtkWidget)

GtkWidget *rm_canvas_new (void);
RmImagePyramid *rm_canvas_get_image (RmCanvas *self);
void rm_canvas_set_image (RmCanvas *self, RmImagePyramid *image);
const RmView *rm_canvas_get_view (RmCanvas *self);
double rm_canvas_get_zoom (RmCanvas *self);
gboolean rm_canvas_get_fit (RmCanvas *self);
gboolean rm_canvas_is_animating (RmCanvas *self);
void rm_canvas_zoom_in (RmCanvas *self);
void rm_canvas_zoom_out (RmCanvas *self);
void rm_canvas_zoom_fit (RmCanvas *self);
void rm_canvas_zoom_1to1 (RmCanvas *self);
void rm_canvas_zoom_at (RmCanvas *self, double zoom, double widget_x, double widget_y,
                        gboolean animate);
void rm_canvas_pan (RmCanvas *self, double dx, double dy);
void rm_canvas_widget_to_image (RmCanvas *self, double widget_x, double widget_y, double *image_x,
                                double *image_y);
guint rm_canvas_get_drawn_level (RmCanvas *self);
guint rm_canvas_get_n_drawn_tiles (RmCanvas *self);

RmCandidate *rm_canvas_get_candidate (RmCanvas *self);
void rm_canvas_set_candidate (RmCanvas *self, RmCandidate *candidate);
gboolean rm_canvas_get_show_prior (RmCanvas *self);
void rm_canvas_set_show_prior (RmCanvas *self, gboolean show_prior);
double rm_canvas_get_overlay_opacity (RmCanvas *self);
void rm_canvas_set_overlay_opacity (RmCanvas *self, double opacity);
const char *rm_canvas_get_candidate_color (RmCanvas *self);
void rm_canvas_set_candidate_color (RmCanvas *self, const char *color);
RmCanvasTool rm_canvas_get_tool (RmCanvas *self);
void rm_canvas_set_tool (RmCanvas *self, RmCanvasTool tool);
double rm_canvas_get_brush_size (RmCanvas *self);
void rm_canvas_set_brush_size (RmCanvas *self, double size);
void rm_canvas_set_annotations (RmCanvas *self, GListModel *annotations);

gboolean rm_canvas_drag_begin (RmCanvas *self, guint button, double widget_x, double widget_y);
void rm_canvas_drag_update (RmCanvas *self, double offset_x, double offset_y);
void rm_canvas_drag_end (RmCanvas *self, double offset_x, double offset_y, guint32 time,
                         GdkModifierType state);
gboolean rm_canvas_get_space_held (RmCanvas *self);
void rm_canvas_set_space_held (RmCanvas *self, gboolean held);

gboolean rm_canvas_stroke_begin (RmCanvas *self, double widget_x, double widget_y);
void rm_canvas_stroke_update (RmCanvas *self, double widget_x, double widget_y);
void rm_canvas_stroke_end (RmCanvas *self);

gboolean rm_canvas_polygon_add_point (RmCanvas *self, double widget_x, double widget_y);
gboolean rm_canvas_polygon_remove_point (RmCanvas *self);
gboolean rm_canvas_polygon_close (RmCanvas *self);
void rm_canvas_polygon_cancel (RmCanvas *self);
guint rm_canvas_get_polygon_n_points (RmCanvas *self);
gboolean rm_canvas_get_polygon_subtracts (RmCanvas *self);
void rm_canvas_polygon_click (RmCanvas *self, double widget_x, double widget_y, guint32 time,
                              GdkModifierType state);

RmAnnotation *rm_canvas_get_highlight (RmCanvas *self);
void rm_canvas_set_highlight (RmCanvas *self, RmAnnotation *annotation);
gboolean rm_canvas_get_highlight_drawn (RmCanvas *self);

guint rm_canvas_get_n_overlay_uploads (RmCanvas *self);
guint rm_canvas_get_n_drawn_overlay_tiles (RmCanvas *self);
gboolean rm_canvas_get_prior_drawn (RmCanvas *self);

G_END_DECLS
