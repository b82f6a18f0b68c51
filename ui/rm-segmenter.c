/* rm-segmenter.c: the model, loaded and run in worker threads
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Loading a model and segmenting an image both run in GTask worker threads; the main thread
 * only sees the results. The engine's progress callback is called in the worker: reports are
 * thinned out there and handed to the main context (rm_main_context_post), where the
 * "progress" signal is emitted. Cancelling the GCancellable sets an atomic flag that the
 * engine's abort callback polls between blocks, so a cancelled query stops within a block.
 *
 * The model is immutable and shared: a running query holds a reference on it, so loading
 * another model meanwhile is safe. Sessions (one per thread at a time) are kept for the next
 * query. They compute on the device of the "device" property (bound to the `device` setting) as
 * it was when the operation started; a device the engine cannot use (CUDA asked for, none there)
 * fails the operation with the engine's reason.
 *
 * A batch runs one expression over many images in one worker, one image after the other with one
 * session; each image's result is handed to the main context as soon as it is ready (so a
 * cancelled batch keeps what it finished), and its progress ("batch-progress") tells which image
 * it is at. A batch and queries can run at the same time.
 */

#include "rm-segmenter.h"

#include "rm-main-context.h"

#include <gdk/gdk.h>
#include <glib/gi18n.h>
#include <string.h>

#define PROGRESS_MIN_STEP 0.02

/* ---- the shared model -------------------------------------------------------------------- */

typedef struct
{
  RmModel *model;
  char *dir;
  char *description;
  GMutex lock;
  RmSession *spare; /* a session for the next query, or NULL */
  int spare_threads;
  RmDeviceChoice spare_device;
} ModelRef;

static void
model_ref_clear (gpointer data)
{
  ModelRef *ref = data;

  g_clear_pointer (&ref->spare, rm_session_free);
  g_clear_pointer (&ref->model, rm_model_free);
  g_clear_pointer (&ref->dir, g_free);
  g_clear_pointer (&ref->description, g_free);
  g_mutex_clear (&ref->lock);
}

