/* rm-loss-curve.c: the training loss, drawn as it comes
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A small chart for the fine-tune dialog: the loss of each optimizer step as a thin line, its
 * exponential moving average as a thick one, over the steps of the run (the x axis spans the
 * planned steps, so the curve grows to the right), with the loss range on the y axis. Drawn
 * with cairo into the snapshot; colours follow the theme's foreground and accent.
 */

#include "rm-loss-curve.h"

#include <glib/gi18n.h>
#include <math.h>

#define SMOOTHING     0.6 /* weight of the previous average */
#define MARGIN_LEFT   44.0
#define MARGIN_RIGHT  10.0
#define MARGIN_TOP    22.0
#define MARGIN_BOTTOM 20.0

typedef struct
{
  double step;
  double loss;
  double smoothed;
} Point;

struct _RmLossCurve
{
  GtkWidget parent_instance;

  GArray *points; /* of Point */
  double total_steps;
  guint n_drawn; /* points in the last frame */
};

G_DEFINE_FINAL_TYPE (RmLossCurve, rm_loss_curve, GTK_TYPE_WIDGET)

static void
get_colours (RmLossCurve *self, GdkRGBA *foreground, GdkRGBA *accent)
{
  GtkStyleContext *context;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  context = gtk_widget_get_style_context (GTK_WIDGET (self));
  gtk_style_context_get_color (context, foreground);
  if (!gtk_style_context_lookup_color (context, "accent_color", accent) &&
      !gtk_style_context_lookup_color (context, "theme_selected_bg_color", accent))
    *accent = (GdkRGBA){ 0.21f, 0.52f, 0.89f, 1.0f };
  G_GNUC_END_IGNORE_DEPRECATIONS
}

static void
show_text (GtkWidget *widget, cairo_t *cr, const char *text, double x, double y, double align_x,
           double align_y)
{
  g_autoptr (PangoLayout) layout = gtk_widget_create_pango_layout (widget, text);
  int width, height;

  pango_layout_get_pixel_size (layout, &width, &height);
  cairo_move_to (cr, x - width * align_x, y - height * align_y);
  pango_cairo_show_layout (cr, layout);
}

static char *
format_loss (double value)
{
  return g_strdup_printf (fabs (value) >= 10 ? "%.1f" : "%.2f", value);
}

static void
rm_loss_curve_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  RmLossCurve *self = RM_LOSS_CURVE (widget);
  double width = gtk_widget_get_width (widget);
  double height = gtk_widget_get_height (widget);
  double x0 = MARGIN_LEFT, x1 = width - MARGIN_RIGHT;
  double y0 = MARGIN_TOP, y1 = height - MARGIN_BOTTOM;
  double lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE, max_step;
  GdkRGBA fg, accent;
  cairo_t *cr;

  self->n_drawn = 0;
  if (x1 - x0 < 20 || y1 - y0 < 20)
    return;

  get_colours (self, &fg, &accent);
  cr = gtk_snapshot_append_cairo (snapshot,
                                  &GRAPHENE_RECT_INIT (0, 0, (float) width, (float) height));

  /* the frame and the title */
  cairo_set_line_width (cr, 1);
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.25);
  cairo_rectangle (cr, x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
  cairo_stroke (cr);
  cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.7);
  show_text (widget, cr, _ ("Loss"), x0, y0 - 3, 0, 1);

  if (self->points->len == 0)
    {
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.55);
      show_text (widget, cr, _ ("The loss is drawn here as the model trains."), (x0 + x1) / 2,
                 (y0 + y1) / 2, 0.5, 0.5);
      cairo_destroy (cr);
      return;
    }

  max_step = self->total_steps;
  for (guint i = 0; i < self->points->len; i++)
    {
      const Point *p = &g_array_index (self->points, Point, i);

      lo = MIN (lo, MIN (p->loss, p->smoothed));
      hi = MAX (hi, MAX (p->loss, p->smoothed));
      max_step = MAX (max_step, p->step);
    }
  if (hi - lo < 1e-6)
    {
      lo -= 0.5;
      hi += 0.5;
    }
  else
    {
      double pad = (hi - lo) * 0.08;

      lo = MAX (lo - pad, lo >= 0 ? 0 : -G_MAXDOUBLE);
      hi += pad;
    }
  max_step = MAX (max_step, 1);

  /* grid and axis labels */
  for (int k = 0; k <= 2; k++)
    {
      double value = lo + (hi - lo) * k / 2;
      double y = round (y1 - (y1 - y0) * k / 2) + 0.5;
      g_autofree char *label = format_loss (value);

      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.12);
      cairo_move_to (cr, x0, y);
      cairo_line_to (cr, x1, y);
      cairo_stroke (cr);
      cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.6);
      show_text (widget, cr, label, x0 - 5, y, 1, 0.5);
    }
  {
    g_autofree char *last = g_strdup_printf ("%.0f", max_step);

    cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.6);
    show_text (widget, cr, "0", x0, y1 + 2, 0, 0);
    show_text (widget, cr, last, x1, y1 + 2, 1, 0);
    /* Translators: the x axis of the loss curve */
    show_text (widget, cr, _ ("steps"), (x0 + x1) / 2, y1 + 2, 0.5, 0);
  }

  cairo_save (cr);
  cairo_rectangle (cr, x0, y0, x1 - x0, y1 - y0);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  for (int pass = 0; pass < 2; pass++)
    {
      for (guint i = 0; i < self->points->len; i++)
        {
          const Point *p = &g_array_index (self->points, Point, i);
          double x = x0 + (x1 - x0) * p->step / max_step;
          double y = y1 - (y1 - y0) * ((pass == 0 ? p->loss : p->smoothed) - lo) / (hi - lo);

          if (i == 0)
            cairo_move_to (cr, x, y);
          else
            cairo_line_to (cr, x, y);
          if (self->points->len == 1)
            cairo_arc (cr, x, y, pass == 0 ? 2.0 : 3.0, 0, 2 * G_PI);
        }
      if (pass == 0)
        {
          cairo_set_source_rgba (cr, fg.red, fg.green, fg.blue, 0.35);
          cairo_set_line_width (cr, 1.0);
        }
      else
        {
          cairo_set_source_rgba (cr, accent.red, accent.green, accent.blue, 1.0);
          cairo_set_line_width (cr, 2.5);
        }
      cairo_stroke (cr);
    }
  cairo_restore (cr);

  /* the latest value, top right */
  {
    const Point *last = &g_array_index (self->points, Point, self->points->len - 1);
    g_autofree char *value = format_loss (last->smoothed);

    cairo_set_source_rgba (cr, accent.red, accent.green, accent.blue, 1.0);
    show_text (widget, cr, value, x1, y0 - 3, 1, 1);
  }

  self->n_drawn = self->points->len;
  cairo_destroy (cr);
}

