/* SPDX-License-Identifier: GPL-3.0-or-later
 * Polygon rasterisation identical to pycocotools' rleFrPoly, and contour extraction. */
#include "rm-polygon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (rm - polygon - error - quark, rm_polygon_error)

/* Upper bound on upsampled boundary steps one polygon may take (time, not memory: the
 * walk is streamed). */
#define MAX_STEPS (1u << 27)

/* a * b + c with the product rounded to double first. A fused multiply-add (which GCC
 * emits with -march=native) rounds once and would change a few pixels compared to
 * pycocotools, which is built without FMA. */
static double
mul_add (double a, double b, double c)
{
  volatile double p = a * b;
  return p + c;
}

static int
compare_u32 (const void *a, const void *b)
{
  guint32 c = *(const guint32 *) a, d = *(const guint32 *) b;
  return c > d ? 1 : c < d ? -1 : 0;
}

typedef struct
{
  int pu, pv;
  gboolean have_prev;
  guint32 h, w;
  GArray *pos; /* guint32 x * h + y of each column crossing */
} Walk;

/* One upsampled boundary point; a change of u is a potential column crossing. */
static inline void
walk_point (Walk *wk, int u, int v)
{
  const double scale = 5;
  if (wk->have_prev && u != wk->pu)
    {
      double xd = (double) (u < wk->pu ? u : u - 1), yd;
      xd = (xd + .5) / scale - .5;
      if (floor (xd) == xd && xd >= 0 && xd <= (double) (wk->w - 1))
        {
          guint32 a;
          yd = (double) (v < wk->pv ? v : wk->pv);
          yd = (yd + .5) / scale - .5;
          if (yd < 0)
            yd = 0;
          else if (yd > wk->h)
            yd = wk->h;
          yd = ceil (yd);
          a = (guint32) ((int) xd * (int) wk->h + (int) yd);
          g_array_append_val (wk->pos, a);
        }
    }
  wk->pu = u;
  wk->pv = v;
  wk->have_prev = TRUE;
}