static void
model_ref_unref (ModelRef *ref)
{
  g_atomic_rc_box_release_full (ref, model_ref_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ModelRef, model_ref_unref)

/* The spare session when it fits, else a new one on @device; NULL with the engine's error when
 * that device cannot be used. */
static RmSession *
model_ref_take_session (ModelRef *ref, int n_threads, RmDeviceChoice device, GError **error)
{
  RmSession *session = NULL;

  g_mutex_lock (&ref->lock);
  if (ref->spare != NULL && ref->spare_threads == n_threads && ref->spare_device == device)
    session = g_steal_pointer (&ref->spare);
  g_mutex_unlock (&ref->lock);

  return session != NULL ? session
                         : rm_session_new_on_device (ref->model, device, n_threads, error);
}

static void
model_ref_give_session (ModelRef *ref, RmSession *session, int n_threads, RmDeviceChoice device)
{
  g_mutex_lock (&ref->lock);
  if (ref->spare == NULL)
    {
      ref->spare = g_steal_pointer (&session);
      ref->spare_threads = n_threads;
      ref->spare_device = device;
    }
  g_mutex_unlock (&ref->lock);

  g_clear_pointer (&session, rm_session_free);
}

/* ---- the object -------------------------------------------------------------------------- */

struct _RmSegmenter
{
  GObject parent_instance;

  RmSegmenterState state;
  ModelRef *model;     /* when READY */
  char *dir;           /* being loaded, or loaded */
  char *error_message; /* when FAILED */
  guint load_serial;   /* the newest load; older ones are ignored when they finish */
  guint op_serial;     /* the newest operation: its progress is reported */
  guint n_running;
  RmDeviceChoice device; /* where the next operations compute */
};

G_DEFINE_FINAL_TYPE (RmSegmenter, rm_segmenter, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_BUSY,
  PROP_DEVICE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  PROGRESS,
  BATCH_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static RmSegmenterTestHook test_hook;
static gpointer test_hook_data;

/* Installs (or with NULL removes) a hook for tests; see rm-segmenter.h. */
void
rm_segmenter_set_test_hook (RmSegmenterTestHook hook, gpointer user_data)
{
  test_hook_data = user_data;
  g_atomic_pointer_set (&test_hook, hook);
}

static void
set_state (RmSegmenter *self, RmSegmenterState state)
{
  if (self->state == state)
    return;
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
set_running (RmSegmenter *self, guint n_running)
{
  gboolean was_busy = self->n_running > 0;

  self->n_running = n_running;
  if (was_busy != (n_running > 0))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

/* ---- progress and abort, in the worker --------------------------------------------------- */

typedef struct
{
  RmSegmenter *self; /* a reference: the report may outlive the task */
  guint serial;
  char stage[32];
  double fraction;
  gboolean batch;
  guint index;
  guint n_images;
} Report;

typedef struct
{
  RmSegmenter *self; /* owned by the task; only referenced again for reports */
  GMainContext *context;
  guint serial;
  gint abort; /* atomic: set from the GCancellable's "cancelled" handler */
  char last_stage[32];
  double last_fraction;
  gboolean batch; /* reports are "batch-progress", for image index of n_images */
  guint index;
  guint n_images;
} Progress;

static gboolean
deliver_report (gpointer data)
{
  Report *report = data;

  if (report->batch)
    g_signal_emit (report->self, signals[BATCH_PROGRESS], 0, report->index, report->n_images,
                   report->stage, report->fraction);
  else if (report->serial == report->self->op_serial)
    g_signal_emit (report->self, signals[PROGRESS], 0, report->stage, report->fraction);

  return G_SOURCE_REMOVE;
}

static void
report_free (gpointer data)
{
  Report *report = data;

  g_object_unref (report->self);
  g_free (report);
}

static void
progress_report (Progress *progress, const char *stage, double fraction)
{
  RmSegmenterTestHook hook = g_atomic_pointer_get (&test_hook);
  Report *report;

  if (hook != NULL)
    hook (stage, fraction, test_hook_data);

  if (strcmp (progress->last_stage, stage) == 0 && fraction < 1.0 &&
      fraction - progress->last_fraction < PROGRESS_MIN_STEP)
    return;
  g_strlcpy (progress->last_stage, stage, sizeof progress->last_stage);
  progress->last_fraction = fraction;

  report = g_new0 (Report, 1);
  report->self = g_object_ref (progress->self);
  report->serial = progress->serial;
  g_strlcpy (report->stage, stage, sizeof report->stage);
  report->fraction = CLAMP (fraction, 0.0, 1.0);
  report->batch = progress->batch;
  report->index = progress->index;
  report->n_images = progress->n_images;
  rm_main_context_post (progress->context, deliver_report, report, report_free);
}

static void
on_engine_progress (void *user, int index, const char *stage, double fraction)
{
  progress_report (user, stage, fraction);
}

static bool
on_engine_abort (void *user)
{
  Progress *progress = user;

  return g_atomic_int_get (&progress->abort) != 0;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Progress *progress = user_data;

  g_atomic_int_set (&progress->abort, 1);
}

static void
progress_init (Progress *progress, RmSegmenter *self)
{
  progress->self = self;
  progress->context = g_main_context_ref_thread_default ();
  progress->serial = ++self->op_serial;
  progress->last_fraction = -1;
}

/* A batch's reports do not take the "progress" of single operations over. */
static void
progress_init_batch (Progress *progress, RmSegmenter *self, guint n_images)
{
  progress->self = self;
  progress->context = g_main_context_ref_thread_default ();
  progress->last_fraction = -1;
  progress->batch = TRUE;
  progress->n_images = n_images;
}

static void
progress_clear (Progress *progress)
{
  g_clear_pointer (&progress->context, g_main_context_unref);
}

/* Connects the abort flag to @cancellable for the worker's run; returns the handler id. */
static gulong
progress_connect (Progress *progress, GCancellable *cancellable)
{
  if (cancellable == NULL)
    return 0;

  return g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), progress, NULL);
}

/* Engine errors: a cancellation is reported as G_IO_ERROR_CANCELLED, like GIO's. */
static GError *
convert_error (GError *error)
{
  if (g_error_matches (error, RM_ERROR, RM_ERROR_CANCELLED))
    {
      GError *cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, error->message);

      g_error_free (error);
      return cancelled;
    }

  return error;
}

/* ---- loading ----------------------------------------------------------------------------- */

typedef struct
{
  Progress progress;
  char *dir;
  guint load_serial;
} LoadData;

static void
load_data_free (gpointer data)
{
  LoadData *load = data;

  progress_clear (&load->progress);
  g_free (load->dir);
  g_free (load);
}

static void
load_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  LoadData *load = task_data;
  RmLoadParams params = rm_load_default_params ();
  GError *error = NULL;
  ModelRef *ref;
  RmModel *model;
  gulong handler;

  handler = progress_connect (&load->progress, cancellable);
  params.progress = on_engine_progress;
  params.progress_user = &load->progress;
  params.abort = on_engine_abort;
  params.abort_user = &load->progress;
  model = rm_model_load (load->dir, &params, &error);
  g_cancellable_disconnect (cancellable, handler);

  if (model == NULL)
    {
      g_task_return_error (task, convert_error (error));
      return;
    }

  ref = g_atomic_rc_box_new0 (ModelRef);
  g_mutex_init (&ref->lock);
  ref->model = model;
  ref->dir = g_strdup (load->dir);
  ref->description = rm_model_describe (model);
  g_task_return_pointer (task, ref, (GDestroyNotify) model_ref_unref);
}

