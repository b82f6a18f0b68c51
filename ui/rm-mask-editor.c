/* rm-mask-editor.c: a binary mask with brush and eraser strokes, hole filling, polygons, and a
 * bounded undo history
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The mask is width x height bytes, 0 or 1. Every edit (a stroke, a hole fill, a polygon) records
 * which pixels it flipped, in 64 x 64 tiles of bits; when the edit ends, the flipped pixels of each
 * touched tile are run-length encoded into one undo step. Since an edit only flips pixels, undo
 * and redo are the same operation: flip the step's pixels again. A step for a brush stroke
 * costs a few bytes per run, whatever the image size; the history is bounded by a number of
 * steps and a number of bytes, oldest first.
 *
 * No GTK here: the logic is tested without a display (tests/gui/test-edit.c).
 */

#include "rm-mask-editor.h"

#include <math.h>
#include <string.h>

#define TILE_SHIFT 6
#define TILE       (1 << TILE_SHIFT) /* pixels a side: one guint64 a row */
#define TILE_MASK  (TILE - 1)

typedef struct
{
  GBytes *data; /* per tile: varint index, varint n_runs, n_runs varints (skip, flip, skip…) */
  RmMaskRect bbox;
} Step;

struct _RmMaskEditor
{
  int width;
  int height;
  guint8 *mask;
  gint64 area;

  int tiles_x;
  int tiles_y;
  guint64 **pending;      /* per tile, NULL or TILE rows of flipped-pixel bits (current edit) */
  GArray *pending_tiles;  /* of guint: the tiles with bits */
  int pend_x0, pend_y0;   /* bounding box of the current edit, [x0, x1) x [y0, y1) */
  int pend_x1, pend_y1;   /* x1 <= x0 when empty */
  int dirty_x0, dirty_y0; /* what changed since the last rm_mask_editor_take_dirty () */
  int dirty_x1, dirty_y1;

  GPtrArray *steps; /* of Step *, oldest first */
  guint position;   /* steps[0, position) are applied; the rest can be redone */
  gsize history_bytes;
  guint max_steps;
  gsize max_bytes;
  guint n_dropped; /* applied steps forgotten to keep within the limits */

  guint64 n_flips; /* pixels changed, ever: tells whether a stamp did anything */

  gboolean in_stroke;
  guint8 stroke_value;
  double stroke_radius;
  double last_x;
  double last_y;
};

static void
step_free (gpointer data)
{
  Step *step = data;

  g_bytes_unref (step->data);
  g_free (step);
}

static void
rect_reset (int *x0, int *y0, int *x1, int *y1)
{
  *x0 = *y0 = G_MAXINT;
  *x1 = *y1 = G_MININT;
}

static void
rect_add (int *x0, int *y0, int *x1, int *y1, int ax0, int ay0, int ax1, int ay1)
{
  *x0 = MIN (*x0, ax0);
  *y0 = MIN (*y0, ay0);
  *x1 = MAX (*x1, ax1);
  *y1 = MAX (*y1, ay1);
}

/* Creates an editor for a @width x @height mask, a copy of @mask (any non-zero byte is
 * foreground), or empty when @mask is NULL. */
RmMaskEditor *
rm_mask_editor_new (int width, int height, const guint8 *mask)
{
  RmMaskEditor *self;
  gsize n;

  g_return_val_if_fail (width > 0 && height > 0, NULL);

  n = (gsize) width * height;
  self = g_new0 (RmMaskEditor, 1);
  self->width = width;
  self->height = height;
  self->mask = g_malloc0 (n);
  if (mask != NULL)
    for (gsize i = 0; i < n; i++)
      {
        self->mask[i] = mask[i] != 0;
        self->area += self->mask[i];
      }

  self->tiles_x = (width + TILE - 1) / TILE;
  self->tiles_y = (height + TILE - 1) / TILE;
  self->pending = g_new0 (guint64 *, (gsize) self->tiles_x * self->tiles_y);
  self->pending_tiles = g_array_new (FALSE, FALSE, sizeof (guint));
  rect_reset (&self->pend_x0, &self->pend_y0, &self->pend_x1, &self->pend_y1);
  rect_reset (&self->dirty_x0, &self->dirty_y0, &self->dirty_x1, &self->dirty_y1);

  self->steps = g_ptr_array_new_with_free_func (step_free);
  self->max_steps = RM_MASK_EDITOR_DEFAULT_MAX_STEPS;
  self->max_bytes = RM_MASK_EDITOR_DEFAULT_MAX_BYTES;

  return self;
}