RmRle *
rm_polygon_to_rle (const double *xy, gsize n_coords, guint32 h, guint32 w, GError **error)
{
  const double scale = 5;
  gsize k = n_coords / 2;
  g_autofree int *x = NULL, *y = NULL;
  g_autoptr (GArray) pos = NULL;
  g_autofree guint32 *b = NULL;
  guint64 steps = 0;
  Walk wk = { 0 };
  guint32 *a, p = 0;
  gsize na, m = 0, j;

  if (n_coords < 6 || n_coords % 2 != 0)
    {
      g_set_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_INVALID,
                   "a polygon needs an even number of coordinates, at least 6 (got %" G_GSIZE_FORMAT
                   ")",
                   n_coords);
      return NULL;
    }
  if ((guint64) h * w > G_MAXUINT32 || h == 0 || w == 0 || h > G_MAXINT / 2 || w > G_MAXINT / 2)
    {
      g_set_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_TOO_LARGE,
                   "cannot rasterise a polygon on a %u x %u canvas", w, h);
      return NULL;
    }
  for (j = 0; j < n_coords; j++)
    if (!isfinite (xy[j]) || fabs (xy[j]) > RM_POLYGON_MAX_COORD)
      {
        g_set_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_INVALID,
                     "polygon coordinate %" G_GSIZE_FORMAT " is not a number within ±%g", j,
                     RM_POLYGON_MAX_COORD);
        return NULL;
      }

  /* Upsample and round, as (int)(scale * v + .5): truncation toward zero for negatives. */
  x = g_new (int, k + 1);
  y = g_new (int, k + 1);
  for (j = 0; j < k; j++)
    {
      x[j] = (int) mul_add (scale, xy[j * 2 + 0], .5);
      y[j] = (int) mul_add (scale, xy[j * 2 + 1], .5);
    }
  x[k] = x[0];
  y[k] = y[0];
  for (j = 0; j < k; j++)
    steps += (guint64) MAX (abs (x[j] - x[j + 1]), abs (y[j] - y[j + 1])) + 1;
  if (steps > MAX_STEPS)
    {
      g_set_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_TOO_LARGE,
                   "polygon outline is too long to rasterise (%" G_GUINT64_FORMAT " steps)", steps);
      return NULL;
    }

  /* Walk every edge densely, in the original direction of travel; the slope is taken from
   * the end with the smaller major coordinate exactly as maskApi.c does. */
  pos = g_array_new (FALSE, FALSE, sizeof (guint32));
  wk.h = h;
  wk.w = w;
  wk.pos = pos;
  for (j = 0; j < k; j++)
    {
      int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, d;
      gboolean flip;
      double s;
      dx = abs (xe - xs);
      dy = abs (ys - ye);
      if (dx == 0 && dy == 0)
        {
          /* A repeated vertex: maskApi.c computes 0 / 0 here, but the point's u equals its
           * neighbours', so it can never make a crossing; skip the undefined conversion. */
          walk_point (&wk, xs, ys);
          continue;
        }
      flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
      if (flip)
        {
          t = xs;
          xs = xe;
          xe = t;
          t = ys;
          ys = ye;
          ye = t;
        }
      s = dx >= dy ? (double) (ye - ys) / dx : (double) (xe - xs) / dy;
      if (dx >= dy)
        for (d = 0; d <= dx; d++)
          {
            t = flip ? dx - d : d;
            walk_point (&wk, t + xs, (int) (mul_add (s, t, ys) + .5));
          }
      else
        for (d = 0; d <= dy; d++)
          {
            t = flip ? dy - d : d;
            walk_point (&wk, (int) (mul_add (s, t, xs) + .5), t + ys);
          }
    }

  /* Crossing positions, sorted, become run lengths; equal positions cancel. */
  {
    guint32 end = h * w;
    g_array_append_val (pos, end);
  }
  a = (guint32 *) (void *) pos->data; /* GArray data is malloc-aligned */
  na = pos->len;
  qsort (a, na, sizeof (guint32), compare_u32);
  for (j = 0; j < na; j++)
    {
      guint32 t = a[j];
      a[j] -= p;
      p = t;
    }
  b = g_new (guint32, na);
  j = 0;
  b[m++] = a[j++];
  while (j < na)
    {
      if (a[j] > 0)
        b[m++] = a[j++];
      else
        {
          j++;
          if (j < na)
            b[m - 1] += a[j++];
        }
    }
  return rm_rle_new (h, w, b, m);
}

RmRle *
rm_polygons_to_rle (const double *const *parts, const gsize *n_coords, gsize n_parts, guint32 h,
                    guint32 w, GError **error)
{
  g_autoptr (GPtrArray) rles = g_ptr_array_new_with_free_func ((GDestroyNotify) rm_rle_free);

  if (n_parts == 0)
    {
      g_set_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_INVALID, "no polygons");
      return NULL;
    }
  for (gsize i = 0; i < n_parts; i++)
    {
      RmRle *r = rm_polygon_to_rle (parts[i], n_coords[i], h, w, error);
      if (r == NULL)
        return NULL;
      g_ptr_array_add (rles, r);
    }
  return rm_rle_merge ((RmRle *const *) rles->pdata, rles->len, FALSE, error);
}

RmRle *
rm_bbox_to_rle (const double bbox[4], guint32 h, guint32 w, GError **error)
{
  double xs = bbox[0], xe = xs + bbox[2], ys = bbox[1], ye = ys + bbox[3];
  double xy[8] = { xs, ys, xs, ye, xe, ye, xe, ys };
  return rm_polygon_to_rle (xy, 8, h, w, error);
}

/* ---- extraction ---- */

void
rm_contours_free (RmContours *contours)
{
  if (contours == NULL)
    return;
  for (gsize i = 0; i < contours->n; i++)
    g_free (contours->contours[i].xy);
  g_free (contours->contours);
  g_free (contours);
}

/* Directions in screen order (y down): east, south, west, north; +1 is a right turn. */
enum
{
  DIR_E,
  DIR_S,
  DIR_W,
  DIR_N
};
static const int dir_dx[4] = { 1, 0, -1, 0 };
static const int dir_dy[4] = { 0, 1, 0, -1 };