static void
load_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  RmSegmenter *self = RM_SEGMENTER (object);
  g_autoptr (GTask) outer = user_data;
  LoadData *load = g_task_get_task_data (G_TASK (result));
  g_autoptr (ModelRef) ref = NULL;
  g_autoptr (GError) error = NULL;

  ref = g_task_propagate_pointer (G_TASK (result), &error);
  set_running (self, self->n_running - 1);

  if (load->load_serial != self->load_serial)
    {
      /* a newer load (or an unload) took over */
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "a newer model replaced this one");
      return;
    }

  if (ref == NULL)
    {
      g_clear_pointer (&self->error_message, g_free);
      self->error_message = g_strdup (error->message);
      set_state (self, g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
                           ? RM_SEGMENTER_STATE_EMPTY
                           : RM_SEGMENTER_STATE_FAILED);
      g_task_return_error (outer, g_steal_pointer (&error));
      return;
    }

  g_clear_pointer (&self->model, model_ref_unref);
  self->model = g_steal_pointer (&ref);
  set_state (self, RM_SEGMENTER_STATE_READY);
  g_task_return_boolean (outer, TRUE);
}

/* Loads the model in @dir in a worker thread, replacing the current one when it succeeds (and
 * dropping it when it fails). Progress is reported with "progress" (stages "config" and
 * "weights"). */
void
rm_segmenter_load_async (RmSegmenter *self, const char *dir, GCancellable *cancellable,
                         GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) inner = NULL;
  GTask *outer;
  LoadData *load;

  g_return_if_fail (RM_IS_SEGMENTER (self));
  g_return_if_fail (dir != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, rm_segmenter_load_async);

  load = g_new0 (LoadData, 1);
  progress_init (&load->progress, self);
  load->dir = g_strdup (dir);
  load->load_serial = ++self->load_serial;

  g_free (self->dir);
  self->dir = g_strdup (dir);
  g_clear_pointer (&self->error_message, g_free);
  g_clear_pointer (&self->model, model_ref_unref);
  set_state (self, RM_SEGMENTER_STATE_LOADING);
  set_running (self, self->n_running + 1);

  inner = g_task_new (self, cancellable, load_done, outer);
  g_task_set_source_tag (inner, rm_segmenter_load_async);
  g_task_set_task_data (inner, load, load_data_free);
  g_task_run_in_thread (inner, load_thread);
}

