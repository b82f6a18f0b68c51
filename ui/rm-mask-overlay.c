/* rm-mask-overlay.c: a binary mask drawn over the canvas as tiled textures, and heatmaps
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A mask of a 10 000 px image is 100 M pixels: it is not turned into one texture per edit.
 * Like the image, it is cut into 512 x 512 tiles at several resolutions (level l has one texel
 * per 2^l x 2^l block of pixels, its alpha the block's coverage). The canvas draws the visible
 * tiles of the level that matches the zoom, with the image's transform; a tile's texture is
 * made when it is first drawn and made again only after an edit touched it, so a brush stroke
 * uploads a tile or two, not the mask.
 *
 * The outline: a foreground pixel with a background 4-neighbour is an edge pixel; a texel with
 * edge pixels is drawn opaque (in proportion to how many, so that a straight edge through a
 * block is a one-texel line at any level).
 */

#include "rm-mask-overlay.h"
#include "rm-view.h"

#include "refmask-engine.h"

#include <math.h>

#define BPP 4 /* GDK_MEMORY_DEFAULT: premultiplied B8G8R8A8 in memory order */

typedef struct
{
  int width; /* in texels: ceil (image width / 2^level), as the image pyramid */
  int height;
  int n_columns;
  int n_rows;
  GdkTexture **tiles; /* NULL: not made yet, out of date, or empty */
  guint8 *empty;      /* 1: made, and nothing to draw */
} Level;

struct _RmMaskOverlay
{
  int width;
  int height;
  guint n_levels;
  Level *levels;
  GdkRGBA colour;
  double opacity;
  guint n_uploads;
};

/* An overlay for masks of @width x @height pixels; nothing is made until it is drawn. */
RmMaskOverlay *
rm_mask_overlay_new (int width, int height)
{
  RmMaskOverlay *self;
  int w = width, h = height;

  g_return_val_if_fail (width > 0 && height > 0, NULL);

  self = g_new0 (RmMaskOverlay, 1);
  self->width = width;
  self->height = height;
  self->colour = (GdkRGBA){ 0.2f, 0.85f, 1.0f, 1.0f };
  self->opacity = 0.5;

  self->n_levels = 1;
  while (w > RM_MASK_OVERLAY_TILE_SIZE || h > RM_MASK_OVERLAY_TILE_SIZE)
    {
      w = (w + 1) / 2;
      h = (h + 1) / 2;
      self->n_levels++;
    }

  self->levels = g_new0 (Level, self->n_levels);
  w = width;
  h = height;
  for (guint l = 0; l < self->n_levels; l++)
    {
      Level *level = &self->levels[l];

      level->width = w;
      level->height = h;
      level->n_columns = (w + RM_MASK_OVERLAY_TILE_SIZE - 1) / RM_MASK_OVERLAY_TILE_SIZE;
      level->n_rows = (h + RM_MASK_OVERLAY_TILE_SIZE - 1) / RM_MASK_OVERLAY_TILE_SIZE;
      level->tiles = g_new0 (GdkTexture *, (gsize) level->n_columns * level->n_rows);
      level->empty = g_new0 (guint8, (gsize) level->n_columns * level->n_rows);
      w = (w + 1) / 2;
      h = (h + 1) / 2;
    }

  return self;
}

void
rm_mask_overlay_free (RmMaskOverlay *self)
{
  if (self == NULL)
    return;

  rm_mask_overlay_invalidate (self, NULL);
  for (guint l = 0; l < self->n_levels; l++)
    {
      g_free (self->levels[l].tiles);
      g_free (self->levels[l].empty);
    }
  g_free (self->levels);
  g_free (self);
}

int
rm_mask_overlay_get_width (const RmMaskOverlay *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->width;
}

int
rm_mask_overlay_get_height (const RmMaskOverlay *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->height;
}

/* The fill is @colour at @opacity; the outline at twice that (at most opaque). */
void
rm_mask_overlay_set_style (RmMaskOverlay *self, const GdkRGBA *colour, double opacity)
{
  g_return_if_fail (self != NULL && colour != NULL);

  opacity = CLAMP (opacity, 0, 1);
  if (gdk_rgba_equal (colour, &self->colour) && opacity == self->opacity)
    return;

  self->colour = *colour;
  self->opacity = opacity;
  rm_mask_overlay_invalidate (self, NULL);
}

/* Forgets the textures of the tiles that show pixels of @rect (NULL: all), and of their
 * neighbours' outline. */
