/* rm-view.h: the canvas view transform (image pixels to widget coordinates)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

#include "rm-types.h"

G_BEGIN_DECLS

/* widget = image * scale + (x, y). Plain data, no GTK: unit-tested without a display. */
struct _RmView
{
  double image_width;
  double image_height;
  double view_width;
  double view_height;
  double scale; /* widget units per image pixel */
  double x;     /* widget position of the image origin */
  double y;
  double pixel_scale; /* the scale that shows one image pixel per device pixel (1 / scale factor) */
};

#define RM_VIEW_MAX_ZOOM 32.0 /* in image pixels per device pixel */

void rm_view_init (RmView *view);
void rm_view_set_image_size (RmView *view, double width, double height);
void rm_view_set_view_size (RmView *view, double width, double height);
gboolean rm_view_has_image (const RmView *view);
double rm_view_get_fit_scale (const RmView *view);
double rm_view_get_min_scale (const RmView *view);
double rm_view_get_max_scale (const RmView *view);
double rm_view_get_zoom (const RmView *view);
void rm_view_fit (RmView *view);
void rm_view_zoom_at (RmView *view, double scale, double anchor_x, double anchor_y);
void rm_view_pan (RmView *view, double dx, double dy);
void rm_view_clamp (RmView *view);
void rm_view_widget_to_image (const RmView *view, double wx, double wy, double *ix, double *iy);
void rm_view_image_to_widget (const RmView *view, double ix, double iy, double *wx, double *wy);
gboolean rm_view_get_visible_region (const RmView *view, double *x0, double *y0, double *x1,
                                     double *y1);
void rm_view_interpolate (const RmView *from, const RmView *to, double progress, RmView *out);
gboolean rm_view_equal (const RmView *a, const RmView *b);

G_END_DECLS