gboolean
rm_segmenter_load_finish (RmSegmenter *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Drops the model (a running query keeps its own reference until it ends). */
void
rm_segmenter_unload (RmSegmenter *self)
{
  g_return_if_fail (RM_IS_SEGMENTER (self));

  self->load_serial++;
  g_clear_pointer (&self->model, model_ref_unref);
  g_clear_pointer (&self->dir, g_free);
  g_clear_pointer (&self->error_message, g_free);
  set_state (self, RM_SEGMENTER_STATE_EMPTY);
}

/* ---- segmenting -------------------------------------------------------------------------- */

typedef struct
{
  Progress progress;
  ModelRef *model;
  GFile *image;
  char *expression;
  int n_threads;
  RmDeviceChoice device;
} SegmentData;

static void
segment_data_free (gpointer data)
{
  SegmentData *segment = data;

  progress_clear (&segment->progress);
  model_ref_unref (segment->model);
  g_object_unref (segment->image);
  g_free (segment->expression);
  g_free (segment);
}

/* Formats rm_image_load cannot read (TIFF): through GDK, then to RGB (alpha dropped). */
static RmImage *load_with_gdk (GFile *file, GError **error);

/* Decodes @file to RGB for the engine: rm_image_load, or GDK for what it cannot read (TIFF).
 * Thread-safe; for workers. */
RmImage *
rm_segmenter_load_image (GFile *file, GError **error)
{
  g_autofree char *path = g_file_get_path (file);
  RmImage *image = NULL;
  GError *local = NULL;

  g_return_val_if_fail (G_IS_FILE (file), NULL);

  if (path != NULL)
    image = rm_image_load (path, NULL, &local);
  if (image == NULL && (path == NULL || g_error_matches (local, RM_ERROR, RM_ERROR_FORMAT)))
    {
      g_clear_error (&local);
      image = load_with_gdk (file, &local);
    }
  if (image == NULL)
    g_propagate_error (error, local);

  return image;
}

static RmImage *
load_with_gdk (GFile *file, GError **error)
{
  g_autoptr (GdkTexture) texture = gdk_texture_new_from_file (file, error);
  g_autofree guint8 *bgra = NULL;
  RmImage *image;
  int width, height;

  if (texture == NULL)
    return NULL;

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  if ((gint64) width * height > RM_IMAGE_DEFAULT_MAX_PIXELS || width > RM_IMAGE_DEFAULT_MAX_SIDE ||
      height > RM_IMAGE_DEFAULT_MAX_SIDE)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE, "%d × %d pixels is too large", width,
                   height);
      return NULL;
    }

  bgra = g_malloc ((gsize) width * height * 4);
  gdk_texture_download (texture, bgra, (gsize) width * 4);
  image = rm_image_new (width, height, 3);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      const guint8 *p = bgra + i * 4;
      guint a = p[3];

      for (int c = 0; c < 3; c++)
        {
          guint v = p[2 - c];

          image->pixels[i * 3 + c] = a == 0 ? 0 : (guint8) MIN (255u, (v * 255 + a / 2) / a);
        }
    }

  return image;
}

