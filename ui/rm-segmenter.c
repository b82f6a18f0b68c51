/* rm-segmenter.c: the model, loaded and run in worker threads
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Loading a model and segmenting an image both run in GTask worker threads; the main thread
 * only sees the results. The engine's progress callback is called in the worker: reports are
 * thinned out there and handed to the main context (g_main_context_invoke), where the
 * "progress" signal is emitted. Cancelling the GCancellable sets an atomic flag that the
 * engine's abort callback polls between blocks, so a cancelled query stops within a block.
 *
 * The model is immutable and shared: a running query holds a reference on it, so loading
 * another model meanwhile is safe. Sessions (one per thread at a time) are kept for the next
 * query.
 */

#include "rm-segmenter.h"

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

static RmSession *
model_ref_take_session (ModelRef *ref, int n_threads)
{
  RmSession *session = NULL;

  g_mutex_lock (&ref->lock);
  if (ref->spare != NULL && ref->spare_threads == n_threads)
    session = g_steal_pointer (&ref->spare);
  g_mutex_unlock (&ref->lock);

  return session != NULL ? session : rm_session_new (ref->model, n_threads);
}

static void
model_ref_give_session (ModelRef *ref, RmSession *session, int n_threads)
{
  g_mutex_lock (&ref->lock);
  if (ref->spare == NULL)
    {
      ref->spare = g_steal_pointer (&session);
      ref->spare_threads = n_threads;
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
};

G_DEFINE_FINAL_TYPE (RmSegmenter, rm_segmenter, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_STATE,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  PROGRESS,
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
} Report;

typedef struct
{
  RmSegmenter *self; /* owned by the task; only referenced again for reports */
  GMainContext *context;
  guint serial;
  gint abort; /* atomic: set from the GCancellable's "cancelled" handler */
  char last_stage[32];
  double last_fraction;
} Progress;

static gboolean
deliver_report (gpointer data)
{
  Report *report = data;

  if (report->serial == report->self->op_serial)
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
  g_main_context_invoke_full (progress->context, G_PRIORITY_DEFAULT, deliver_report, report,
                              report_free);
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
  g_autofree char *path = g_file_get_path (segment->image);
  const char *texts[] = { segment->expression };
  RmSegmentResult **results;
  RmSegmentResult *result;
  RmSession *session;
  GError *error = NULL;
  gulong handler;

  handler = progress_connect (&segment->progress, cancellable);

  progress_report (&segment->progress, "decode", 0.0);
  if (path != NULL)
    image = rm_image_load (path, NULL, &error);
  if (image == NULL && (path == NULL || g_error_matches (error, RM_ERROR, RM_ERROR_FORMAT)))
    {
      g_clear_error (&error);
      image = load_with_gdk (segment->image, &error);
    }
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

  session = model_ref_take_session (segment->model, segment->n_threads);
  results = on_engine_abort (&segment->progress)
                ? NULL
                : rm_session_segment (session, image, texts, 1, &params, &error);
  model_ref_give_session (segment->model, session, segment->n_threads);
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

  properties[PROP_STATE] =
      g_param_spec_int ("state", NULL, NULL, RM_SEGMENTER_STATE_EMPTY, RM_SEGMENTER_STATE_FAILED,
                        RM_SEGMENTER_STATE_EMPTY,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
      g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* progress (stage, fraction): the newest operation reached @stage (an engine stage name, or
   * "decode"), @fraction of the way through it. In the main context. */
  signals[PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_DOUBLE);
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
