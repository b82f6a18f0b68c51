/* rm-image-pyramid.h: a decoded image as tiles at several resolutions
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk/gdk.h>
#include <gio/gio.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_IMAGE_PYRAMID_TILE_SIZE 512

#define RM_TYPE_IMAGE_PYRAMID (rm_image_pyramid_get_type ())

G_DECLARE_FINAL_TYPE (RmImagePyramid, rm_image_pyramid, RM, IMAGE_PYRAMID, GObject)

/* One tile of one level; x, y, width, height in that level's pixels. */
typedef struct
{
  GdkTexture *texture;
  int x;
  int y;
  int width;
  int height;
} RmImageTile;

RmImagePyramid *rm_image_pyramid_new_for_texture (GdkTexture *texture, int tile_size);
void rm_image_pyramid_new_from_file_async (GFile *file, GCancellable *cancellable,
                                           GAsyncReadyCallback callback, gpointer user_data);
RmImagePyramid *rm_image_pyramid_new_from_file_finish (GAsyncResult *result, GError **error);
int rm_image_pyramid_get_width (RmImagePyramid *self);
int rm_image_pyramid_get_height (RmImagePyramid *self);
int rm_image_pyramid_get_tile_size (RmImagePyramid *self);
guint rm_image_pyramid_get_n_levels (RmImagePyramid *self);
guint rm_image_pyramid_choose_level (RmImagePyramid *self, double device_scale);
void rm_image_pyramid_get_level_size (RmImagePyramid *self, guint level, int *width, int *height);
void rm_image_pyramid_get_tile_grid (RmImagePyramid *self, guint level, int *n_columns,
                                     int *n_rows);
const RmImageTile *rm_image_pyramid_get_tile (RmImagePyramid *self, guint level, int column,
                                              int row);

guint8 *rm_image_downsample_box (const guint8 *src, int width, int height, gsize stride, int factor,
                                 int *out_width, int *out_height);
GdkTexture *rm_image_make_thumbnail (GdkTexture *texture, int max_size);

G_END_DECLS