static void
segment_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  SegmentData *segment = task_data;
  RmSegmentParams params = rm_segment_default_params ();
  g_autoptr (RmImage) image = NULL;
  const char *texts[] = { segment->expression };
  RmSegmentResult **results;
  RmSegmentResult *result;
  RmSession *session;
  GError *error = NULL;
  gulong handler;

  handler = progress_connect (&segment->progress, cancellable);

  progress_report (&segment->progress, "decode", 0.0);
  image = rm_segmenter_load_image (segment->image, &error);
  if (image == NULL)
    {
      g_cancellable_disconnect (cancellable, handler);
      g_task_return_error (task, error);
      return;
    }
  progress_report (&segment->progress, "decode", 1.0);

  params.progress = on_engine_progress;
  params.progress_user = &segment->progress;
  params.abort = on_engine_abort;
  params.abort_user = &segment->progress;
  params.want_prior_image = false; /* the canvas upsamples the g x g prior on the GPU */

  session = model_ref_take_session (segment->model, segment->n_threads, segment->device, &error);
  results = session == NULL || on_engine_abort (&segment->progress)
                ? NULL
                : rm_session_segment (session, image, texts, 1, &params, &error);
  if (session != NULL)
    model_ref_give_session (segment->model, session, segment->n_threads, segment->device);
  g_cancellable_disconnect (cancellable, handler);

  if (results == NULL)
    {
      if (error == NULL)
        error = g_error_new_literal (RM_ERROR, RM_ERROR_CANCELLED, "segmentation cancelled");
      g_task_return_error (task, convert_error (error));
      return;
    }

  result = g_steal_pointer (&results[0]);
  g_free (results);
  g_task_return_pointer (task, result, (GDestroyNotify) rm_segment_result_free);
}

static void
segment_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  RmSegmenter *self = RM_SEGMENTER (object);
  g_autoptr (GTask) outer = user_data;
  g_autoptr (GError) error = NULL;
  RmSegmentResult *segmentation;

  segmentation = g_task_propagate_pointer (G_TASK (result), &error);
  set_running (self, self->n_running - 1);
  if (segmentation == NULL)
    g_task_return_error (outer, g_steal_pointer (&error));
  else
    g_task_return_pointer (outer, segmentation, (GDestroyNotify) rm_segment_result_free);
}

/* Decodes @image and segments it with @expression in a worker thread, with @n_threads threads
 * (0: one per core). Progress is reported with "progress": "decode", then the engine's
 * stages. Cancelling @cancellable stops the engine at its next block; the result is then
 * G_IO_ERROR_CANCELLED. The model must be loaded. */
void
rm_segmenter_segment_async (RmSegmenter *self, GFile *image, const char *expression, int n_threads,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_autoptr (GTask) inner = NULL;
  GTask *outer;
  SegmentData *segment;

  g_return_if_fail (RM_IS_SEGMENTER (self));
  g_return_if_fail (G_IS_FILE (image));
  g_return_if_fail (expression != NULL);

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, rm_segmenter_segment_async);
  if (self->model == NULL)
    {
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s",
                               _ ("No model is loaded."));
      g_object_unref (outer);
      return;
    }

  segment = g_new0 (SegmentData, 1);
  progress_init (&segment->progress, self);
  segment->model = g_atomic_rc_box_acquire (self->model);
  segment->image = g_object_ref (image);
  segment->expression = g_strdup (expression);
  segment->n_threads = n_threads;
  segment->device = self->device;
  set_running (self, self->n_running + 1);

  inner = g_task_new (self, cancellable, segment_done, outer);
  g_task_set_source_tag (inner, rm_segmenter_segment_async);
  g_task_set_task_data (inner, segment, segment_data_free);
  g_task_run_in_thread (inner, segment_thread);
}