static void
pending_clear (RmMaskEditor *self)
{
  for (guint i = 0; i < self->pending_tiles->len; i++)
    {
      guint t = g_array_index (self->pending_tiles, guint, i);

      g_clear_pointer (&self->pending[t], g_free);
    }
  g_array_set_size (self->pending_tiles, 0);
  rect_reset (&self->pend_x0, &self->pend_y0, &self->pend_x1, &self->pend_y1);
}

void
rm_mask_editor_free (RmMaskEditor *self)
{
  if (self == NULL)
    return;

  pending_clear (self);
  g_free (self->pending);
  g_array_unref (self->pending_tiles);
  g_ptr_array_unref (self->steps);
  g_free (self->mask);
  g_free (self);
}

int
rm_mask_editor_get_width (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->width;
}

int
rm_mask_editor_get_height (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->height;
}

/* width x height bytes, 0 or 1, row-major; valid until the editor is freed. */
const guint8 *
rm_mask_editor_get_data (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->mask;
}

/* The number of foreground pixels. */
gint64
rm_mask_editor_get_area (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->area;
}

/* The bounding box of the foreground; FALSE (and an empty box) when there is none. */
gboolean
rm_mask_editor_get_bbox (const RmMaskEditor *self, RmMaskRect *bbox)
{
  int x0 = self->width, y0 = self->height, x1 = -1, y1 = -1;

  g_return_val_if_fail (self != NULL && bbox != NULL, FALSE);

  for (int y = 0; y < self->height; y++)
    {
      const guint8 *row = self->mask + (gsize) y * self->width;
      const guint8 *first = memchr (row, 1, self->width);
      int last;

      if (first == NULL)
        continue;
      for (last = self->width - 1; row[last] == 0; last--)
        ;
      x0 = MIN (x0, (int) (first - row));
      x1 = MAX (x1, last);
      y0 = MIN (y0, y);
      y1 = y;
    }

  if (x1 < 0)
    {
      *bbox = (RmMaskRect){ 0, 0, 0, 0 };
      return FALSE;
    }
  *bbox = (RmMaskRect){ x0, y0, x1 - x0 + 1, y1 - y0 + 1 };

  return TRUE;
}

/* ---- recording an edit ------------------------------------------------------------------- */

static inline void
mark_flipped (RmMaskEditor *self, int x, int y)
{
  guint t = (guint) (y >> TILE_SHIFT) * (guint) self->tiles_x + (guint) (x >> TILE_SHIFT);

  if (self->pending[t] == NULL)
    {
      self->pending[t] = g_new0 (guint64, TILE);
      g_array_append_val (self->pending_tiles, t);
    }
  self->pending[t][y & TILE_MASK] ^= G_GUINT64_CONSTANT (1) << (x & TILE_MASK);
}

/* Sets a pixel within the image and records the change. */
static inline void
set_pixel (RmMaskEditor *self, int x, int y, guint8 value)
{
  guint8 *p = self->mask + (gsize) y * self->width + x;

  if (*p == value)
    return;

  *p = value;
  self->area += value ? 1 : -1;
  self->n_flips++;
  mark_flipped (self, x, y);
}

static void
pending_add_rect (RmMaskEditor *self, int x0, int y0, int x1, int y1)
{
  rect_add (&self->pend_x0, &self->pend_y0, &self->pend_x1, &self->pend_y1, x0, y0, x1, y1);
  rect_add (&self->dirty_x0, &self->dirty_y0, &self->dirty_x1, &self->dirty_y1, x0, y0, x1, y1);
}

