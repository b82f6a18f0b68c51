/* SPDX-License-Identifier: GPL-3.0-or-later
 * Polygons <-> masks, the COCO way.
 *
 * Rasterisation is pycocotools' rleFrPoly, step for step: the polygon is scaled by 5 and
 * rounded, its boundary is walked one upsampled step at a time, and every crossing of a
 * pixel column's sample line (x + 0.4 in image coordinates, give or take the rounding)
 * toggles the column from that row down. A pixel-edge polygon (integer corners, pixel
 * (x, y) covering [x, x+1] x [y, y+1]) therefore rasterises back to exactly its pixels.
 *
 * Extraction traces those pixel edges: one outer contour per 8-connected foreground
 * component and one hole contour per enclosed 4-connected background region, optionally
 * simplified with Douglas-Peucker.
 */
#pragma once

#include <glib.h>

#include "rm-rle.h"

G_BEGIN_DECLS

#define RM_POLYGON_ERROR (rm_polygon_error_quark ())
GQuark rm_polygon_error_quark (void);

typedef enum
{
  RM_POLYGON_ERROR_INVALID, /* too few or odd coordinates, not finite */
  RM_POLYGON_ERROR_TOO_LARGE,
} RmPolygonError;

/* Coordinates beyond this (in pixels) are refused: pycocotools would overflow its ints. */
#define RM_POLYGON_MAX_COORD 1.0e7

/* rleFrPoly for one polygon given as n_coords numbers x0, y0, x1, y1, ... (n_coords even,
 * at least 6). */
RmRle *rm_polygon_to_rle (const double *xy, gsize n_coords, guint32 h, guint32 w, GError **error);

/* frPyObjects + merge: the union of several polygons (one COCO "segmentation" list). */
RmRle *rm_polygons_to_rle (const double *const *parts, const gsize *n_coords, gsize n_parts,
                           guint32 h, guint32 w, GError **error);

/* rleFrBbox: x, y, width, height as a 4-corner polygon. */
RmRle *rm_bbox_to_rle (const double bbox[4], guint32 h, guint32 w, GError **error);

typedef struct
{
  double *xy; /* x0, y0, x1, y1, ... (pixel-corner coordinates, closed implicitly) */
  gsize n;    /* number of points */
  gboolean hole;
  gssize parent; /* for a hole: index of its outer contour; -1 for outer contours */
} RmContour;

typedef struct
{
  RmContour *contours;
  gsize n;
  gsize n_holes;
} RmContours;

void rm_contours_free (RmContours *contours);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmContours, rm_contours_free)

/* Traces the contours of a row-major mask (nonzero = foreground). `epsilon` <= 0 keeps
 * every corner (the polygons then rasterise back to the exact mask); > 0 simplifies each
 * contour with Douglas-Peucker at that tolerance in pixels (never below 3 points).
 * Outer contours run clockwise on screen (y down), holes counter-clockwise. */
RmContours *rm_polygon_extract (const guint8 *mask, guint32 h, guint32 w, gsize stride,
                                double epsilon);

/* Same, from an RLE. */
RmContours *rm_polygon_extract_rle (const RmRle *rle, double epsilon);

G_END_DECLS