/* The result (free with rm_segment_result_free), or NULL with @error. */
RmSegmentResult *
rm_segmenter_segment_finish (RmSegmenter *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- batches ----------------------------------------------------------------------------- */

/* Where a batch's results go: shared by the worker's deliveries, freed by the last. */
typedef struct
{
  RmSegmenterItemFunc func;
  gpointer data;
  GDestroyNotify destroy;
} ItemSink;

static void
item_sink_clear (gpointer data)
{
  ItemSink *sink = data;

  if (sink->destroy != NULL)
    sink->destroy (sink->data);
}

static void
item_sink_unref (ItemSink *sink)
{
  g_atomic_rc_box_release_full (sink, item_sink_clear);
}

typedef struct
{
  RmSegmenter *self; /* a reference */
  ItemSink *sink;    /* a reference */
  guint index;
  RmSegmentResult *result;
  GError *error;
} Item;

static gboolean
deliver_item (gpointer data)
{
  Item *item = data;

  item->sink->func (item->self, item->index, g_steal_pointer (&item->result), item->error,
                    item->sink->data);

  return G_SOURCE_REMOVE;
}

static void
item_free (gpointer data)
{
  Item *item = data;

  g_object_unref (item->self);
  item_sink_unref (item->sink);
  g_clear_pointer (&item->result, rm_segment_result_free);
  g_clear_error (&item->error);
  g_free (item);
}

typedef struct
{
  Progress progress;
  ModelRef *model;
  GPtrArray *images; /* of GFile */
  char *expression;
  int n_threads;
  RmDeviceChoice device;
  ItemSink *sink;
  guint n_done; /* images with a result (worker, then read when the task returns) */
} BatchData;

static void
batch_data_free (gpointer data)
{
  BatchData *batch = data;

  progress_clear (&batch->progress);
  model_ref_unref (batch->model);
  g_ptr_array_unref (batch->images);
  g_free (batch->expression);
  g_clear_pointer (&batch->sink, item_sink_unref);
  g_free (batch);
}

static void
batch_deliver (BatchData *batch, guint index, RmSegmentResult *result, GError *error)
{
  Item *item = g_new0 (Item, 1);

  item->self = g_object_ref (batch->progress.self);
  item->sink = g_atomic_rc_box_acquire (batch->sink);
  item->index = index;
  item->result = result;
  item->error = error;
  rm_main_context_post (batch->progress.context, deliver_item, item, item_free);
}

static void
batch_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  BatchData *batch = task_data;
  RmSegmentParams params = rm_segment_default_params ();
  const char *texts[] = { batch->expression };
  RmSession *session;
  GError *session_error = NULL;
  gulong handler;

  /* Without a session (the device cannot be used) no image can be done: the batch fails. */
  session = model_ref_take_session (batch->model, batch->n_threads, batch->device, &session_error);
  if (session == NULL)
    {
      g_task_return_error (task, session_error);
      return;
    }

  handler = progress_connect (&batch->progress, cancellable);
  params.progress = on_engine_progress;
  params.progress_user = &batch->progress;
  params.abort = on_engine_abort;
  params.abort_user = &batch->progress;
  params.want_prior_image = false;

  for (guint i = 0; i < batch->images->len && !on_engine_abort (&batch->progress); i++)
    {
      g_autoptr (RmImage) image = NULL;
      RmSegmentResult **results = NULL;
      GError *error = NULL;

      batch->progress.index = i;
      batch->progress.last_stage[0] = '\0';
      progress_report (&batch->progress, "decode", 0.0);
      image = rm_segmenter_load_image (batch->images->pdata[i], &error);
      if (image != NULL && !on_engine_abort (&batch->progress))
        {
          progress_report (&batch->progress, "decode", 1.0);
          results = rm_session_segment (session, image, texts, 1, &params, &error);
        }
      if (results != NULL)
        {
          RmSegmentResult *result = g_steal_pointer (&results[0]);

          g_free (results);
          batch->n_done++;
          batch_deliver (batch, i, result, NULL);
        }
      else if (error != NULL && !g_error_matches (error, RM_ERROR, RM_ERROR_CANCELLED))
        batch_deliver (batch, i, NULL, error); /* that image failed; the others go on */
      else
        g_clear_error (&error);
    }
  model_ref_give_session (batch->model, session, batch->n_threads, batch->device);
  g_cancellable_disconnect (cancellable, handler);

  if (on_engine_abort (&batch->progress))
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "batch cancelled");
  else
    g_task_return_boolean (task, TRUE);
}

static void
batch_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  RmSegmenter *self = RM_SEGMENTER (object);
  g_autoptr (GTask) outer = user_data;
  BatchData *batch = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;

  set_running (self, self->n_running - 1);
  /* the worker is done with the sink: let go of it here, in the main context, so that its
   * destroy notify never runs in a worker (the task may be freed there) */
  g_clear_pointer (&batch->sink, item_sink_unref);
  g_task_set_task_data (outer, GUINT_TO_POINTER (batch->n_done), NULL);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (outer, g_steal_pointer (&error));
  else
    g_task_return_boolean (outer, TRUE);
}

