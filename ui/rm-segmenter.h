/* rm-segmenter.h: the model, loaded and run in worker threads
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "refmask-engine.h"
#include "rm-types.h"

G_BEGIN_DECLS

typedef enum
{
  RM_SEGMENTER_STATE_EMPTY,
  RM_SEGMENTER_STATE_LOADING,
  RM_SEGMENTER_STATE_READY,
  RM_SEGMENTER_STATE_FAILED,
} RmSegmenterState;

#define RM_TYPE_SEGMENTER (rm_segmenter_get_type ())

G_DECLARE_FINAL_TYPE (RmSegmenter, rm_segmenter, RM, SEGMENTER, GObject)

RmSegmenter *rm_segmenter_new (void);
RmSegmenterState rm_segmenter_get_state (RmSegmenter *self);
const char *rm_segmenter_get_model_dir (RmSegmenter *self);
const char *rm_segmenter_get_description (RmSegmenter *self);
const char *rm_segmenter_get_error_message (RmSegmenter *self);
gboolean rm_segmenter_get_busy (RmSegmenter *self);
void rm_segmenter_set_device (RmSegmenter *self, const char *device);
const char *rm_segmenter_get_device (RmSegmenter *self);

void rm_segmenter_load_async (RmSegmenter *self, const char *dir, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean rm_segmenter_load_finish (RmSegmenter *self, GAsyncResult *result, GError **error);
void rm_segmenter_unload (RmSegmenter *self);

void rm_segmenter_segment_async (RmSegmenter *self, GFile *image, const char *expression,
                                 int n_threads, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
RmSegmentResult *rm_segmenter_segment_finish (RmSegmenter *self, GAsyncResult *result,
                                              GError **error);

typedef void (*RmSegmenterItemFunc) (RmSegmenter *self, guint index, RmSegmentResult *result,
                                     const GError *error, gpointer user_data);
void rm_segmenter_segment_batch_async (RmSegmenter *self, GFile *const *images, guint n_images,
                                       const char *expression, int n_threads,
                                       GCancellable *cancellable, RmSegmenterItemFunc item_func,
                                       gpointer item_data, GDestroyNotify item_destroy,
                                       GAsyncReadyCallback callback, gpointer user_data);
guint rm_segmenter_segment_batch_finish (RmSegmenter *self, GAsyncResult *result, GError **error);

RmImage *rm_segmenter_load_image (GFile *file, GError **error);
const char *rm_segmenter_describe_stage (const char *stage, double fraction, double *overall);

/* For tests: called in the worker on every progress report of the engine, before it is
 * passed on; may block (the abort flag is polled after it returns). */
typedef void (*RmSegmenterTestHook) (const char *stage, double fraction, gpointer user_data);
void rm_segmenter_set_test_hook (RmSegmenterTestHook hook, gpointer user_data);

G_END_DECLS