void
rm_mask_overlay_invalidate (RmMaskOverlay *self, const RmMaskRect *rect)
{
  g_return_if_fail (self != NULL);

  for (guint l = 0; l < self->n_levels; l++)
    {
      Level *level = &self->levels[l];
      int c0 = 0, r0 = 0, c1 = level->n_columns, r1 = level->n_rows;

      if (rect != NULL)
        {
          /* one more pixel each side: a change there makes or unmakes an edge pixel */
          int span = RM_MASK_OVERLAY_TILE_SIZE << l;

          c0 = MAX ((rect->x - 1) / span, 0);
          r0 = MAX ((rect->y - 1) / span, 0);
          c1 = MIN ((rect->x + rect->width + 1) / span + 1, level->n_columns);
          r1 = MIN ((rect->y + rect->height + 1) / span + 1, level->n_rows);
        }

      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++)
          {
            g_clear_object (&level->tiles[r * level->n_columns + c]);
            level->empty[r * level->n_columns + c] = 0;
          }
    }
}

static guint8
to_byte (double v)
{
  return (guint8) lround (CLAMP (v, 0, 1) * 255);
}

/* The premultiplied B8G8R8A8 texels of @texels (a rectangle of the level with @factor pixels
 * a texel side) of the @width x @height @mask; rows of texels->width * 4 bytes. */
guint8 *
rm_mask_overlay_render (const guint8 *mask, int width, int height, int factor,
                        const RmMaskRect *texels, const GdkRGBA *colour, double opacity)
{
  double edge_opacity = MIN (1.0, 2 * opacity);
  guint8 *out;

  g_return_val_if_fail (mask != NULL && texels != NULL && colour != NULL, NULL);
  g_return_val_if_fail (factor >= 1 && texels->width > 0 && texels->height > 0, NULL);

  out = g_malloc0 ((gsize) texels->width * texels->height * BPP);
  for (int ty = 0; ty < texels->height; ty++)
    {
      int y0 = (texels->y + ty) * factor;
      int y1 = MIN (y0 + factor, height);
      guint8 *o = out + (gsize) ty * texels->width * BPP;

      for (int tx = 0; tx < texels->width; tx++, o += BPP)
        {
          int x0 = (texels->x + tx) * factor;
          int x1 = MIN (x0 + factor, width);
          int n = (x1 - x0) * (y1 - y0), n_set = 0, n_edge = 0;
          double alpha;

          if (n <= 0)
            continue;

          for (int y = y0; y < y1; y++)
            {
              const guint8 *row = mask + (gsize) y * width;
              const guint8 *up = y > 0 ? row - width : NULL;
              const guint8 *down = y + 1 < height ? row + width : NULL;

              for (int x = x0; x < x1; x++)
                {
                  if (!row[x])
                    continue;
                  n_set++;
                  if ((x > 0 && !row[x - 1]) || (x + 1 < width && !row[x + 1]) ||
                      (up != NULL && !up[x]) || (down != NULL && !down[x]))
                    n_edge++;
                }
            }
          if (n_set == 0)
            continue;

          alpha = MAX (opacity * n_set / n, edge_opacity * MIN (1.0, (double) n_edge / factor));
          o[0] = to_byte (colour->blue * alpha);
          o[1] = to_byte (colour->green * alpha);
          o[2] = to_byte (colour->red * alpha);
          o[3] = to_byte (alpha);
        }
    }

  return out;
}

/* The tile's texture, or NULL when it has nothing to draw. */
static GdkTexture *
make_tile (RmMaskOverlay *self, const guint8 *mask, guint l, int column, int row)
{
  const Level *level = &self->levels[l];
  RmMaskRect texels;
  g_autoptr (GBytes) bytes = NULL;
  gboolean empty = TRUE;
  guint8 *pixels;

  texels.x = column * RM_MASK_OVERLAY_TILE_SIZE;
  texels.y = row * RM_MASK_OVERLAY_TILE_SIZE;
  texels.width = MIN (RM_MASK_OVERLAY_TILE_SIZE, level->width - texels.x);
  texels.height = MIN (RM_MASK_OVERLAY_TILE_SIZE, level->height - texels.y);
  pixels = rm_mask_overlay_render (mask, self->width, self->height, 1 << l, &texels, &self->colour,
                                   self->opacity);
  for (gsize i = 0; empty && i < (gsize) texels.width * texels.height; i++)
    empty = pixels[i * BPP + 3] == 0;
  if (empty)
    {
      g_free (pixels);
      return NULL;
    }

  bytes = g_bytes_new_take (pixels, (gsize) texels.width * texels.height * BPP);
  self->n_uploads++;

  return gdk_memory_texture_new (texels.width, texels.height, GDK_MEMORY_DEFAULT, bytes,
                                 (gsize) texels.width * BPP);
}

