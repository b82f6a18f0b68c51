/* rm-image-item.h: one image of the sidebar
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk/gdk.h>
#include <gio/gio.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_IMAGE_ITEM_THUMBNAIL_SIZE 128

typedef enum
{
  RM_IMAGE_ITEM_STATE_NONE,
  RM_IMAGE_ITEM_STATE_LOADING,
  RM_IMAGE_ITEM_STATE_READY,
  RM_IMAGE_ITEM_STATE_FAILED,
} RmImageItemState;

/* Where the image's annotations stand (the sidebar's badge and filter). */
typedef enum
{
  RM_IMAGE_STATUS_UNLABELLED, /* no annotation */
  RM_IMAGE_STATUS_CANDIDATES, /* at least one candidate waits for review */
  RM_IMAGE_STATUS_REVIEWED,   /* annotations, all accepted or rejected */
} RmImageStatus;

#define RM_TYPE_IMAGE_ITEM (rm_image_item_get_type ())

G_DECLARE_FINAL_TYPE (RmImageItem, rm_image_item, RM, IMAGE_ITEM, GObject)

RmImageItem *rm_image_item_new (GFile *file);
GFile *rm_image_item_get_file (RmImageItem *self);
const char *rm_image_item_get_display_name (RmImageItem *self);
GdkPaintable *rm_image_item_get_thumbnail (RmImageItem *self);
int rm_image_item_get_width (RmImageItem *self);
int rm_image_item_get_height (RmImageItem *self);
RmImageItemState rm_image_item_get_state (RmImageItem *self);
const char *rm_image_item_get_error_message (RmImageItem *self);
void rm_image_item_set_size (RmImageItem *self, int width, int height);
void rm_image_item_ensure_thumbnail (RmImageItem *self);
RmImageStatus rm_image_item_get_status (RmImageItem *self);
guint rm_image_item_get_n_annotations (RmImageItem *self);
guint rm_image_item_get_n_candidates (RmImageItem *self);
void rm_image_item_set_counts (RmImageItem *self, guint n_annotations, guint n_candidates);

/* Collects the image files among @files, expanding folders (not recursively), in a worker. */
void rm_image_scan_async (GFile **files, guint n_files, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *rm_image_scan_finish (GAsyncResult *result, guint *n_skipped, GError **error);
gboolean rm_image_content_type_is_supported (const char *content_type);

G_END_DECLS
