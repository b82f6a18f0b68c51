/* rm-view.c: the canvas view transform
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-view.h"

#include <math.h>

void
rm_view_init (RmView *view)
{
  g_return_if_fail (view != NULL);

  *view = (RmView){ 0 };
  view->scale = 1.0;
  view->pixel_scale = 1.0;
}

gboolean
rm_view_has_image (const RmView *view)
{
  return view->image_width > 0 && view->image_height > 0;
}

void
rm_view_set_image_size (RmView *view, double width, double height)
{
  g_return_if_fail (view != NULL);

  view->image_width = MAX (width, 0);
  view->image_height = MAX (height, 0);
  rm_view_fit (view);
}

/* Keeps the image point at the centre of the view where it was. */
void
rm_view_set_view_size (RmView *view, double width, double height)
{
  double cx, cy;

  g_return_if_fail (view != NULL);

  rm_view_widget_to_image (view, view->view_width / 2, view->view_height / 2, &cx, &cy);
  view->view_width = MAX (width, 0);
  view->view_height = MAX (height, 0);
  view->x = view->view_width / 2 - cx * view->scale;
  view->y = view->view_height / 2 - cy * view->scale;
  rm_view_clamp (view);
}

double
rm_view_get_fit_scale (const RmView *view)
{
  if (!rm_view_has_image (view) || view->view_width <= 0 || view->view_height <= 0)
    return view->pixel_scale;

  return MIN (view->view_width / view->image_width, view->view_height / view->image_height);
}

/* Zooming out past "fit" (or 1:1 for images smaller than the view) only adds empty margins. */
double
rm_view_get_min_scale (const RmView *view)
{
  return MIN (rm_view_get_fit_scale (view), view->pixel_scale);
}

double
rm_view_get_max_scale (const RmView *view)
{
  return MAX (RM_VIEW_MAX_ZOOM * view->pixel_scale, rm_view_get_fit_scale (view));
}

/* Image pixels per device pixel: 1.0 is "1:1". */
double
rm_view_get_zoom (const RmView *view)
{
  return view->scale / view->pixel_scale;
}

void
rm_view_fit (RmView *view)
{
  g_return_if_fail (view != NULL);

  view->scale = rm_view_get_fit_scale (view);
  rm_view_clamp (view);
}

void
rm_view_zoom_at (RmView *view, double scale, double anchor_x, double anchor_y)
{
  double ix, iy;

  g_return_if_fail (view != NULL);

  if (!isfinite (scale) || scale <= 0)
    return;

  rm_view_widget_to_image (view, anchor_x, anchor_y, &ix, &iy);
  view->scale = CLAMP (scale, rm_view_get_min_scale (view), rm_view_get_max_scale (view));
  view->x = anchor_x - ix * view->scale;
  view->y = anchor_y - iy * view->scale;
  rm_view_clamp (view);
}

void
rm_view_pan (RmView *view, double dx, double dy)
{
  g_return_if_fail (view != NULL);

  view->x += dx;
  view->y += dy;
  rm_view_clamp (view);
}

/* Centres an axis that is smaller than the view, and never shows a margin on an axis that is
 * larger than the view. */
static double
clamp_axis (double offset, double image_extent, double view_extent)
{
  if (image_extent <= view_extent)
    return (view_extent - image_extent) / 2;

  return CLAMP (offset, view_extent - image_extent, 0);
}

void
rm_view_clamp (RmView *view)
{
  g_return_if_fail (view != NULL);

  if (!rm_view_has_image (view))
    {
      view->x = view->y = 0;
      return;
    }

  view->x = clamp_axis (view->x, view->image_width * view->scale, view->view_width);
  view->y = clamp_axis (view->y, view->image_height * view->scale, view->view_height);
}

void
rm_view_widget_to_image (const RmView *view, double wx, double wy, double *ix, double *iy)
{
  *ix = (wx - view->x) / view->scale;
  *iy = (wy - view->y) / view->scale;
}

void
rm_view_image_to_widget (const RmView *view, double ix, double iy, double *wx, double *wy)
{
  *wx = ix * view->scale + view->x;
  *wy = iy * view->scale + view->y;
}

/* The part of the image inside the view, in image pixels; FALSE when nothing is visible. */
gboolean
rm_view_get_visible_region (const RmView *view, double *x0, double *y0, double *x1, double *y1)
{
  double ax, ay, bx, by;

  if (!rm_view_has_image (view))
    return FALSE;

  rm_view_widget_to_image (view, 0, 0, &ax, &ay);
  rm_view_widget_to_image (view, view->view_width, view->view_height, &bx, &by);
  *x0 = MAX (ax, 0);
  *y0 = MAX (ay, 0);
  *x1 = MIN (bx, view->image_width);
  *y1 = MIN (by, view->image_height);

  return *x1 > *x0 && *y1 > *y0;
}

static double
interpolate_axis (double s0, double t0, double s1, double t1, double s, double progress)
{
  /* A change of scale has a fixed point a = p * s0 + t0 = p * s1 + t1; moving along
   * t = a - p * s keeps it fixed, so a zoom about the pointer stays about the pointer. */
  if (fabs (s0 - s1) > 1e-9 * MAX (s0, s1))
    {
      double p = (t1 - t0) / (s0 - s1);
      double a = p * s0 + t0;

      return a - p * s;
    }

  return t0 + (t1 - t0) * progress;
}

void
rm_view_interpolate (const RmView *from, const RmView *to, double progress, RmView *out)
{
  RmView result = *to;

  progress = CLAMP (progress, 0.0, 1.0);
  result.scale = from->scale * pow (to->scale / from->scale, progress);
  result.x = interpolate_axis (from->scale, from->x, to->scale, to->x, result.scale, progress);
  result.y = interpolate_axis (from->scale, from->y, to->scale, to->y, result.scale, progress);
  *out = result;
}

gboolean
rm_view_equal (const RmView *a, const RmView *b)
{
  return fabs (a->scale - b->scale) < 1e-9 && fabs (a->x - b->x) < 1e-6 &&
         fabs (a->y - b->y) < 1e-6 && a->image_width == b->image_width &&
         a->image_height == b->image_height && a->view_width == b->view_width &&
         a->view_height == b->view_height;
}