/* Segments each of @images with @expression, one after the other in a worker thread with
 * @n_threads threads. @item_func is called in the main context for each image that was done
 * (with the result, which it owns) or that failed (with the error; the batch goes on), in order,
 * before the batch completes; @item_destroy frees @item_data after the last call. Progress is
 * "batch-progress". Cancelling stops the engine at its next block: the images done so far stay
 * delivered, and the batch ends with G_IO_ERROR_CANCELLED. The model must be loaded. */
void
rm_segmenter_segment_batch_async (RmSegmenter *self, GFile *const *images, guint n_images,
                                  const char *expression, int n_threads, GCancellable *cancellable,
                                  RmSegmenterItemFunc item_func, gpointer item_data,
                                  GDestroyNotify item_destroy, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) inner = NULL;
  GTask *outer;
  BatchData *batch;
  ItemSink *sink;

  g_return_if_fail (RM_IS_SEGMENTER (self));
  g_return_if_fail (images != NULL || n_images == 0);
  g_return_if_fail (expression != NULL);
  g_return_if_fail (item_func != NULL);

  sink = g_atomic_rc_box_new0 (ItemSink);
  sink->func = item_func;
  sink->data = item_data;
  sink->destroy = item_destroy;

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, rm_segmenter_segment_batch_async);
  if (self->model == NULL)
    {
      item_sink_unref (sink);
      g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s",
                               _ ("No model is loaded."));
      g_object_unref (outer);
      return;
    }

  batch = g_new0 (BatchData, 1);
  progress_init_batch (&batch->progress, self, n_images);
  batch->model = g_atomic_rc_box_acquire (self->model);
  batch->images = g_ptr_array_new_full (n_images, g_object_unref);
  for (guint i = 0; i < n_images; i++)
    g_ptr_array_add (batch->images, g_object_ref (images[i]));
  batch->expression = g_strdup (expression);
  batch->n_threads = n_threads;
  batch->device = self->device;
  batch->sink = sink;
  set_running (self, self->n_running + 1);

  inner = g_task_new (self, cancellable, batch_done, outer);
  g_task_set_source_tag (inner, rm_segmenter_segment_batch_async);
  g_task_set_task_data (inner, batch, batch_data_free);
  g_task_run_in_thread (inner, batch_thread);
}

/* The number of images that were segmented; with @error G_IO_ERROR_CANCELLED if the batch was
 * cancelled (the images done before still count). */
guint
rm_segmenter_segment_batch_finish (RmSegmenter *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  g_task_propagate_boolean (G_TASK (result), error);

  return GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));
}

/* ---- stages ------------------------------------------------------------------------------ */

/* The engine's stages, for the user, and where each lies on a query's progress bar. */
static const struct
{
  const char *stage;
  const char *label;
  double start;
  double end;
} stages[] = {
  { "config", N_ ("Reading the model configuration"), 0.0, 0.2 },
  { "weights", N_ ("Loading the weights"), 0.0, 1.0 },
  { "decode", N_ ("Decoding the image"), 0.0, 0.1 },
  { "tokenize", N_ ("Reading the expression"), 0.1, 0.12 },
  { "preprocess", N_ ("Preparing the image"), 0.12, 0.15 },
  { "BEiT-3", N_ ("Text and image encoder (BEiT-3)"), 0.15, 0.45 },
  { "Hiera", N_ ("Image encoder (Hiera)"), 0.45, 0.85 },
  { "decoder", N_ ("Mask decoder"), 0.85, 0.9 },
  { "postprocess", N_ ("Making the mask"), 0.9, 1.0 },
};

/* The name of the engine's @stage for the user (translated; the stage itself if unknown), and
 * in @overall (may be NULL) how far a query is when it is @fraction through that stage. */