static void
put_varint (GByteArray *out, guint64 v)
{
  do
    {
      guint8 b = v & 0x7f;

      v >>= 7;
      if (v != 0)
        b |= 0x80;
      g_byte_array_append (out, &b, 1);
    }
  while (v != 0);
}

static guint64
get_varint (const guint8 **p, const guint8 *end)
{
  guint64 v = 0;
  int shift = 0;

  while (*p < end && shift < 64)
    {
      guint8 b = *(*p)++;

      v |= (guint64) (b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        break;
      shift += 7;
    }

  return v;
}

static int
compare_uint (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

static gboolean
tile_bit (const guint64 *bits, guint k)
{
  return (bits[k >> TILE_SHIFT] >> (k & TILE_MASK)) & 1;
}

static void
trim_history (RmMaskEditor *self)
{
  while (self->steps->len > 1 &&
         (self->steps->len > self->max_steps || self->history_bytes > self->max_bytes))
    {
      /* the oldest applied step goes; with none applied, the newest redo step (a redo step
       * only makes sense after the ones before it) */
      guint i = self->position > 0 ? 0 : self->steps->len - 1;
      Step *step = g_ptr_array_index (self->steps, i);

      self->history_bytes -= g_bytes_get_size (step->data);
      g_ptr_array_remove_index (self->steps, i);
      if (i == 0 && self->position > 0)
        {
          self->position--;
          self->n_dropped++;
        }
    }
}

/* Turns the pixels flipped since the last commit into one undo step; FALSE if none were. */
static gboolean
commit (RmMaskEditor *self)
{
  g_autoptr (GByteArray) out = NULL;
  gboolean any = FALSE;
  Step *step;

  if (self->pending_tiles->len == 0)
    {
      pending_clear (self);
      return FALSE;
    }

  out = g_byte_array_new ();
  g_array_sort (self->pending_tiles, compare_uint);
  for (guint i = 0; i < self->pending_tiles->len; i++)
    {
      guint t = g_array_index (self->pending_tiles, guint, i);
      const guint64 *bits = self->pending[t];
      guint runs[TILE * TILE + 1];
      guint n_runs = 0;
      guint k = 0;

      /* alternating runs: unchanged, flipped, unchanged, … up to the last flipped pixel */
      while (k < TILE * TILE)
        {
          guint start = k;
          gboolean flipped = n_runs % 2 == 1;

          while (k < TILE * TILE && tile_bit (bits, k) == flipped)
            k++;
          if (k == TILE * TILE && !flipped)
            break; /* trailing unchanged pixels are implied */
          runs[n_runs++] = k - start;
        }
      if (n_runs == 0)
        continue; /* every pixel flipped twice: no change */

      any = TRUE;
      put_varint (out, t);
      put_varint (out, n_runs);
      for (guint r = 0; r < n_runs; r++)
        put_varint (out, runs[r]);
    }

  if (!any)
    {
      pending_clear (self);
      return FALSE;
    }

  /* a new edit forgets what could be redone */
  while (self->steps->len > self->position)
    {
      Step *last = g_ptr_array_index (self->steps, self->steps->len - 1);

      self->history_bytes -= g_bytes_get_size (last->data);
      g_ptr_array_remove_index (self->steps, self->steps->len - 1);
    }

  step = g_new0 (Step, 1);
  step->bbox = (RmMaskRect){ self->pend_x0, self->pend_y0, self->pend_x1 - self->pend_x0,
                             self->pend_y1 - self->pend_y0 };
  step->data = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  self->history_bytes += g_bytes_get_size (step->data);
  g_ptr_array_add (self->steps, step);
  self->position++;
  pending_clear (self);
  trim_history (self);

  return TRUE;
}

/* Flips the pixels of @step back (undo) or again (redo). */
static void
apply_step (RmMaskEditor *self, const Step *step)
{
  gsize size;
  const guint8 *p = g_bytes_get_data (step->data, &size);
  const guint8 *end = p + size;

  while (p < end)
    {
      guint t = (guint) get_varint (&p, end);
      guint n_runs = (guint) get_varint (&p, end);
      int tx = (int) (t % (guint) self->tiles_x) * TILE;
      int ty = (int) (t / (guint) self->tiles_x) * TILE;
      guint k = 0;

      for (guint r = 0; r < n_runs && p <= end; r++)
        {
          guint len = (guint) get_varint (&p, end);

          if (r % 2 == 1)
            for (guint j = k; j < k + len && j < TILE * TILE; j++)
              {
                int x = tx + (int) (j & TILE_MASK);
                int y = ty + (int) (j >> TILE_SHIFT);
                guint8 *px;

                if (x >= self->width || y >= self->height)
                  continue; /* never recorded; defensive */
                px = self->mask + (gsize) y * self->width + x;
                *px ^= 1;
                self->area += *px ? 1 : -1;
              }
          k += len;
        }
    }

  rect_add (&self->dirty_x0, &self->dirty_y0, &self->dirty_x1, &self->dirty_y1, step->bbox.x,
            step->bbox.y, step->bbox.x + step->bbox.width, step->bbox.y + step->bbox.height);
}

/* ---- strokes ----------------------------------------------------------------------------- */

/* The x interval of a row (at height @cy) that lies within @r of the segment (x0, y0)-(x1, y1):
 * the union of the two end discs and the band between them, which is one interval since the
 * shape is convex. FALSE if the row misses it. */
static gboolean
row_span (double x0, double y0, double x1, double y1, double r, double cy, double *lo, double *hi)
{
  const double ends[2][2] = { { x0, y0 }, { x1, y1 } };
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;

  *lo = G_MAXDOUBLE;
  *hi = -G_MAXDOUBLE;
  for (int i = 0; i < 2; i++)
    {
      double d = cy - ends[i][1];

      if (fabs (d) <= r)
        {
          double h = sqrt (r * r - d * d);

          *lo = MIN (*lo, ends[i][0] - h);
          *hi = MAX (*hi, ends[i][0] + h);
        }
    }

  if (len2 > 0)
    {
      double len = sqrt (len2), v = cy - y0;
      double a = -G_MAXDOUBLE, b = G_MAXDOUBLE, c = -G_MAXDOUBLE, d = G_MAXDOUBLE;

      /* distance to the line: |(x - x0) dy - v dx| <= r len */
      if (dy != 0)
        {
          a = x0 + (v * dx - r * len) / dy;
          b = x0 + (v * dx + r * len) / dy;
          if (a > b)
            {
              double t = a;

              a = b;
              b = t;
            }
        }
      else if (fabs (v) > r)
        a = G_MAXDOUBLE; /* empty */

      /* the projection falls on the segment: 0 <= (x - x0) dx + v dy <= len2 */
      if (dx != 0)
        {
          c = x0 - v * dy / dx;
          d = x0 + (len2 - v * dy) / dx;
          if (c > d)
            {
              double t = c;

              c = d;
              d = t;
            }
        }
      else if (v * dy < 0 || v * dy > len2)
        c = G_MAXDOUBLE; /* empty */

      if (MAX (a, c) <= MIN (b, d))
        {
          *lo = MIN (*lo, MAX (a, c));
          *hi = MAX (*hi, MIN (b, d));
        }
    }

  return *lo <= *hi;
}

/* Sets every pixel whose centre is within the stroke radius of the segment (x0, y0)-(x1, y1),
 * and the pixels under both ends, so that even a 1 px brush leaves a trace. Each row visits
 * the pixels of its span only (one more each side, tested exactly). */
static void
stamp_segment (RmMaskEditor *self, double x0, double y0, double x1, double y1)
{
  double r = self->stroke_radius;
  double dx = x1 - x0, dy = y1 - y0;
  double len2 = dx * dx + dy * dy;
  int by0 = (int) floor (MIN (y0, y1) - r), by1 = (int) ceil (MAX (y0, y1) + r);
  int rx0 = G_MAXINT, rx1 = G_MININT;
  const double ends[2][2] = { { x0, y0 }, { x1, y1 } };
  guint64 n_flips = self->n_flips;

  by0 = MAX (by0, 0);
  by1 = MIN (by1, self->height);

  for (int py = by0; py < by1; py++)
    {
      double cy = py + 0.5, lo, hi;
      int px0, px1;

      if (!row_span (x0, y0, x1, y1, r, cy, &lo, &hi))
        continue;
      px0 = MAX ((int) floor (lo - 1.5), 0);
      px1 = MIN ((int) ceil (hi + 0.5), self->width - 1);
      for (int px = px0; px <= px1; px++)
        {
          double cx = px + 0.5;
          double t = len2 > 0 ? ((cx - x0) * dx + (cy - y0) * dy) / len2 : 0;
          double qx, qy;

          t = CLAMP (t, 0, 1);
          qx = x0 + t * dx - cx;
          qy = y0 + t * dy - cy;
          if (qx * qx + qy * qy <= r * r)
            {
              set_pixel (self, px, py, self->stroke_value);
              rx0 = MIN (rx0, px);
              rx1 = MAX (rx1, px);
            }
        }
    }

  for (int i = 0; i < 2; i++)
    {
      int px = (int) floor (ends[i][0]), py = (int) floor (ends[i][1]);

      if (px >= 0 && py >= 0 && px < self->width && py < self->height)
        {
          set_pixel (self, px, py, self->stroke_value);
          rx0 = MIN (rx0, px);
          rx1 = MAX (rx1, px);
          by0 = MIN (by0, py);
          by1 = MAX (by1, py + 1);
        }
    }

  if (self->n_flips != n_flips)
    pending_add_rect (self, rx0, by0, rx1 + 1, by1);
}

/* Starts a brush (@paint TRUE) or eraser stroke of @diameter image pixels at (@x, @y), in
 * image coordinates. */
void
rm_mask_editor_begin_stroke (RmMaskEditor *self, gboolean paint, double diameter, double x,
                             double y)
{
  g_return_if_fail (self != NULL);

  if (self->in_stroke)
    rm_mask_editor_end_stroke (self);

  self->in_stroke = TRUE;
  self->stroke_value = paint ? 1 : 0;
  self->stroke_radius = MAX (diameter, 1.0) / 2;
  self->last_x = x;
  self->last_y = y;
  stamp_segment (self, x, y, x, y);
}

/* Continues the stroke in a straight line to (@x, @y). */
void
rm_mask_editor_stroke_to (RmMaskEditor *self, double x, double y)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (self->in_stroke);

  stamp_segment (self, self->last_x, self->last_y, x, y);
  self->last_x = x;
  self->last_y = y;
}

/* Ends the stroke: one undo step. FALSE if the stroke changed nothing. */
gboolean
rm_mask_editor_end_stroke (RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (!self->in_stroke)
    return FALSE;
  self->in_stroke = FALSE;

  return commit (self);
}

gboolean
rm_mask_editor_in_stroke (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->in_stroke;
}

/* ---- hole filling ------------------------------------------------------------------------ */

#define VISITED(v, i)     (((v)[(i) >> 6] >> ((i) &63)) & 1)
#define SET_VISITED(v, i) ((v)[(i) >> 6] |= G_GUINT64_CONSTANT (1) << ((i) &63))

typedef struct
{
  int x;
  int y;
} Seed;

/* Marks the 4-connected background region around (x, y) as visited, one row span at a time. */
static void
flood_background (RmMaskEditor *self, guint64 *visited, GArray *stack, int x, int y)
{
  const int w = self->width, h = self->height;
  Seed seed = { x, y };

  g_array_append_val (stack, seed);
  while (stack->len > 0)
    {
      Seed s = g_array_index (stack, Seed, stack->len - 1);
      gsize row = (gsize) s.y * w;
      int xl = s.x, xr = s.x;

      g_array_set_size (stack, stack->len - 1);
      if (self->mask[row + s.x] || VISITED (visited, row + s.x))
        continue;

      while (xl > 0 && !self->mask[row + xl - 1] && !VISITED (visited, row + xl - 1))
        xl--;
      while (xr < w - 1 && !self->mask[row + xr + 1] && !VISITED (visited, row + xr + 1))
        xr++;
      for (int i = xl; i <= xr; i++)
        SET_VISITED (visited, row + i);

      for (int ny = s.y - 1; ny <= s.y + 1; ny += 2)
        {
          gsize nrow = (gsize) ny * w;
          gboolean in_run = FALSE;

          if (ny < 0 || ny >= h)
            continue;
          for (int i = xl; i <= xr; i++)
            {
              gboolean open = !self->mask[nrow + i] && !VISITED (visited, nrow + i);

              if (open && !in_run)
                {
                  Seed next = { i, ny };

                  g_array_append_val (stack, next);
                }
              in_run = open;
            }
        }
    }
}

/* Sets every background pixel that is not 4-connected to the image's border through background:
 * the holes in the mask. One undo step; FALSE if there were no holes. */
gboolean
rm_mask_editor_fill_holes (RmMaskEditor *self)
{
  const int w = self->width, h = self->height;
  g_autofree guint64 *visited = NULL;
  g_autoptr (GArray) stack = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if (self->in_stroke)
    rm_mask_editor_end_stroke (self);

  visited = g_new0 (guint64, ((gsize) w * h + 63) / 64);
  stack = g_array_new (FALSE, FALSE, sizeof (Seed));
  for (int x = 0; x < w; x++)
    {
      flood_background (self, visited, stack, x, 0);
      flood_background (self, visited, stack, x, h - 1);
    }
  for (int y = 0; y < h; y++)
    {
      flood_background (self, visited, stack, 0, y);
      flood_background (self, visited, stack, w - 1, y);
    }

  for (int y = 0; y < h; y++)
    {
      gsize row = (gsize) y * w;
      int x0 = -1, x1 = -1;

      for (int x = 0; x < w; x++)
        if (!self->mask[row + x] && !VISITED (visited, row + x))
          {
            set_pixel (self, x, y, 1);
            if (x0 < 0)
              x0 = x;
            x1 = x;
          }
      if (x0 >= 0)
        pending_add_rect (self, x0, y, x1 + 1, y + 1);
    }

  return commit (self);
}

/* ---- polygons ---------------------------------------------------------------------------- */

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* Sets (@paint) or clears every pixel whose centre lies inside the polygon of @n_points points
 * @xy (x0, y0, x1, y1, … in image coordinates; closed implicitly), by the even-odd rule, so
 * that a self-intersecting outline behaves as drawn. One scanline at a time: the crossings of
 * the edges with the row through the pixel centres, sorted, pair up into spans. One undo step;
 * FALSE if no pixel changed (or the polygon has fewer than 3 points). */
gboolean
rm_mask_editor_fill_polygon (RmMaskEditor *self, const double *xy, guint n_points, gboolean paint)
{
  g_autoptr (GArray) crossings = NULL;
  double min_y = G_MAXDOUBLE, max_y = -G_MAXDOUBLE;
  guint8 value = paint ? 1 : 0;
  int y0, y1;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (xy != NULL || n_points == 0, FALSE);

  if (self->in_stroke)
    rm_mask_editor_end_stroke (self);
  if (n_points < 3)
    return FALSE;

  for (guint i = 0; i < n_points; i++)
    {
      if (!isfinite (xy[2 * i]) || !isfinite (xy[2 * i + 1]))
        return FALSE;
      min_y = MIN (min_y, xy[2 * i + 1]);
      max_y = MAX (max_y, xy[2 * i + 1]);
    }

  /* rows whose centre (y + 0.5) can be inside */
  y0 = (int) MAX (floor (min_y - 0.5), 0);
  y1 = (int) MIN (ceil (max_y - 0.5), (double) self->height - 1);
  crossings = g_array_new (FALSE, FALSE, sizeof (double));

  for (int y = y0; y <= y1; y++)
    {
      double cy = y + 0.5;
      int rx0 = G_MAXINT, rx1 = G_MININT;

      g_array_set_size (crossings, 0);
      for (guint i = 0; i < n_points; i++)
        {
          const double *a = xy + 2 * i;
          const double *b = xy + 2 * ((i + 1) % n_points);

          /* half-open in y, so a vertex on the row counts once */
          if ((a[1] <= cy) != (b[1] <= cy))
            {
              double x = a[0] + (cy - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);

              g_array_append_val (crossings, x);
            }
        }
      g_array_sort (crossings, compare_double);

      for (guint k = 0; k + 1 < crossings->len; k += 2)
        {
          /* pixels whose centre x + 0.5 lies in [left, right) */
          double left = g_array_index (crossings, double, k);
          double right = g_array_index (crossings, double, k + 1);
          int px0 = (int) MAX (ceil (left - 0.5), 0);
          int px1 = (int) MIN (ceil (right - 0.5) - 1, (double) self->width - 1);

          for (int px = px0; px <= px1; px++)
            set_pixel (self, px, y, value);
          if (px0 <= px1)
            {
              rx0 = MIN (rx0, px0);
              rx1 = MAX (rx1, px1);
            }
        }
      if (rx0 <= rx1)
        pending_add_rect (self, rx0, y, rx1 + 1, y + 1);
    }

  return commit (self);
}

/* ---- history ----------------------------------------------------------------------------- */

gboolean
rm_mask_editor_can_undo (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->position > 0 && !self->in_stroke;
}

gboolean
rm_mask_editor_can_redo (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->position < self->steps->len && !self->in_stroke;
}

gboolean
rm_mask_editor_undo (RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (!rm_mask_editor_can_undo (self))
    return FALSE;

  self->position--;
  apply_step (self, g_ptr_array_index (self->steps, self->position));

  return TRUE;
}

gboolean
rm_mask_editor_redo (RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  if (!rm_mask_editor_can_redo (self))
    return FALSE;

  apply_step (self, g_ptr_array_index (self->steps, self->position));
  self->position++;

  return TRUE;
}

/* Whether edits are applied: the mask is no longer the one the editor was created with (or an
 * edit that cannot be undone any more was made). */
gboolean
rm_mask_editor_is_modified (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->position > 0 || self->n_dropped > 0;
}

/* At most @max_steps steps (at least 1) and @max_bytes bytes of history; the newest step is
 * kept whatever its size. */
void
rm_mask_editor_set_history_limits (RmMaskEditor *self, guint max_steps, gsize max_bytes)
{
  g_return_if_fail (self != NULL);

  self->max_steps = MAX (max_steps, 1);
  self->max_bytes = max_bytes;
  trim_history (self);
}

guint
rm_mask_editor_get_n_undo (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->position;
}

guint
rm_mask_editor_get_n_redo (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->steps->len - self->position;
}

/* The bytes the recorded steps take (the encoded pixels only). */
gsize
rm_mask_editor_get_history_bytes (const RmMaskEditor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->history_bytes;
}

/* The region changed since the last call (by edits, undo and redo), clipped to the image;
 * FALSE when nothing changed. */
gboolean
rm_mask_editor_take_dirty (RmMaskEditor *self, RmMaskRect *rect)
{
  int x0, y0, x1, y1;

  g_return_val_if_fail (self != NULL && rect != NULL, FALSE);

  x0 = MAX (self->dirty_x0, 0);
  y0 = MAX (self->dirty_y0, 0);
  x1 = MIN (self->dirty_x1, self->width);
  y1 = MIN (self->dirty_y1, self->height);
  rect_reset (&self->dirty_x0, &self->dirty_y0, &self->dirty_x1, &self->dirty_y1);

  if (x1 <= x0 || y1 <= y0)
    {
      *rect = (RmMaskRect){ 0, 0, 0, 0 };
      return FALSE;
    }
  *rect = (RmMaskRect){ x0, y0, x1 - x0, y1 - y0 };

  return TRUE;
}
