/* rm-image-pyramid.c: a decoded image as tiles at several resolutions
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The canvas draws only the tiles that intersect the view, from the level whose resolution is
 * closest to (and not below) the screen's, so a 10 000 px image costs the same per frame as a
 * small one. Level l + 1 is a 2 x 2 box average of level l. Tiles share their level's pixels:
 * each is a GdkMemoryTexture over a slice of one GBytes, so tiling copies nothing.
 */

#include "rm-image-pyramid.h"

#include <glib/gi18n.h>
#include <math.h>

#define BPP 4 /* GDK_MEMORY_DEFAULT: premultiplied B8G8R8A8 in memory order */

typedef struct
{
  int width;
  int height;
  gsize stride;
  GBytes *bytes;
  int n_columns;
  int n_rows;
  RmImageTile *tiles;
} Level;

struct _RmImagePyramid
{
  GObject parent_instance;

  int width;
  int height;
  int tile_size;
  GArray *levels; /* of Level */
};

G_DEFINE_FINAL_TYPE (RmImagePyramid, rm_image_pyramid, G_TYPE_OBJECT)

static void
level_clear (gpointer data)
{
  Level *level = data;

  for (int i = 0; i < level->n_columns * level->n_rows; i++)
    g_clear_object (&level->tiles[i].texture);
  g_clear_pointer (&level->tiles, g_free);
  g_clear_pointer (&level->bytes, g_bytes_unref);
}

static void
rm_image_pyramid_finalize (GObject *object)
{
  RmImagePyramid *self = (RmImagePyramid *) object;

  g_clear_pointer (&self->levels, g_array_unref);

  G_OBJECT_CLASS (rm_image_pyramid_parent_class)->finalize (object);
}

static void
rm_image_pyramid_class_init (RmImagePyramidClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = rm_image_pyramid_finalize;
}

static void
rm_image_pyramid_init (RmImagePyramid *self)
{
  self->levels = g_array_new (FALSE, TRUE, sizeof (Level));
  g_array_set_clear_func (self->levels, level_clear);
}

/* Averages factor x factor blocks of premultiplied 4-byte pixels; edge blocks average the
 * pixels they have. */
guint8 *
rm_image_downsample_box (const guint8 *src, int width, int height, gsize stride, int factor,
                         int *out_width, int *out_height)
{
  int ow, oh;
  guint8 *dst;

  g_return_val_if_fail (src != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0 && factor >= 1, NULL);

  ow = (width + factor - 1) / factor;
  oh = (height + factor - 1) / factor;
  dst = g_malloc ((gsize) ow * oh * BPP);

  for (int oy = 0; oy < oh; oy++)
    {
      int y0 = oy * factor;
      int y1 = MIN (y0 + factor, height);
      guint8 *out = dst + (gsize) oy * ow * BPP;

      for (int ox = 0; ox < ow; ox++)
        {
          int x0 = ox * factor;
          int x1 = MIN (x0 + factor, width);
          guint32 sum[BPP] = { 0 };
          guint32 n = (guint32) ((x1 - x0) * (y1 - y0));

          for (int y = y0; y < y1; y++)
            {
              const guint8 *p = src + (gsize) y * stride + (gsize) x0 * BPP;

              for (int x = x0; x < x1; x++, p += BPP)
                for (int c = 0; c < BPP; c++)
                  sum[c] += p[c];
            }
          for (int c = 0; c < BPP; c++)
            out[ox * BPP + c] = (guint8) ((sum[c] + n / 2) / n);
        }
    }

  *out_width = ow;
  *out_height = oh;

  return dst;
}

static void
level_make_tiles (Level *level, int tile_size)
{
  level->n_columns = (level->width + tile_size - 1) / tile_size;
  level->n_rows = (level->height + tile_size - 1) / tile_size;
  level->tiles = g_new0 (RmImageTile, (gsize) level->n_columns * level->n_rows);

  for (int r = 0; r < level->n_rows; r++)
    for (int c = 0; c < level->n_columns; c++)
      {
        RmImageTile *tile = &level->tiles[r * level->n_columns + c];
        g_autoptr (GBytes) slice = NULL;
        gsize offset;

        tile->x = c * tile_size;
        tile->y = r * tile_size;
        tile->width = MIN (tile_size, level->width - tile->x);
        tile->height = MIN (tile_size, level->height - tile->y);
        offset = (gsize) tile->y * level->stride + (gsize) tile->x * BPP;
        slice = g_bytes_new_from_bytes (level->bytes, offset,
                                        (gsize) (tile->height - 1) * level->stride +
                                            (gsize) tile->width * BPP);
        tile->texture = gdk_memory_texture_new (tile->width, tile->height, GDK_MEMORY_DEFAULT,
                                                slice, level->stride);
      }
}

static guint8 *
download_texture (GdkTexture *texture, gsize *stride)
{
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  guint8 *data;

  *stride = (gsize) width * BPP;
  data = g_try_malloc (*stride * height);
  if (data != NULL)
    gdk_texture_download (texture, data, *stride);

  return data;
}