const char *
rm_segmenter_describe_stage (const char *stage, double fraction, double *overall)
{
  g_return_val_if_fail (stage != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (stages); i++)
    if (g_str_equal (stages[i].stage, stage))
      {
        if (overall != NULL)
          *overall = CLAMP (stages[i].start + (stages[i].end - stages[i].start) * fraction, 0, 1);
        return _ (stages[i].label);
      }

  if (overall != NULL)
    *overall = CLAMP (fraction, 0, 1);

  return stage;
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
rm_segmenter_finalize (GObject *object)
{
  RmSegmenter *self = (RmSegmenter *) object;

  g_clear_pointer (&self->model, model_ref_unref);
  g_clear_pointer (&self->dir, g_free);
  g_clear_pointer (&self->error_message, g_free);

  G_OBJECT_CLASS (rm_segmenter_parent_class)->finalize (object);
}

static void
rm_segmenter_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmSegmenter *self = RM_SEGMENTER (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->n_running > 0);
      break;
    case PROP_DEVICE:
      g_value_set_string (value, rm_device_choice_to_string (self->device));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_segmenter_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmSegmenter *self = RM_SEGMENTER (object);

  switch (prop_id)
    {
    case PROP_DEVICE:
      rm_segmenter_set_device (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_segmenter_class_init (RmSegmenterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = rm_segmenter_finalize;
  object_class->get_property = rm_segmenter_get_property;
  object_class->set_property = rm_segmenter_set_property;

  properties[PROP_STATE] =
      g_param_spec_int ("state", NULL, NULL, RM_SEGMENTER_STATE_EMPTY, RM_SEGMENTER_STATE_FAILED,
                        RM_SEGMENTER_STATE_EMPTY,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
      g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* "auto", "cpu" or "cuda": where the operations started from now on compute. */
  properties[PROP_DEVICE] =
      g_param_spec_string ("device", NULL, NULL, "auto",
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* progress (stage, fraction): the newest operation reached @stage (an engine stage name, or
   * "decode"), @fraction of the way through it. In the main context. */
  signals[PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_DOUBLE);
  /* batch-progress (index, n_images, stage, fraction): a batch is at image @index (from 0) of
   * @n_images, @fraction of the way through @stage. In the main context. */
  signals[BATCH_PROGRESS] =
      g_signal_new ("batch-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_DOUBLE);
}

static void
rm_segmenter_init (RmSegmenter *self)
{
}

RmSegmenter *
rm_segmenter_new (void)
{
  return g_object_new (RM_TYPE_SEGMENTER, NULL);
}

/* Where the operations started from now on compute: "auto", "cpu" or "cuda" (anything else is a
 * programming error, ignored with a warning). A running operation keeps its device. */
void
rm_segmenter_set_device (RmSegmenter *self, const char *device)
{
  RmDeviceChoice choice;

  g_return_if_fail (RM_IS_SEGMENTER (self));
  g_return_if_fail (rm_device_choice_from_string (device, &choice));

  if (choice == self->device)
    return;
  self->device = choice;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEVICE]);
}

const char *
rm_segmenter_get_device (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), NULL);

  return rm_device_choice_to_string (self->device);
}

RmSegmenterState
rm_segmenter_get_state (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), RM_SEGMENTER_STATE_EMPTY);

  return self->state;
}

/* The folder of the model that is loaded, being loaded, or failed to load. */
const char *
rm_segmenter_get_model_dir (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), NULL);

  return self->dir;
}

/* One line about the loaded model (sizes, parameters), or NULL. */
const char *
rm_segmenter_get_description (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), NULL);

  return self->model != NULL ? self->model->description : NULL;
}

/* Why the last load failed (the engine's message, naming the file at fault), or NULL. */
const char *
rm_segmenter_get_error_message (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), NULL);

  return self->error_message;
}

/* TRUE while a load or a query runs. */
gboolean
rm_segmenter_get_busy (RmSegmenter *self)
{
  g_return_val_if_fail (RM_IS_SEGMENTER (self), FALSE);

  return self->n_running > 0;
}