static guint32
uf_find (guint32 *parent, guint32 i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

static void
uf_union (guint32 *parent, guint32 a, guint32 b)
{
  a = uf_find (parent, a);
  b = uf_find (parent, b);
  if (a != b)
    parent[MAX (a, b)] = MIN (a, b);
}

static double
point_segment_distance (const double *p, const double *a, const double *b)
{
  double dx = b[0] - a[0], dy = b[1] - a[1], len2 = dx * dx + dy * dy;
  if (len2 == 0)
    return hypot (p[0] - a[0], p[1] - a[1]);
  return fabs (dy * p[0] - dx * p[1] + b[0] * a[1] - b[1] * a[0]) / sqrt (len2);
}

/* Douglas-Peucker over the open chain pts[first..last] (indices modulo n), marking kept
 * points; an explicit stack keeps deep recursions off the C stack. */
static void
dp_chain (const double *pts, gsize n, gsize first, gsize last, double eps, gboolean *keep)
{
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_array_append_val (stack, first);
  g_array_append_val (stack, last);
  while (stack->len > 0)
    {
      gsize hi = g_array_index (stack, gsize, stack->len - 1);
      gsize lo = g_array_index (stack, gsize, stack->len - 2);
      gsize best = lo;
      double dmax = -1;
      g_array_set_size (stack, stack->len - 2);
      for (gsize i = lo + 1; i < hi; i++)
        {
          double d =
              point_segment_distance (pts + 2 * (i % n), pts + 2 * (lo % n), pts + 2 * (hi % n));
          if (d > dmax)
            {
              dmax = d;
              best = i;
            }
        }
      if (best != lo && dmax > eps)
        {
          keep[best % n] = TRUE;
          g_array_append_val (stack, lo);
          g_array_append_val (stack, best);
          g_array_append_val (stack, best);
          g_array_append_val (stack, hi);
        }
    }
}

/* Simplifies a closed ring in place; keeps it unchanged when fewer than 3 points remain. */
static void
simplify_ring (RmContour *c, double eps)
{
  g_autofree gboolean *keep = NULL;
  gsize far = 0, n = c->n, out = 0;
  double dmax = -1;

  if (eps <= 0 || n <= 3)
    return;
  /* Anchor at point 0 and the point farthest from it, then simplify both halves. */
  for (gsize i = 1; i < n; i++)
    {
      double d = hypot (c->xy[2 * i] - c->xy[0], c->xy[2 * i + 1] - c->xy[1]);
      if (d > dmax)
        {
          dmax = d;
          far = i;
        }
    }
  keep = g_new0 (gboolean, n);
  keep[0] = keep[far] = TRUE;
  dp_chain (c->xy, n, 0, far, eps, keep);
  dp_chain (c->xy, n, far, n, eps, keep);
  for (gsize i = 0; i < n; i++)
    out += keep[i];
  if (out < 3)
    return;
  out = 0;
  for (gsize i = 0; i < n; i++)
    if (keep[i])
      {
        c->xy[2 * out] = c->xy[2 * i];
        c->xy[2 * out + 1] = c->xy[2 * i + 1];
        out++;
      }
  c->n = out;
}

RmContours *
rm_polygon_extract (const guint8 *mask, guint32 h, guint32 w, gsize stride, double epsilon)
{
  gsize vw = (gsize) w + 1, nv = vw * ((gsize) h + 1), npx = (gsize) h * w;
  g_autofree guint8 *out = g_new0 (guint8, nv);  /* outgoing edge bits per vertex */
  g_autofree guint8 *used = g_new0 (guint8, nv); /* edges already traced */
  g_autofree guint32 *label = g_new (guint32, MAX (npx, 1));
  g_autofree gssize *outer_of_label = NULL;
  g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (RmContour));
  g_autoptr (GArray) pts = g_array_new (FALSE, FALSE, sizeof (double));
  RmContours *res;

#define FG(px, py) ((px) < w && (py) < h && mask[(gsize) (py) *stride + (px)] != 0)
  /* Edges with the foreground on their right-hand side; 8-connected components. */
  for (guint32 py = 0; py < h; py++)
    for (guint32 px = 0; px < w; px++)
      {
        gsize i = (gsize) py * w + px;
        label[i] = (guint32) i;
        if (!FG (px, py))
          continue;
        if (py == 0 || !FG (px, py - 1))
          out[(gsize) py * vw + px] |= 1 << DIR_E;
        if (!FG (px + 1, py))
          out[(gsize) py * vw + px + 1] |= 1 << DIR_S;
        if (!FG (px, py + 1))
          out[(gsize) (py + 1) * vw + px + 1] |= 1 << DIR_W;
        if (px == 0 || !FG (px - 1, py))
          out[(gsize) (py + 1) * vw + px] |= 1 << DIR_N;
        if (px > 0 && FG (px - 1, py))
          uf_union (label, (guint32) i, (guint32) (i - 1));
        if (py > 0)
          {
            if (FG (px, py - 1))
              uf_union (label, (guint32) i, (guint32) (i - w));
            if (px > 0 && FG (px - 1, py - 1))
              uf_union (label, (guint32) i, (guint32) (i - w - 1));
            if (FG (px + 1, py - 1))
              uf_union (label, (guint32) i, (guint32) (i - w + 1));
          }
      }

  for (gsize v0 = 0; v0 < nv; v0++)
    for (int d0 = 0; d0 < 4; d0++)
      {
        RmContour c = { 0 };
        gsize v = v0;
        int d = d0, last_d = -1;
        double area2 = 0;
        guint32 rx, ry;

        if (!(out[v0] & (1 << d0)) || (used[v0] & (1 << d0)))
          continue;
        g_array_set_size (pts, 0);
        /* The pixel right of the first edge tells the component. */
        rx = (guint32) (v0 % vw) - (d0 == DIR_S || d0 == DIR_W);
        ry = (guint32) (v0 / vw) - (d0 == DIR_W || d0 == DIR_N);
        for (;;)
          {
            gsize vx = v % vw, vy = v / vw;
            if (d != last_d) /* corners only: collinear points add nothing */
              {
                double p[2] = { (double) vx, (double) vy };
                g_array_append_vals (pts, p, 2);
              }
            used[v] |= 1 << d;
            last_d = d;
            v = (gsize) ((gssize) v + dir_dx[d] + dir_dy[d] * (gssize) vw);
            /* Prefer a left turn: at a saddle vertex that joins diagonal neighbours, so
             * foreground is 8-connected. */
            {
              int left = (d + 3) % 4, right = (d + 1) % 4;
              d = (out[v] & (1 << left)) ? left : (out[v] & (1 << d)) ? d : right;
            }
            if (v == v0 && d == d0)
              break;
          }
        /* The first point is a corner only if the walk turned into it. */
        if (d0 == last_d && pts->len > 2)
          g_array_remove_range (pts, 0, 2);
        c.n = pts->len / 2;
        c.xy = g_memdup2 (pts->data, pts->len * sizeof (double));
        for (gsize i = 0; i < c.n; i++)
          {
            const double *p = c.xy + 2 * i, *q = c.xy + 2 * ((i + 1) % c.n);
            area2 += p[0] * q[1] - q[0] * p[1];
          }
        c.hole = area2 < 0;
        /* Temporarily keep the component label in `parent`; resolved below. */
        c.parent = (gssize) uf_find (label, (guint32) ((gsize) ry * w + rx));
        simplify_ring (&c, epsilon);
        g_array_append_val (list, c);
      }
#undef FG

  outer_of_label = g_new (gssize, MAX (npx, 1));
  for (guint i = 0; i < list->len; i++)
    {
      RmContour *c = &g_array_index (list, RmContour, i);
      if (!c->hole)
        outer_of_label[c->parent] = i;
    }
  res = g_new0 (RmContours, 1);
  for (guint i = 0; i < list->len; i++)
    {
      RmContour *c = &g_array_index (list, RmContour, i);
      c->parent = c->hole ? outer_of_label[c->parent] : -1;
      res->n_holes += c->hole;
    }
  res->n = list->len;
  res->contours = (RmContour *) (void *) g_array_free (g_steal_pointer (&list), FALSE);
  return res;
}

RmContours *
rm_polygon_extract_rle (const RmRle *rle, double epsilon)
{
  g_autofree guint8 *mask = g_malloc ((gsize) rle->h * rle->w + 1);
  rm_rle_decode (rle, mask, rle->w, 1);
  return rm_polygon_extract (mask, rle->h, rle->w, rle->w, epsilon);
}