static RmImagePyramid *
pyramid_build (GdkTexture *texture, int tile_size, GCancellable *cancellable, GError **error)
{
  g_autoptr (RmImagePyramid) self = NULL;
  Level level = { 0 };
  guint8 *data;

  data = download_texture (texture, &level.stride);
  if (data == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   _ ("Not enough memory for an image of %d × %d pixels"),
                   gdk_texture_get_width (texture), gdk_texture_get_height (texture));
      return NULL;
    }

  self = g_object_new (RM_TYPE_IMAGE_PYRAMID, NULL);
  self->width = level.width = gdk_texture_get_width (texture);
  self->height = level.height = gdk_texture_get_height (texture);
  self->tile_size = tile_size;
  level.bytes = g_bytes_new_take (data, level.stride * level.height);
  level_make_tiles (&level, tile_size);
  g_array_append_val (self->levels, level);

  while (level.width > tile_size || level.height > tile_size)
    {
      Level next = { 0 };
      guint8 *pixels;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      pixels = rm_image_downsample_box (g_bytes_get_data (level.bytes, NULL), level.width,
                                        level.height, level.stride, 2, &next.width, &next.height);
      next.stride = (gsize) next.width * BPP;
      next.bytes = g_bytes_new_take (pixels, next.stride * next.height);
      level_make_tiles (&next, tile_size);
      g_array_append_val (self->levels, next);
      level = next;
    }

  return g_steal_pointer (&self);
}

RmImagePyramid *
rm_image_pyramid_new_for_texture (GdkTexture *texture, int tile_size)
{
  g_return_val_if_fail (GDK_IS_TEXTURE (texture), NULL);
  g_return_val_if_fail (tile_size >= 16, NULL);

  return pyramid_build (texture, tile_size, NULL, NULL);
}

static void
load_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  GFile *file = task_data;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = g_file_get_path (file);
  GError *error = NULL;
  RmImagePyramid *pyramid;

  if (path != NULL)
    texture = gdk_texture_new_from_filename (path, &error);
  else
    texture = gdk_texture_new_from_file (file, &error);

  if (texture == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (g_task_return_error_if_cancelled (task))
    return;

  pyramid = pyramid_build (texture, RM_IMAGE_PYRAMID_TILE_SIZE, cancellable, &error);
  if (pyramid == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, pyramid, g_object_unref);
}

/* Decodes @file and builds its levels in a worker thread. */
void
rm_image_pyramid_new_from_file_async (GFile *file, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, rm_image_pyramid_new_from_file_async);
  g_task_set_task_data (task, g_object_ref (file), g_object_unref);
  g_task_run_in_thread (task, load_thread);
}

RmImagePyramid *
rm_image_pyramid_new_from_file_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

int
rm_image_pyramid_get_width (RmImagePyramid *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), 0);

  return self->width;
}

int
rm_image_pyramid_get_height (RmImagePyramid *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), 0);

  return self->height;
}

int
rm_image_pyramid_get_tile_size (RmImagePyramid *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), 0);

  return self->tile_size;
}

guint
rm_image_pyramid_get_n_levels (RmImagePyramid *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), 0);

  return self->levels->len;
}

/* The coarsest level that still has at least one texel per device pixel at @device_scale
 * (device pixels per image pixel). */
guint
rm_image_pyramid_choose_level (RmImagePyramid *self, double device_scale)
{
  guint chosen = 0;

  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), 0);

  if (!(device_scale > 0))
    return 0;

  for (guint i = 1; i < self->levels->len; i++)
    {
      const Level *level = &g_array_index (self->levels, Level, i);
      double texels_per_pixel =
          MIN ((double) level->width / self->width, (double) level->height / self->height) /
          device_scale;

      if (texels_per_pixel < 1.0 - 1e-9)
        break;
      chosen = i;
    }

  return chosen;
}

void
rm_image_pyramid_get_level_size (RmImagePyramid *self, guint level, int *width, int *height)
{
  const Level *l;

  g_return_if_fail (RM_IS_IMAGE_PYRAMID (self));
  g_return_if_fail (level < self->levels->len);

  l = &g_array_index (self->levels, Level, level);
  *width = l->width;
  *height = l->height;
}

void
rm_image_pyramid_get_tile_grid (RmImagePyramid *self, guint level, int *n_columns, int *n_rows)
{
  const Level *l;

  g_return_if_fail (RM_IS_IMAGE_PYRAMID (self));
  g_return_if_fail (level < self->levels->len);

  l = &g_array_index (self->levels, Level, level);
  *n_columns = l->n_columns;
  *n_rows = l->n_rows;
}

const RmImageTile *
rm_image_pyramid_get_tile (RmImagePyramid *self, guint level, int column, int row)
{
  const Level *l;

  g_return_val_if_fail (RM_IS_IMAGE_PYRAMID (self), NULL);
  g_return_val_if_fail (level < self->levels->len, NULL);

  l = &g_array_index (self->levels, Level, level);
  g_return_val_if_fail (column >= 0 && column < l->n_columns, NULL);
  g_return_val_if_fail (row >= 0 && row < l->n_rows, NULL);

  return &l->tiles[row * l->n_columns + column];
}

/* A copy of @texture no larger than @max_size on either side (any thread). */
GdkTexture *
rm_image_make_thumbnail (GdkTexture *texture, int max_size)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree guint8 *data = NULL;
  int width, height, factor, tw, th;
  guint8 *pixels;
  gsize stride;

  g_return_val_if_fail (GDK_IS_TEXTURE (texture), NULL);
  g_return_val_if_fail (max_size > 0, NULL);

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  factor = (MAX (width, height) + max_size - 1) / max_size;
  if (factor <= 1)
    return g_object_ref (texture);

  data = download_texture (texture, &stride);
  if (data == NULL)
    return NULL;

  pixels = rm_image_downsample_box (data, width, height, stride, factor, &tw, &th);
  bytes = g_bytes_new_take (pixels, (gsize) tw * th * BPP);

  return gdk_memory_texture_new (tw, th, GDK_MEMORY_DEFAULT, bytes, (gsize) tw * BPP);
}