static void
rm_loss_curve_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                       int *natural, int *minimum_baseline, int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 200;
      *natural = 420;
    }
  else
    {
      *minimum = 120;
      *natural = 180;
    }
}

static void
rm_loss_curve_finalize (GObject *object)
{
  RmLossCurve *self = (RmLossCurve *) object;

  g_clear_pointer (&self->points, g_array_unref);

  G_OBJECT_CLASS (rm_loss_curve_parent_class)->finalize (object);
}

static void
rm_loss_curve_class_init (RmLossCurveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = rm_loss_curve_finalize;
  widget_class->snapshot = rm_loss_curve_snapshot;
  widget_class->measure = rm_loss_curve_measure;

  gtk_widget_class_set_css_name (widget_class, "rmlosscurve");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
rm_loss_curve_init (RmLossCurve *self)
{
  self->points = g_array_new (FALSE, FALSE, sizeof (Point));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Training loss"), -1);
}

GtkWidget *
rm_loss_curve_new (void)
{
  return g_object_new (RM_TYPE_LOSS_CURVE, NULL);
}

/* The loss after optimizer step @step. */
void
rm_loss_curve_add_point (RmLossCurve *self, double step, double loss)
{
  Point point = { step, loss, loss };
  g_autofree char *description = NULL;

  g_return_if_fail (RM_IS_LOSS_CURVE (self));

  if (!isfinite (loss))
    return;
  if (self->points->len > 0)
    point.smoothed =
        SMOOTHING * g_array_index (self->points, Point, self->points->len - 1).smoothed +
        (1 - SMOOTHING) * loss;
  g_array_append_val (self->points, point);

  /* Translators: the loss curve for screen readers; %.3f is the latest (smoothed) loss */
  description = g_strdup_printf (_ ("Training loss, latest %.3f"), point.smoothed);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, description,
                                  -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
rm_loss_curve_clear (RmLossCurve *self)
{
  g_return_if_fail (RM_IS_LOSS_CURVE (self));

  g_array_set_size (self->points, 0);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _ ("Training loss"), -1);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The steps the run will take: the x axis spans them. */
void
rm_loss_curve_set_total_steps (RmLossCurve *self, double total_steps)
{
  g_return_if_fail (RM_IS_LOSS_CURVE (self));

  self->total_steps = MAX (total_steps, 0);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

guint
rm_loss_curve_get_n_points (RmLossCurve *self)
{
  g_return_val_if_fail (RM_IS_LOSS_CURVE (self), 0);

  return self->points->len;
}

/* The moving average after the last point (NaN when there is none). */
double
rm_loss_curve_get_smoothed (RmLossCurve *self)
{
  g_return_val_if_fail (RM_IS_LOSS_CURVE (self), NAN);

  if (self->points->len == 0)
    return NAN;

  return g_array_index (self->points, Point, self->points->len - 1).smoothed;
}

/* The points drawn in the last frame (for tests). */
guint
rm_loss_curve_get_n_drawn (RmLossCurve *self)
{
  g_return_val_if_fail (RM_IS_LOSS_CURVE (self), 0);

  return self->n_drawn;
}