/* The coarsest level with at least one texel per device pixel, as the image pyramid. */
static guint
choose_level (RmMaskOverlay *self, double device_scale)
{
  guint chosen = 0;

  if (!(device_scale > 0))
    return 0;

  for (guint l = 1; l < self->n_levels; l++)
    {
      const Level *level = &self->levels[l];
      double texels_per_pixel =
          MIN ((double) level->width / self->width, (double) level->height / self->height) /
          device_scale;

      if (texels_per_pixel < 1.0 - 1e-9)
        break;
      chosen = l;
    }

  return chosen;
}

static double
snap (double v, double scale_factor)
{
  return round (v * scale_factor) / scale_factor;
}

/* Draws @mask (the overlay's size; the caller's buffer) with @view's transform, the visible
 * tiles only, making the textures that are missing. Returns the number of tiles drawn. */
guint
rm_mask_overlay_snapshot (RmMaskOverlay *self, GtkSnapshot *snapshot, const guint8 *mask,
                          const RmView *view, int scale_factor)
{
  double x0, y0, x1, y1, sx, sy;
  const Level *level;
  int c0, c1, r0, r1;
  guint l, n_drawn = 0;

  g_return_val_if_fail (self != NULL && mask != NULL && view != NULL, 0);

  if (view->image_width != self->width || view->image_height != self->height ||
      !rm_view_get_visible_region (view, &x0, &y0, &x1, &y1))
    return 0;

  l = choose_level (self, view->scale * scale_factor);
  level = &self->levels[l];
  sx = (double) level->width / self->width;
  sy = (double) level->height / self->height;
  c0 = CLAMP ((int) floor (x0 * sx / RM_MASK_OVERLAY_TILE_SIZE), 0, level->n_columns - 1);
  c1 = CLAMP ((int) ceil (x1 * sx / RM_MASK_OVERLAY_TILE_SIZE), 1, level->n_columns);
  r0 = CLAMP ((int) floor (y0 * sy / RM_MASK_OVERLAY_TILE_SIZE), 0, level->n_rows - 1);
  r1 = CLAMP ((int) ceil (y1 * sy / RM_MASK_OVERLAY_TILE_SIZE), 1, level->n_rows);

  for (int r = r0; r < r1; r++)
    for (int c = c0; c < c1; c++)
      {
        GdkTexture **tile = &level->tiles[r * level->n_columns + c];
        guint8 *empty = &level->empty[r * level->n_columns + c];
        int tx = c * RM_MASK_OVERLAY_TILE_SIZE, ty = r * RM_MASK_OVERLAY_TILE_SIZE;
        int tw = MIN (RM_MASK_OVERLAY_TILE_SIZE, level->width - tx);
        int th = MIN (RM_MASK_OVERLAY_TILE_SIZE, level->height - ty);
        double left = snap (view->x + tx / sx * view->scale, scale_factor);
        double top = snap (view->y + ty / sy * view->scale, scale_factor);
        double right = snap (view->x + (tx + tw) / sx * view->scale, scale_factor);
        double bottom = snap (view->y + (ty + th) / sy * view->scale, scale_factor);

        if (right <= left || bottom <= top || *empty)
          continue;
        if (*tile == NULL)
          {
            *tile = make_tile (self, mask, l, c, r);
            *empty = *tile == NULL;
            if (*empty)
              continue;
          }
        gtk_snapshot_append_texture (snapshot, *tile,
                                     &GRAPHENE_RECT_INIT (left, top, right - left, bottom - top));
        n_drawn++;
      }

  return n_drawn;
}

/* How many tile textures were made since the overlay was created (for tests and profiling). */
guint
rm_mask_overlay_get_n_uploads (const RmMaskOverlay *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_uploads;
}

/* An opaque texture of @map (values in [0, 1], width x height) in the engine's heatmap colours,
 * to be drawn stretched over the image: the renderer's bilinear filter upsamples it as the
 * model does (align_corners false). */
GdkTexture *
rm_heatmap_texture_new (const float *map, int width, int height)
{
  g_autoptr (RmImage) rgb = NULL;
  g_autoptr (GBytes) bytes = NULL;
  guint8 *pixels;

  g_return_val_if_fail (map != NULL && width > 0 && height > 0, NULL);

  rgb = rm_image_new_heatmap (map, width, height);
  pixels = g_malloc ((gsize) width * height * BPP);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      pixels[i * BPP + 0] = rgb->pixels[i * 3 + 2];
      pixels[i * BPP + 1] = rgb->pixels[i * 3 + 1];
      pixels[i * BPP + 2] = rgb->pixels[i * 3 + 0];
      pixels[i * BPP + 3] = 255;
    }
  bytes = g_bytes_new_take (pixels, (gsize) width * height * BPP);

  return gdk_memory_texture_new (width, height, GDK_MEMORY_DEFAULT, bytes, (gsize) width * BPP);
}
