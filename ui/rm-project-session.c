/* rm-project-session.c: an open project file; every read and write of the store off the main thread
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The session owns the project's one store connection (RmProject). Every store call runs in a
 * GTask thread, and the tasks run one after the other in the order they were asked for, so the
 * connection is never used by two threads at once and a change is never overtaken by an older
 * one. Whatever a task needs from the main thread's objects is copied when its turn comes.
 *
 * rm_project_session_track () watches a list of RmAnnotation (the window's): an annotation that
 * joins it with no id is added to the store and gets the store's id; a change of its expression,
 * status, source or mask is written; one that leaves the list is deleted (and loses its id, so an
 * undo that brings it back adds it again). A write that fails keeps the annotation marked unsaved
 * and is reported with "error"; rm_project_session_retry () writes it again. While work is
 * queued the application is held, so quitting waits for the last write.
 */

#include "rm-project-session.h"

#include "rm-main-context.h"

#include "rm-annotation.h"
#include "rm-project.h"
#include "rm-rle.h"

#include <errno.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

/* How often progress reaches the main thread at most. */
#define PROGRESS_INTERVAL_USEC (G_USEC_PER_SEC / 20)
/* A write that found the project busy past the store's budget is tried again after this. */
#define BUSY_RETRY_SECONDS 2

struct _RmProjectSession
{
  GObject parent_instance;

  char *path;
  GMainContext *context;
  gboolean closed;

  /* Only the running task uses these (in its thread). */
  RmProject *project;
  gint busy_budget;      /* ms, 0: the store's default; atomic */
  GHashTable *model_ids; /* model folder -> model_versions id (gint64 *) */
  GHashTable *run_ids;   /* fine-tuned model folder -> training_runs id (gint64 *) */

  /* Main thread. */
  GQueue queue; /* GTask, waiting */
  GTask *running;
  gboolean held;         /* the application is held while work is queued */
  GHashTable *image_ids; /* absolute image path -> store id (gint64 *) */
  GHashTable *settings;  /* key -> value, waiting to be written */
  gboolean settings_queued;

  GListModel *list;    /* the tracked annotations */
  GPtrArray *mirror;   /* the list's items as last seen */
  GHashTable *entries; /* RmAnnotation -> Entry */
  guint busy_retry_id;
};

G_DEFINE_FINAL_TYPE (RmProjectSession, rm_project_session, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  ERROR,
  SAVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* A tracked annotation. It stays after it left the list (without being deleted) until its
 * last save is done. */
typedef struct
{
  RmAnnotation *annotation;
  guint count;        /* how many times it is in the list; 0: detached */
  gboolean queued;    /* a save is waiting */
  gboolean in_flight; /* a save is running */
  gboolean failed;    /* the last save failed */
} Entry;

static void
entry_free (Entry *entry)
{
  g_object_unref (entry->annotation);
  g_free (entry);
}

/* ---- small records ----------------------------------------------------------------------- */

void
rm_project_model_free (RmProjectModel *model)
{
  if (model == NULL)
    return;
  g_free (model->dir);
  g_free (model->name);
  g_free (model->parent_dir);
  g_free (model->metrics_json);
  g_free (model);
}

static RmProjectModel *
project_model_copy (const RmProjectModel *model)
{
  RmProjectModel *copy = g_new0 (RmProjectModel, 1);

  copy->dir = g_strdup (model->dir);
  copy->name = g_strdup (model->name);
  copy->parent_dir = g_strdup (model->parent_dir);
  copy->metrics_json = g_strdup (model->metrics_json);

  return copy;
}

static RmProjectContents *
contents_new (void)
{
  RmProjectContents *contents = g_new0 (RmProjectContents, 1);

  contents->images = g_ptr_array_new_with_free_func (g_object_unref);
  contents->annotations = g_ptr_array_new_with_free_func (g_object_unref);
  contents->models = g_ptr_array_new_with_free_func ((GDestroyNotify) rm_project_model_free);

  return contents;
}

void
rm_project_contents_free (RmProjectContents *contents)
{
  if (contents == NULL)
    return;
  g_ptr_array_unref (contents->images);
  g_ptr_array_unref (contents->annotations);
  g_ptr_array_unref (contents->models);
  g_clear_object (&contents->last_image);
  g_free (contents->view);
  rm_import_report_clear (&contents->report);
  g_free (contents);
}

void
rm_project_export_result_free (RmProjectExportResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->folders, g_ptr_array_unref);
  g_clear_pointer (&result->warnings, g_ptr_array_unref);
  g_free (result);
}

char *
rm_project_view_to_string (const RmProjectView *view)
{
  char zoom[G_ASCII_DTOSTR_BUF_SIZE], x[G_ASCII_DTOSTR_BUF_SIZE], y[G_ASCII_DTOSTR_BUF_SIZE];

  if (view->fit)
    return g_strdup ("fit");

  return g_strdup_printf ("%s %s %s", g_ascii_formatd (zoom, sizeof zoom, "%.6g", view->zoom),
                          g_ascii_formatd (x, sizeof x, "%.2f", view->center_x),
                          g_ascii_formatd (y, sizeof y, "%.2f", view->center_y));
}

/* "fit", or "ZOOM CENTER_X CENTER_Y" (C locale numbers). */
gboolean
rm_project_view_parse (const char *text, RmProjectView *view)
{
  g_auto (GStrv) parts = NULL;
  double values[3];

  memset (view, 0, sizeof *view);
  if (text == NULL)
    return FALSE;
  if (g_str_equal (text, "fit"))
    {
      view->fit = TRUE;
      view->zoom = 1;
      return TRUE;
    }
  parts = g_strsplit (text, " ", -1);
  if (g_strv_length (parts) != 3)
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      char *end = NULL;

      values[i] = g_ascii_strtod (parts[i], &end);
      if (end == parts[i] || *end != '\0' || !isfinite (values[i]))
        return FALSE;
    }
  if (values[0] <= 0)
    return FALSE;
  view->zoom = values[0];
  view->center_x = values[1];
  view->center_y = values[2];

  return TRUE;
}

/* ---- enums between the window and the store ----------------------------------------------- */

static RmStoreStatus
status_to_store (RmAnnotationStatus status)
{
  switch (status)
    {
    case RM_ANNOTATION_STATUS_ACCEPTED:
      return RM_STATUS_ACCEPTED;
    case RM_ANNOTATION_STATUS_REJECTED:
      return RM_STATUS_REJECTED;
    case RM_ANNOTATION_STATUS_CANDIDATE:
    default:
      return RM_STATUS_CANDIDATE;
    }
}

static RmAnnotationStatus
status_from_store (RmStoreStatus status)
{
  switch (status)
    {
    case RM_STATUS_ACCEPTED:
      return RM_ANNOTATION_STATUS_ACCEPTED;
    case RM_STATUS_REJECTED:
      return RM_ANNOTATION_STATUS_REJECTED;
    case RM_STATUS_CANDIDATE:
    default:
      return RM_ANNOTATION_STATUS_CANDIDATE;
    }
}

static RmStoreSource
source_to_store (RmAnnotationSource source)
{
  switch (source)
    {
    case RM_ANNOTATION_SOURCE_MODEL:
      return RM_SOURCE_MODEL;
    case RM_ANNOTATION_SOURCE_MODEL_CORRECTED:
      return RM_SOURCE_MODEL_CORRECTED;
    case RM_ANNOTATION_SOURCE_IMPORTED:
      return RM_SOURCE_IMPORTED;
    case RM_ANNOTATION_SOURCE_MANUAL:
    default:
      return RM_SOURCE_MANUAL;
    }
}

static RmAnnotationSource
source_from_store (RmStoreSource source)
{
  switch (source)
    {
    case RM_SOURCE_MODEL:
      return RM_ANNOTATION_SOURCE_MODEL;
    case RM_SOURCE_MODEL_CORRECTED:
      return RM_ANNOTATION_SOURCE_MODEL_CORRECTED;
    case RM_SOURCE_IMPORTED:
      return RM_ANNOTATION_SOURCE_IMPORTED;
    case RM_SOURCE_MANUAL:
    default:
      return RM_ANNOTATION_SOURCE_MANUAL;
    }
}

/* ---- the task queue ---------------------------------------------------------------------- */

typedef struct _Job Job;

/* Main thread, when the job's turn comes: copy what the thread needs; FALSE when there is
 * nothing to do (the job has then returned its task). */
typedef gboolean (*JobPrepareFunc) (RmProjectSession *self, GTask *task, Job *job);
/* Main thread, after the thread, before the caller's callback. */
typedef void (*JobDoneFunc) (RmProjectSession *self, GTask *task, Job *job);

struct _Job
{
  GTaskThreadFunc run;
  JobPrepareFunc prepare;
  JobDoneFunc done;
  GAsyncReadyCallback callback;
  gpointer user_data;
  gpointer data;
  GDestroyNotify data_free;
  gboolean succeeded; /* set by the thread; read by done */

  /* progress, from the thread to the main thread */
  RmProjectProgressFunc progress;
  gpointer progress_data;
  gint64 last_progress;
  double progress_base, progress_scale;
  gint finished; /* atomic */
};

static void pump (RmProjectSession *self);

static void
job_free (Job *job)
{
  if (job->data_free != NULL)
    g_clear_pointer (&job->data, job->data_free);
  g_free (job);
}

static void
update_hold (RmProjectSession *self)
{
  gboolean busy = self->running != NULL || !g_queue_is_empty (&self->queue);
  GApplication *app = g_application_get_default ();

  if (busy == self->held)
    return;
  self->held = busy;
  if (app != NULL)
    {
      if (busy)
        g_application_hold (app);
      else
        g_application_release (app);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
job_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  RmProjectSession *self = RM_PROJECT_SESSION (object);
  GTask *task = G_TASK (result);
  Job *job = g_task_get_task_data (task);

  g_atomic_int_set (&job->finished, 1);
  if (self->running == task)
    g_clear_object (&self->running);
  if (job->done != NULL)
    job->done (self, task, job);
  if (job->callback != NULL)
    job->callback (object, result, job->user_data);
  pump (self);
}

/* Queues a job; @callback (may be NULL) gets the task as its result. */
static void
enqueue (RmProjectSession *self, Job *job, GCancellable *cancellable, gpointer source_tag)
{
  GTask *task = g_task_new (self, cancellable, job_done, NULL);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  g_queue_push_tail (&self->queue, task);
  pump (self);
}

static Job *
job_new (GTaskThreadFunc run, gpointer data, GDestroyNotify data_free)
{
  Job *job = g_new0 (Job, 1);

  job->run = run;
  job->data = data;
  job->data_free = data_free;
  job->progress_scale = 1;

  return job;
}

/* Every job's thread. */
static void
job_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  guint budget = (guint) g_atomic_int_get (&self->busy_budget);

  if (self->project != NULL && budget > 0)
    rm_project_set_busy_budget (self->project, budget);
  job->run (task, source_object, task_data, cancellable);
}

static void
pump (RmProjectSession *self)
{
  while (self->running == NULL && !g_queue_is_empty (&self->queue))
    {
      GTask *task = g_queue_pop_head (&self->queue);
      Job *job = g_task_get_task_data (task);

      if (job->prepare != NULL && !job->prepare (self, task, job))
        {
          /* returned already; its callback runs from the main loop */
          g_object_unref (task);
          continue;
        }
      self->running = task;
      g_task_run_in_thread (task, job_thread);
    }
  update_hold (self);
}

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct
{
  GTask *task;
  double fraction;
} ProgressMessage;

static gboolean
deliver_progress (gpointer user_data)
{
  ProgressMessage *message = user_data;
  Job *job = g_task_get_task_data (message->task);

  if (!g_atomic_int_get (&job->finished) && job->progress != NULL)
    job->progress (message->fraction, job->progress_data);

  return G_SOURCE_REMOVE;
}

static void
progress_message_free (ProgressMessage *message)
{
  g_object_unref (message->task);
  g_free (message);
}

/* The store's progress callback (in the thread); user_data is the task. */
static void
thread_progress (guint done, guint total, gpointer user_data)
{
  GTask *task = user_data;
  RmProjectSession *self = g_task_get_source_object (task);
  Job *job = g_task_get_task_data (task);
  gint64 now = g_get_monotonic_time ();
  ProgressMessage *message;

  if (job->progress == NULL || (now - job->last_progress < PROGRESS_INTERVAL_USEC && done < total))
    return;
  job->last_progress = now;
  message = g_new0 (ProgressMessage, 1);
  message->task = g_object_ref (task);
  message->fraction =
      job->progress_base + job->progress_scale * (total > 0 ? (double) done / total : 0);
  rm_main_context_post (self->context, deliver_progress, message,
                        (GDestroyNotify) progress_message_free);
}

/* ---- in the thread: reading the store ----------------------------------------------------- */

static GBytes *
decode_prior (const RmStoreAnnotation *a, int *size)
{
  *size = 0;
  if (a->prior == NULL || a->prior_width != a->prior_height || a->prior_width == 0)
    return NULL;
  if (a->prior_kind == RM_PRIOR_F32)
    {
      gsize n = (gsize) a->prior_width * a->prior_height;

      if (g_bytes_get_size (a->prior) != n * sizeof (float))
        return NULL;
      *size = (int) a->prior_width;
      return g_bytes_ref (a->prior);
    }
  if (a->prior_kind == RM_PRIOR_RLE)
    {
      g_autoptr (RmRle) rle = rm_rle_from_bytes (a->prior, a->prior_height, a->prior_width, NULL);
      gsize n = (gsize) a->prior_width * a->prior_height;
      g_autofree guint8 *bits = NULL;
      float *values;

      if (rle == NULL)
        return NULL;
      bits = g_malloc (n);
      rm_rle_decode (rle, bits, a->prior_width, 1);
      values = g_new (float, n);
      for (gsize i = 0; i < n; i++)
        values[i] = bits[i];
      *size = (int) a->prior_width;
      return g_bytes_new_take (values, n * sizeof (float));
    }

  return NULL;
}

typedef struct
{
  GHashTable *files;      /* image id -> GFile */
  GHashTable *sizes;      /* image id -> RmProjectImage (borrowed) */
  GHashTable *models;     /* model version id -> folder */
  GPtrArray *images;      /* RmProjectImage */
  GPtrArray *image_paths; /* char *, absolute, as images */
} StoreIndex;

static void
store_index_clear (StoreIndex *index)
{
  g_clear_pointer (&index->files, g_hash_table_unref);
  g_clear_pointer (&index->sizes, g_hash_table_unref);
  g_clear_pointer (&index->models, g_hash_table_unref);
  g_clear_pointer (&index->images, g_ptr_array_unref);
  g_clear_pointer (&index->image_paths, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StoreIndex, store_index_clear)

static gboolean
store_index_load (RmProject *project, StoreIndex *index, GError **error)
{
  g_autoptr (GPtrArray) models = NULL;

  index->images = rm_project_list_images (project, error);
  if (index->images == NULL)
    return FALSE;
  models = rm_project_list_model_versions (project, error);
  if (models == NULL)
    return FALSE;

  index->files = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_object_unref);
  index->sizes = g_hash_table_new (g_int64_hash, g_int64_equal);
  index->models = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  index->image_paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < index->images->len; i++)
    {
      RmProjectImage *image = index->images->pdata[i];
      char *path = rm_project_image_path (project, image);

      g_ptr_array_add (index->image_paths, path);
      g_hash_table_insert (index->files, &image->id, g_file_new_for_path (path));
      g_hash_table_insert (index->sizes, &image->id, image);
    }
  for (guint i = 0; i < models->len; i++)
    {
      RmStoreModelVersion *version = models->pdata[i];

      g_hash_table_insert (index->models, g_memdup2 (&version->id, sizeof version->id),
                           g_strdup (version->weights_path));
    }

  return TRUE;
}

/* An RmAnnotation for a stored one (with its mask, which stays compressed: opening a project
 * decodes no mask). */
static RmAnnotation *
annotation_from_store (const StoreIndex *index, const RmStoreAnnotation *a)
{
  RmProjectImage *image = g_hash_table_lookup (index->sizes, &a->image_id);
  GFile *file = g_hash_table_lookup (index->files, &a->image_id);
  g_autoptr (GBytes) prior = NULL;
  g_autoptr (GDateTime) created = NULL;
  RmAnnotation *annotation;
  int prior_size = 0;

  if (image == NULL || a->mask == NULL || a->mask->w != image->width || a->mask->h != image->height)
    return NULL;

  annotation = rm_annotation_new_from_rle (
      file, a->expression, a->mask, status_from_store (a->status), source_from_store (a->source));
  rm_annotation_set_id (annotation, a->id);
  if (a->model_version_id != 0)
    rm_annotation_set_model (annotation, g_hash_table_lookup (index->models, &a->model_version_id));
  prior = decode_prior (a, &prior_size);
  if (prior != NULL)
    rm_annotation_set_prior (annotation, prior, prior_size);
  if (a->created_at != NULL && (created = g_date_time_new_from_iso8601 (a->created_at, NULL)))
    rm_annotation_set_created (annotation, created);

  return annotation;
}

/* ---- in the thread: writing the store ----------------------------------------------------- */

/* The model version of the folder @dir, recorded when it is not yet. */
static gint64
ensure_model_version (RmProjectSession *self, const RmProjectModel *model, GError **error)
{
  g_autofree char *dir = g_canonicalize_filename (model->dir, NULL);
  g_autoptr (GPtrArray) versions = NULL;
  g_autofree char *config_path = NULL;
  g_autofree char *config = NULL;
  g_autofree char *name = NULL;
  gint64 *cached = g_hash_table_lookup (self->model_ids, dir);
  RmStoreModelVersion version = { 0 };
  gint64 parent_id = 0;

  if (cached != NULL)
    return *cached;

  versions = rm_project_list_model_versions (self->project, error);
  if (versions == NULL)
    return -1;
  for (guint i = 0; i < versions->len; i++)
    {
      RmStoreModelVersion *v = versions->pdata[i];

      if (g_strcmp0 (v->weights_path, dir) == 0)
        {
          g_hash_table_insert (self->model_ids, g_strdup (dir), g_memdup2 (&v->id, sizeof v->id));
          return v->id;
        }
    }

  if (model->parent_dir != NULL)
    {
      RmProjectModel parent = { .dir = model->parent_dir };

      parent_id = ensure_model_version (self, &parent, error);
      if (parent_id < 0)
        return -1;
    }

  config_path = g_build_filename (dir, "config.json", NULL);
  if (!g_file_get_contents (config_path, &config, NULL, NULL))
    config = g_strdup ("{}");
  /* names are unique: the folder's name, then "name (2)", … */
  name = g_strdup (model->name != NULL ? model->name : NULL);
  if (name == NULL)
    name = g_path_get_basename (dir);
  for (guint n = 2;; n++)
    {
      gboolean taken = FALSE;

      for (guint i = 0; i < versions->len && !taken; i++)
        taken = g_strcmp0 (((RmStoreModelVersion *) versions->pdata[i])->name, name) == 0;
      if (!taken)
        break;
      g_free (name);
      name = g_strdup_printf ("%s (%u)", model->name != NULL ? model->name : dir, n);
    }

  version.name = name;
  version.config_json = config;
  version.weights_path = dir;
  version.parent_id = parent_id;
  version.metrics_json = model->metrics_json;
  {
    gint64 *run_id = g_hash_table_lookup (self->run_ids, dir);

    version.training_run_id = run_id != NULL ? *run_id : 0;
  }
  if (!rm_project_add_model_version (self->project, &version, error))
    return -1;
  g_hash_table_insert (self->model_ids, g_strdup (dir), g_memdup2 (&version.id, sizeof version.id));

  return version.id;
}

/* The store id of the image file @path (@width x @height), added when it is not there. */
static gint64
ensure_image (RmProject *project, const char *path, guint32 width, guint32 height, GError **error)
{
  g_autofree char *sha256 = rm_sha256_file (path, error);
  gboolean existed = FALSE;
  gint64 id = 0;

  if (sha256 == NULL)
    return -1;
  if (!rm_project_add_image (project, path, sha256, width, height, NULL, &id, &existed, error))
    return -1;

  return id;
}

/* ---- loading ----------------------------------------------------------------------------- */

typedef struct
{
  gboolean create;
  RmProjectContents *contents;
  GArray *image_ids; /* gint64, as contents->images */
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_clear_pointer (&data->contents, rm_project_contents_free);
  g_clear_pointer (&data->image_ids, g_array_unref);
  g_free (data);
}

/* Whether the file can be written; a file marked read-only is refused even for root. */
static gboolean
check_writable (const char *path, GError **error)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), _ ("Cannot read “%s”: %s"), path,
                   g_strerror (e));
      return FALSE;
    }
  if ((st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0 || g_access (path, W_OK) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                   _ ("“%s” is read-only. Refmask saves every change as you work, so it opens only "
                      "project files it can write. Make the file writable, or open a copy."),
                   path);
      return FALSE;
    }

  return TRUE;
}

static void
load_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  LoadData *data = job->data;
  RmProjectContents *contents = contents_new ();
  g_auto (StoreIndex) index = { 0 };
  g_autoptr (GPtrArray) annotations = NULL;
  g_autoptr (GPtrArray) models = NULL;
  g_autofree char *last_image = NULL;
  RmStoreAnnotationFilter filter = { .with_masks = TRUE };
  GError *error = NULL;

  data->contents = contents;
  if (data->create)
    self->project = rm_project_create (self->path, &error);
  else if (check_writable (self->path, &error))
    self->project = rm_project_open (self->path, &error);
  if (self->project == NULL || !store_index_load (self->project, &index, &error) ||
      (annotations = rm_project_list_annotations (self->project, &filter, &error)) == NULL ||
      (models = rm_project_list_model_versions (self->project, &error)) == NULL)
    {
      g_clear_pointer (&self->project, rm_project_close);
      g_task_return_error (task, error);
      return;
    }

  data->image_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < index.images->len; i++)
    {
      RmProjectImage *image = index.images->pdata[i];

      g_ptr_array_add (contents->images,
                       g_object_ref (g_hash_table_lookup (index.files, &image->id)));
      g_array_append_val (data->image_ids, image->id);
    }
  for (guint i = 0; i < annotations->len; i++)
    {
      RmAnnotation *annotation = annotation_from_store (&index, annotations->pdata[i]);

      if (annotation != NULL)
        g_ptr_array_add (contents->annotations, annotation);
    }
  for (guint i = 0; i < models->len; i++)
    {
      RmStoreModelVersion *version = models->pdata[i];
      RmProjectModel *model = g_new0 (RmProjectModel, 1);

      model->dir = g_strdup (version->weights_path);
      model->name = g_strdup (version->name);
      model->metrics_json = g_strdup (version->metrics_json);
      for (guint j = 0; version->parent_id != 0 && j < models->len; j++)
        if (((RmStoreModelVersion *) models->pdata[j])->id == version->parent_id)
          model->parent_dir = g_strdup (((RmStoreModelVersion *) models->pdata[j])->weights_path);
      g_ptr_array_add (contents->models, model);
    }

  /* the saved settings; a failure to read them is no reason not to open */
  last_image = rm_project_get_setting (self->project, RM_PROJECT_SETTING_LAST_IMAGE, NULL);
  if (last_image != NULL && last_image[0] != '\0')
    {
      g_autofree char *path =
          g_build_filename (rm_project_get_dir (self->project), last_image, NULL);
      g_autofree char *canonical = g_canonicalize_filename (path, NULL);

      contents->last_image = g_file_new_for_path (canonical);
    }
  contents->view = rm_project_get_setting (self->project, RM_PROJECT_SETTING_VIEW, NULL);

  g_task_return_boolean (task, TRUE);
}

static void
remember_images (RmProjectSession *self, GPtrArray *files, GArray *ids)
{
  for (guint i = 0; files != NULL && ids != NULL && i < files->len && i < ids->len; i++)
    g_hash_table_insert (self->image_ids, g_file_get_path (files->pdata[i]),
                         g_memdup2 (&g_array_index (ids, gint64, i), sizeof (gint64)));
}

static void
load_done (RmProjectSession *self, GTask *task, Job *job)
{
  LoadData *data = job->data;

  if (data->contents != NULL)
    remember_images (self, data->contents->images, data->image_ids);
}

/* Opens the project file (with @create, makes a new one; an existing file is never replaced)
 * and reads everything the window shows. */
void
rm_project_session_load_async (RmProjectSession *self, gboolean create, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
  LoadData *data = g_new0 (LoadData, 1);
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  data->create = create;
  job = job_new (load_thread, data, (GDestroyNotify) load_data_free);
  job->done = load_done;
  job->callback = callback;
  job->user_data = user_data;
  enqueue (self, job, cancellable, rm_project_session_load_async);
}

/* The data of a finished job, or NULL (with error) when it failed or was cancelled. */
static gpointer
job_finish_data (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return ((Job *) g_task_get_task_data (G_TASK (result)))->data;
}

RmProjectContents *
rm_project_session_load_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  LoadData *data = job_finish_data (self, result, error);

  return data != NULL ? g_steal_pointer (&data->contents) : NULL;
}

/* ---- saving annotations ------------------------------------------------------------------ */

typedef struct
{
  RmAnnotation *annotation;
  /* copied when the turn comes */
  gint64 id;
  gint64 image_id;
  char *image_path;
  guint32 width, height;
  char *expression;
  RmStoreStatus status;
  RmStoreSource source;
  GBytes *rle; /* rm_annotation_get_rle (): shared, immutable */
  GBytes *prior;
  int prior_size;
  char *model;
  /* results */
  gint64 new_id;
  gint64 new_image_id;
} SaveData;

static void
save_data_free (SaveData *data)
{
  g_clear_object (&data->annotation);
  g_free (data->image_path);
  g_free (data->expression);
  g_clear_pointer (&data->rle, g_bytes_unref);
  g_clear_pointer (&data->prior, g_bytes_unref);
  g_free (data->model);
  g_free (data);
}

static gboolean
save_prepare (RmProjectSession *self, GTask *task, Job *job)
{
  SaveData *data = job->data;
  RmAnnotation *a = data->annotation;
  Entry *entry = g_hash_table_lookup (self->entries, a);
  gint64 *image_id;
  GFile *image = rm_annotation_get_image (a);

  if (entry == NULL)
    {
      g_task_return_boolean (task, TRUE); /* deleted meanwhile */
      return FALSE;
    }
  entry->queued = FALSE;
  if (self->project == NULL)
    {
      entry->failed = TRUE; /* kept for a retry; the project did not open or was closed */
      g_task_return_boolean (task, TRUE);
      return FALSE;
    }
  entry->in_flight = TRUE;

  data->id = rm_annotation_get_id (a);
  data->image_path = image != NULL ? g_file_get_path (image) : NULL;
  image_id =
      data->image_path != NULL ? g_hash_table_lookup (self->image_ids, data->image_path) : NULL;
  data->image_id = image_id != NULL ? *image_id : 0;
  data->width = (guint32) rm_annotation_get_width (a);
  data->height = (guint32) rm_annotation_get_height (a);
  data->expression = g_strdup (rm_annotation_get_expression (a));
  data->status = status_to_store (rm_annotation_get_status (a));
  data->source = source_to_store (rm_annotation_get_source (a));
  data->rle = g_bytes_ref (rm_annotation_get_rle (a));
  data->prior = rm_annotation_get_prior (a, &data->prior_size);
  if (data->prior != NULL)
    g_bytes_ref (data->prior);
  data->model = g_strdup (rm_annotation_get_model (a));

  return TRUE;
}

static gboolean
save_annotation (RmProjectSession *self, SaveData *data, GError **error)
{
  g_autoptr (RmStoreAnnotation) a = NULL;
  g_autoptr (RmRle) mask = NULL;
  gint64 model_id = 0;

  if (data->image_path == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           _ ("The annotation’s image is not a local file."));
      return FALSE;
    }
  if (data->expression == NULL || data->expression[0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _ ("An annotation needs an expression."));
      return FALSE;
    }
  if ((guint64) data->width * data->height > G_MAXUINT32 || data->width == 0 || data->height == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           _ ("The annotation’s image is too large for a project."));
      return FALSE;
    }

  /* the annotation keeps its mask encoded: it is parsed here, never decoded */
  mask = rm_rle_from_bytes (data->rle, data->height, data->width, error);
  if (mask == NULL)
    return FALSE;

  if (data->image_id == 0)
    {
      data->new_image_id =
          ensure_image (self->project, data->image_path, data->width, data->height, error);
      if (data->new_image_id < 0)
        return FALSE;
      data->image_id = data->new_image_id;
    }
  if (data->model != NULL && g_path_is_absolute (data->model))
    {
      RmProjectModel model = { .dir = data->model };

      model_id = ensure_model_version (self, &model, error);
      if (model_id < 0)
        return FALSE;
    }

  if (data->id != 0)
    {
      g_autoptr (GError) local = NULL;

      /* everything the window does not know about (category, split, score, …) stays */
      a = rm_project_get_annotation (self->project, data->id, &local);
      if (a == NULL && !g_error_matches (local, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  if (a == NULL)
    {
      a = rm_store_annotation_new ();
      a->image_id = data->image_id;
    }
  g_free (a->expression);
  a->expression = g_strdup (data->expression);
  a->status = data->status;
  a->source = data->source;
  rm_rle_free (a->mask);
  a->mask = g_steal_pointer (&mask);
  if (data->prior != NULL)
    {
      g_clear_pointer (&a->prior, g_bytes_unref);
      a->prior_kind = RM_PRIOR_F32;
      a->prior_width = a->prior_height = (guint32) data->prior_size;
      a->prior = g_bytes_ref (data->prior);
    }
  if (model_id != 0)
    a->model_version_id = model_id;

  if (a->id != 0)
    return rm_project_update_annotation (self->project, a, error);
  if (!rm_project_add_annotation (self->project, a, error))
    return FALSE;
  data->new_id = a->id;

  return TRUE;
}

static void
save_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  GError *error = NULL;

  /* one transaction: a new image and its annotation go in together */
  if (!rm_project_begin (self->project, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (!save_annotation (self, job->data, &error) || !rm_project_commit (self->project, &error))
    {
      rm_project_rollback (self->project);
      ((SaveData *) job->data)->new_id = 0;
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void queue_delete (RmProjectSession *self, gint64 id);
static void report_error (RmProjectSession *self, const GError *error);

/* A detached entry goes when its last save is done (a failed one stays, for a retry). */
static void
forget_if_done (RmProjectSession *self, Entry *entry)
{
  if (entry->count == 0 && !entry->queued && !entry->in_flight && !entry->failed)
    g_hash_table_remove (self->entries, entry->annotation);
}

static gboolean
busy_retry (gpointer user_data)
{
  RmProjectSession *self = user_data;

  self->busy_retry_id = 0;
  rm_project_session_retry (self);

  return G_SOURCE_REMOVE;
}

static void
save_done (RmProjectSession *self, GTask *task, Job *job)
{
  SaveData *data = job->data;
  Entry *entry = g_hash_table_lookup (self->entries, data->annotation);
  g_autoptr (GError) error = NULL;

  if (data->image_path == NULL && data->expression == NULL)
    return; /* skipped */
  if (!g_task_propagate_boolean (task, &error))
    {
      if (entry != NULL)
        {
          entry->in_flight = FALSE;
          entry->failed = TRUE;
        }
      if (g_error_matches (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_BUSY) &&
          self->busy_retry_id == 0)
        self->busy_retry_id = g_timeout_add_seconds (BUSY_RETRY_SECONDS, busy_retry, self);
      report_error (self, error);
      return;
    }

  if (data->new_image_id > 0)
    g_hash_table_insert (self->image_ids, g_strdup (data->image_path),
                         g_memdup2 (&data->new_image_id, sizeof (gint64)));
  if (entry != NULL)
    {
      entry->in_flight = FALSE;
      entry->failed = FALSE;
      if (data->new_id != 0)
        rm_annotation_set_id (data->annotation, data->new_id);
      forget_if_done (self, entry);
    }
  else if (data->new_id != 0)
    queue_delete (self, data->new_id); /* it was deleted while it was being added */

  g_signal_emit (self, signals[SAVED], 0);
}

static void
queue_save (RmProjectSession *self, Entry *entry)
{
  SaveData *data;
  Job *job;

  if (entry->queued || self->closed)
    return;
  entry->queued = TRUE;
  data = g_new0 (SaveData, 1);
  data->annotation = g_object_ref (entry->annotation);
  job = job_new (save_thread, data, (GDestroyNotify) save_data_free);
  job->prepare = save_prepare;
  job->done = save_done;
  enqueue (self, job, NULL, queue_save);
}

static void
delete_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  gint64 id = *(gint64 *) job->data;
  GError *error = NULL;

  if (self->project == NULL || rm_project_delete_annotation (self->project, id, &error) ||
      g_error_matches (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND))
    {
      g_clear_error (&error);
      g_task_return_boolean (task, TRUE);
    }
  else
    g_task_return_error (task, error);
}

static void
delete_done (RmProjectSession *self, GTask *task, Job *job)
{
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (task, &error))
    report_error (self, error);
  else
    g_signal_emit (self, signals[SAVED], 0);
}

static void
queue_delete (RmProjectSession *self, gint64 id)
{
  Job *job;

  if (self->closed)
    return;
  job = job_new (delete_thread, g_memdup2 (&id, sizeof id), g_free);
  job->done = delete_done;
  enqueue (self, job, NULL, queue_delete);
}

static void
report_error (RmProjectSession *self, const GError *error)
{
  g_debug ("project %s: %s", self->path, error->message);
  g_signal_emit (self, signals[ERROR], 0, error);
}

/* ---- tracking the window's annotations ----------------------------------------------------- */

static void
on_annotation_changed (RmAnnotation *annotation, GParamSpec *pspec, RmProjectSession *self)
{
  Entry *entry = g_hash_table_lookup (self->entries, annotation);

  if (entry != NULL)
    queue_save (self, entry);
}

static void
track_one (RmProjectSession *self, RmAnnotation *annotation)
{
  Entry *entry = g_hash_table_lookup (self->entries, annotation);

  if (entry != NULL && entry->count++ > 0)
    return;
  if (entry == NULL)
    {
      entry = g_new0 (Entry, 1);
      entry->annotation = g_object_ref (annotation);
      entry->count = 1;
      g_hash_table_insert (self->entries, annotation, entry);
    }
  g_signal_connect (annotation, "notify::expression", G_CALLBACK (on_annotation_changed), self);
  g_signal_connect (annotation, "notify::status", G_CALLBACK (on_annotation_changed), self);
  g_signal_connect (annotation, "notify::source", G_CALLBACK (on_annotation_changed), self);
  g_signal_connect (annotation, "notify::mask", G_CALLBACK (on_annotation_changed), self);
  if (rm_annotation_get_id (annotation) == 0)
    queue_save (self, entry);
}

/* @deleted: it left the list, so it leaves the store; else tracking stops, but the saves asked
 * for still happen. */
static void
untrack_one (RmProjectSession *self, RmAnnotation *annotation, gboolean deleted)
{
  Entry *entry = g_hash_table_lookup (self->entries, annotation);
  gint64 id;

  if (entry == NULL || entry->count == 0 || --entry->count > 0)
    return;
  g_signal_handlers_disconnect_by_func (annotation, on_annotation_changed, self);
  if (!deleted)
    {
      forget_if_done (self, entry);
      return;
    }
  /* a waiting save is dropped with the entry; one in flight is undone when it ends */
  g_hash_table_remove (self->entries, annotation);
  id = rm_annotation_get_id (annotation);
  if (id != 0)
    {
      rm_annotation_set_id (annotation, 0);
      queue_delete (self, id);
    }
}

static void
on_items_changed (GListModel *list, guint position, guint removed, guint added,
                  RmProjectSession *self)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_object_unref);

  /* first what joined, so that a move is not a deletion */
  for (guint i = 0; i < removed; i++)
    g_ptr_array_add (gone, g_object_ref (self->mirror->pdata[position + i]));
  g_ptr_array_remove_range (self->mirror, position, removed);
  for (guint i = 0; i < added; i++)
    {
      RmAnnotation *annotation = g_list_model_get_item (list, position + i);

      g_ptr_array_insert (self->mirror, (int) (position + i), annotation); /* takes the ref */
      track_one (self, annotation);
    }
  for (guint i = 0; i < gone->len; i++)
    untrack_one (self, gone->pdata[i], TRUE);
}

/* Saves @annotations (a GListModel of RmAnnotation) as they change; see the top of this file. */
void
rm_project_session_track (RmProjectSession *self, GListModel *annotations)
{
  guint n;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (G_IS_LIST_MODEL (annotations));

  rm_project_session_untrack (self);
  self->list = g_object_ref (annotations);
  self->mirror = g_ptr_array_new_with_free_func (g_object_unref);
  g_signal_connect (annotations, "items-changed", G_CALLBACK (on_items_changed), self);
  n = g_list_model_get_n_items (annotations);
  on_items_changed (annotations, 0, 0, n, self);
}

/* Stops watching the list; nothing is deleted. Saves already asked for still happen. */
void
rm_project_session_untrack (RmProjectSession *self)
{
  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  if (self->list == NULL)
    return;
  g_signal_handlers_disconnect_by_func (self->list, on_items_changed, self);
  for (guint i = 0; i < self->mirror->len; i++)
    untrack_one (self, self->mirror->pdata[i], FALSE);
  g_clear_pointer (&self->mirror, g_ptr_array_unref);
  g_clear_object (&self->list);
}

/* Writes again every annotation whose last write failed. */
void
rm_project_session_retry (RmProjectSession *self)
{
  GHashTableIter iter;
  Entry *entry;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->failed)
      {
        entry->failed = FALSE;
        queue_save (self, entry);
      }
}

/* Annotations whose last write failed (they are kept for a retry). */
guint
rm_project_session_get_n_failed (RmProjectSession *self)
{
  GHashTableIter iter;
  Entry *entry;
  guint n = 0;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), 0);

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->failed)
      n++;

  return n;
}

/* Annotations whose changes are not in the file yet (waiting, being written, or failed). */
guint
rm_project_session_get_n_unsaved (RmProjectSession *self)
{
  GHashTableIter iter;
  Entry *entry;
  guint n = 0;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), 0);

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry))
    if (entry->queued || entry->in_flight || entry->failed)
      n++;

  return n;
}

/* ---- settings and model versions ------------------------------------------------------------ */

static gboolean
settings_prepare (RmProjectSession *self, GTask *task, Job *job)
{
  self->settings_queued = FALSE;
  job->data = g_steal_pointer (&self->settings);
  job->data_free = (GDestroyNotify) g_hash_table_unref;
  self->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (self->project == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return FALSE;
    }

  return TRUE;
}

static void
settings_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  GHashTableIter iter;
  const char *key, *value;
  GError *error = NULL;

  if (!rm_project_begin (self->project, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_hash_table_iter_init (&iter, job->data);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &value))
    if (!rm_project_set_setting (self->project, key, value, &error))
      {
        rm_project_rollback (self->project);
        g_task_return_error (task, error);
        return;
      }
  if (!rm_project_commit (self->project, &error))
    {
      rm_project_rollback (self->project);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
plain_done (RmProjectSession *self, GTask *task, Job *job)
{
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (task, &error))
    report_error (self, error);
}

/* Stores a setting of the project (written in the background; the last value wins). */
void
rm_project_session_set_setting (RmProjectSession *self, const char *key, const char *value)
{
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (key != NULL && value != NULL);

  if (self->closed)
    return;
  g_hash_table_insert (self->settings, g_strdup (key), g_strdup (value));
  if (self->settings_queued)
    return;
  self->settings_queued = TRUE;
  job = job_new (settings_thread, NULL, NULL);
  job->prepare = settings_prepare;
  job->done = plain_done;
  enqueue (self, job, NULL, rm_project_session_set_setting);
}

static void
model_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  GError *error = NULL;

  if (self->project == NULL || ensure_model_version (self, job->data, &error) >= 0)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Records a model version (by its folder; once). */
void
rm_project_session_record_model (RmProjectSession *self, const RmProjectModel *model)
{
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (model != NULL && model->dir != NULL);

  if (self->closed)
    return;
  job = job_new (model_thread, project_model_copy (model), (GDestroyNotify) rm_project_model_free);
  job->done = plain_done;
  enqueue (self, job, NULL, rm_project_session_record_model);
}

/* ---- training runs ------------------------------------------------------------------------- */

/* Shared by the jobs of one run; the jobs run one at a time, so only the running one's thread
 * touches the fields that the threads set. */
struct _RmProjectRun
{
  char *base_dir; /* or NULL */
  char *out_dir;  /* canonical */
  char *params_json;
  /* set by the thread that adds the run */
  gint64 id; /* 0: not added (no project, or the add failed) */
  gint64 base_model_id;
};

static void
project_run_clear (gpointer data)
{
  RmProjectRun *run = data;

  g_free (run->base_dir);
  g_free (run->out_dir);
  g_free (run->params_json);
}

RmProjectRun *
rm_project_run_ref (RmProjectRun *run)
{
  return g_atomic_rc_box_acquire (run);
}

void
rm_project_run_unref (RmProjectRun *run)
{
  g_atomic_rc_box_release_full (run, project_run_clear);
}

/* @params_json with "base_model_version_id" set to @id (the text as it is if it is no object). */
static char *
params_with_base (const char *params_json, gint64 id)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, params_json, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return g_strdup (params_json);
  if (id > 0)
    json_object_set_int_member (json_node_get_object (root), "base_model_version_id", id);
  else
    json_object_set_null_member (json_node_get_object (root), "base_model_version_id");
  generator = json_generator_new ();
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, NULL);
}

static void
run_add_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  RmProjectRun *run = job->data;
  RmTrainingRun row = { 0 };
  g_autofree char *params = NULL;
  GError *error = NULL;

  if (self->project == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (run->base_dir != NULL)
    {
      RmProjectModel base = { .dir = run->base_dir };

      run->base_model_id = ensure_model_version (self, &base, &error);
      if (run->base_model_id < 0)
        {
          run->base_model_id = 0;
          g_task_return_error (task, error);
          return;
        }
    }
  params = params_with_base (run->params_json, run->base_model_id);
  g_free (run->params_json);
  run->params_json = g_steal_pointer (&params);
  row.base_model_id = run->base_model_id;
  row.params_json = run->params_json;
  row.status = RM_RUN_RUNNING;
  if (!rm_project_add_training_run (self->project, &row, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  run->id = row.id;
  g_hash_table_insert (self->run_ids, g_strdup (run->out_dir), g_memdup2 (&row.id, sizeof row.id));
  g_free (row.created_at);
  g_free (row.updated_at);
  g_task_return_boolean (task, TRUE);
}

/* Records a fine-tune run from the model folder @base_dir (or NULL) into the new folder @out_dir
 * with @params_json (an object; "base_model_version_id" is added), as running. The model version
 * of @out_dir, when it is recorded, points to the run. NULL once the project is closed. */
RmProjectRun *
rm_project_session_add_training_run (RmProjectSession *self, const char *base_dir,
                                     const char *out_dir, const char *params_json)
{
  RmProjectRun *run;
  Job *job;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), NULL);
  g_return_val_if_fail (out_dir != NULL && params_json != NULL, NULL);

  if (self->closed)
    return NULL;
  run = g_atomic_rc_box_new0 (RmProjectRun);
  run->base_dir = g_strdup (base_dir);
  run->out_dir = g_canonicalize_filename (out_dir, NULL);
  run->params_json = g_strdup (params_json);
  job = job_new (run_add_thread, rm_project_run_ref (run), (GDestroyNotify) rm_project_run_unref);
  job->done = plain_done;
  enqueue (self, job, NULL, rm_project_session_add_training_run);

  return run;
}

typedef struct
{
  RmProjectRun *run;
  RmRunStatus status;
  char *loss_curve_json;
  char *metrics_json;
} RunUpdate;

static void
run_update_free (RunUpdate *update)
{
  rm_project_run_unref (update->run);
  g_free (update->loss_curve_json);
  g_free (update->metrics_json);
  g_free (update);
}

static void
run_update_thread (GTask *task, gpointer source_object, gpointer task_data,
                   GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  RunUpdate *update = job->data;
  RmTrainingRun row = { 0 };
  GError *error = NULL;

  if (self->project == NULL || update->run->id == 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  row.id = update->run->id;
  row.base_model_id = update->run->base_model_id;
  row.params_json = update->run->params_json;
  row.loss_curve_json = update->loss_curve_json;
  row.metrics_json = update->metrics_json;
  row.status = update->status;
  if (!rm_project_update_training_run (self->project, &row, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_free (row.updated_at);
  g_task_return_boolean (task, TRUE);
}

/* Stores the run's status, loss curve (a JSON array) and metrics (a JSON object, or NULL), in the
 * background. */
void
rm_project_session_update_training_run (RmProjectSession *self, RmProjectRun *run,
                                        RmRunStatus status, const char *loss_curve_json,
                                        const char *metrics_json)
{
  RunUpdate *update;
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (run != NULL);

  if (self->closed)
    return;
  update = g_new0 (RunUpdate, 1);
  update->run = rm_project_run_ref (run);
  update->status = status;
  update->loss_curve_json = g_strdup (loss_curve_json);
  update->metrics_json = g_strdup (metrics_json);
  job = job_new (run_update_thread, update, (GDestroyNotify) run_update_free);
  job->done = plain_done;
  enqueue (self, job, NULL, rm_project_session_update_training_run);
}

/* ---- importing ----------------------------------------------------------------------------- */

typedef struct
{
  RmImportFormat format;
  char *path;
  char *images_dir;
  char *refs_path;
  RmStoreStatus status;
  GPtrArray *files; /* add_files: GFile */
  RmProjectContents *contents;
  GArray *image_ids;
} ImportData;

static void
import_data_free (ImportData *data)
{
  g_free (data->path);
  g_free (data->images_dir);
  g_free (data->refs_path);
  g_clear_pointer (&data->files, g_ptr_array_unref);
  g_clear_pointer (&data->contents, rm_project_contents_free);
  g_clear_pointer (&data->image_ids, g_array_unref);
  g_free (data);
}

static gboolean
not_open (GTask *task, RmProjectSession *self)
{
  if (self->project != NULL)
    return FALSE;
  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CLOSED, _ ("The project is not open."));
  return TRUE;
}

/* The ids in the store before a change, to tell what the change added. */
typedef struct
{
  GHashTable *images;
  gint64 max_annotation;
} Before;

static gboolean
before_read (RmProject *project, Before *before, GError **error)
{
  g_autoptr (GPtrArray) images = rm_project_list_images (project, error);
  g_autoptr (GPtrArray) annotations = NULL;
  RmStoreAnnotationFilter filter = { 0 };

  if (images == NULL)
    return FALSE;
  annotations = rm_project_list_annotations (project, &filter, error);
  if (annotations == NULL)
    return FALSE;
  before->images = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < images->len; i++)
    g_hash_table_add (before->images,
                      g_memdup2 (&((RmProjectImage *) images->pdata[i])->id, sizeof (gint64)));
  before->max_annotation = 0;
  for (guint i = 0; i < annotations->len; i++)
    before->max_annotation =
        MAX (before->max_annotation, ((RmStoreAnnotation *) annotations->pdata[i])->id);

  return TRUE;
}

/* What was added since @before, into @data->contents. */
static gboolean
collect_new (RmProjectSession *self, const Before *before, ImportData *data, GError **error)
{
  g_auto (StoreIndex) index = { 0 };
  g_autoptr (GPtrArray) annotations = NULL;
  RmStoreAnnotationFilter filter = { 0 };

  if (!store_index_load (self->project, &index, error))
    return FALSE;
  data->image_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < index.images->len; i++)
    {
      RmProjectImage *image = index.images->pdata[i];

      if (g_hash_table_contains (before->images, &image->id))
        continue;
      g_ptr_array_add (data->contents->images,
                       g_object_ref (g_hash_table_lookup (index.files, &image->id)));
      g_array_append_val (data->image_ids, image->id);
    }

  annotations = rm_project_list_annotations (self->project, &filter, error);
  if (annotations == NULL)
    return FALSE;
  for (guint i = 0; i < annotations->len; i++)
    {
      RmStoreAnnotation *listed = annotations->pdata[i];
      g_autoptr (RmStoreAnnotation) full = NULL;
      RmAnnotation *annotation;

      if (listed->id <= before->max_annotation)
        continue;
      full = rm_project_get_annotation (self->project, listed->id, error);
      if (full == NULL)
        return FALSE;
      annotation = annotation_from_store (&index, full);
      if (annotation != NULL)
        g_ptr_array_add (data->contents->annotations, annotation);
    }

  return TRUE;
}

static void
import_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  ImportData *data = job->data;
  RmImportOptions options;
  Before before = { 0 };
  GError *error = NULL;
  gboolean ok;

  if (not_open (task, self))
    return;

  rm_import_options_init (&options);
  options.status = data->status;
  options.images_dir = data->images_dir;
  options.refs_path = data->refs_path;
  options.cancellable = cancellable;
  options.progress = thread_progress;
  options.user_data = task;

  data->contents = contents_new ();
  ok = before_read (self->project, &before, &error) &&
       rm_import (self->project, data->format, data->path, &options, &data->contents->report,
                  &error) &&
       collect_new (self, &before, data, &error);
  g_clear_pointer (&before.images, g_hash_table_unref);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
import_done (RmProjectSession *self, GTask *task, Job *job)
{
  ImportData *data = job->data;

  if (data->contents != NULL)
    remember_images (self, data->contents->images, data->image_ids);
}

/* Imports a folder of images or a dataset (all or nothing: a failed or cancelled import adds
 * nothing). The result holds what the import added. */
void
rm_project_session_import_async (RmProjectSession *self, RmImportFormat format, const char *path,
                                 const RmImportOptions *options, RmProjectProgressFunc progress,
                                 gpointer progress_data, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
  ImportData *data = g_new0 (ImportData, 1);
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (path != NULL);

  data->format = format;
  data->path = g_strdup (path);
  data->status = RM_STATUS_ACCEPTED;
  if (options != NULL)
    {
      data->images_dir = g_strdup (options->images_dir);
      data->refs_path = g_strdup (options->refs_path);
      data->status = options->status;
    }
  job = job_new (import_thread, data, (GDestroyNotify) import_data_free);
  job->done = import_done;
  job->callback = callback;
  job->user_data = user_data;
  job->progress = progress;
  job->progress_data = progress_data;
  enqueue (self, job, cancellable, rm_project_session_import_async);
}

static RmProjectContents *
contents_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  ImportData *data = job_finish_data (self, result, error);

  return data != NULL ? g_steal_pointer (&data->contents) : NULL;
}

RmProjectContents *
rm_project_session_import_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  return contents_finish (self, result, error);
}

static gboolean
add_files (RmProjectSession *self, ImportData *data, GCancellable *cancellable, GError **error)
{
  for (guint i = 0; i < data->files->len; i++)
    {
      g_autofree char *path = g_file_get_path (data->files->pdata[i]);
      int width = 0, height = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (path == NULL)
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          RmImportOptions options;

          rm_import_options_init (&options);
          options.cancellable = cancellable;
          if (!rm_import (self->project, RM_IMPORT_IMAGES, path, &options, &data->contents->report,
                          error))
            return FALSE;
        }
      else if (gdk_pixbuf_get_file_info (path, &width, &height) != NULL && width > 0 && height > 0)
        {
          if (ensure_image (self->project, path, (guint32) width, (guint32) height, error) < 0)
            return FALSE;
        }
      else
        rm_warnings_add (&data->contents->report.warnings, _ ("%s is not an image"), path);
    }

  return TRUE;
}

static void
add_files_thread (GTask *task, gpointer source_object, gpointer task_data,
                  GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  ImportData *data = job->data;
  Before before = { 0 };
  GError *error = NULL;
  gboolean ok;

  if (not_open (task, self))
    return;

  data->contents = contents_new ();
  ok = before_read (self->project, &before, &error) && rm_project_begin (self->project, &error);
  if (ok &&
      !(add_files (self, data, cancellable, &error) && rm_project_commit (self->project, &error)))
    {
      rm_project_rollback (self->project);
      ok = FALSE;
    }
  ok = ok && collect_new (self, &before, data, &error);
  g_clear_pointer (&before.images, g_hash_table_unref);
  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Adds image files and folders of images (dropped on the window) to the project. */
void
rm_project_session_add_files_async (RmProjectSession *self, GFile **files, guint n_files,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  ImportData *data = g_new0 (ImportData, 1);
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  data->files = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (data->files, g_object_ref (files[i]));
  job = job_new (add_files_thread, data, (GDestroyNotify) import_data_free);
  job->done = import_done;
  job->callback = callback;
  job->user_data = user_data;
  enqueue (self, job, cancellable, rm_project_session_add_files_async);
}

RmProjectContents *
rm_project_session_add_files_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  return contents_finish (self, result, error);
}

/* ---- exporting ------------------------------------------------------------------------------ */

static const struct
{
  RmProjectExportFormats flag;
  RmExportFormat format;
  const char *suffix;
} export_formats[] = {
  { RM_PROJECT_EXPORT_COCO, RM_EXPORT_COCO, "coco" },
  { RM_PROJECT_EXPORT_PNG, RM_EXPORT_PNG, "png" },
  { RM_PROJECT_EXPORT_REFS, RM_EXPORT_REFS_JSONL, "refs" },
};

/* The folder an export of @format writes under @dir: "<project name>-<format>". */
char *
rm_project_session_export_folder (RmProjectSession *self, const char *dir,
                                  RmProjectExportFormats format)
{
  g_autofree char *name = NULL;
  g_autofree char *base = NULL;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), NULL);

  name = rm_project_session_dup_name (self);
  for (guint i = 0; i < G_N_ELEMENTS (export_formats); i++)
    if (export_formats[i].flag == format)
      base = g_strdup_printf ("%s-%s", name, export_formats[i].suffix);
  g_return_val_if_fail (base != NULL, NULL);

  return g_build_filename (dir, base, NULL);
}

typedef struct
{
  char *dir;
  RmProjectExportFormats formats;
  RmExportOptions options;
  RmProjectExportResult *result;
} ExportData;

static void
export_data_free (ExportData *data)
{
  g_free (data->dir);
  g_clear_pointer (&data->result, rm_project_export_result_free);
  g_free (data);
}

static void
export_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;
  Job *job = task_data;
  ExportData *data = job->data;
  guint n = 0, done = 0;

  if (not_open (task, self))
    return;

  for (guint i = 0; i < G_N_ELEMENTS (export_formats); i++)
    if (data->formats & export_formats[i].flag)
      n++;

  data->result = g_new0 (RmProjectExportResult, 1);
  data->result->folders = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (export_formats); i++)
    {
      RmExportOptions options = data->options;
      RmExportReport report = { 0 };
      g_autofree char *out = NULL;
      GError *error = NULL;

      if (!(data->formats & export_formats[i].flag))
        continue;
      out = rm_project_session_export_folder (self, data->dir, export_formats[i].flag);
      options.cancellable = cancellable;
      options.progress = thread_progress;
      options.user_data = task;
      job->progress_base = (double) done / n;
      job->progress_scale = 1.0 / n;
      if (!rm_export (self->project, export_formats[i].format, out, &options, &report, &error))
        {
          rm_export_report_clear (&report);
          g_task_return_error (task, error);
          return;
        }
      data->result->images = MAX (data->result->images, report.images);
      data->result->annotations = MAX (data->result->annotations, report.annotations);
      data->result->files += report.files;
      for (guint k = 0; report.warnings != NULL && k < report.warnings->len; k++)
        rm_warnings_add (&data->result->warnings, "%s", (char *) report.warnings->pdata[k]);
      rm_export_report_clear (&report);
      g_ptr_array_add (data->result->folders, g_steal_pointer (&out));
      done++;
    }
  g_task_return_boolean (task, TRUE);
}

/* Exports the project into one folder per format under @dir (see
 * rm_project_session_export_folder ()). Pending changes are written first, so the export has
 * them. */
void
rm_project_session_export_async (RmProjectSession *self, const char *dir,
                                 RmProjectExportFormats formats, const RmExportOptions *options,
                                 RmProjectProgressFunc progress, gpointer progress_data,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  ExportData *data = g_new0 (ExportData, 1);
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));
  g_return_if_fail (dir != NULL && formats != 0);

  data->dir = g_strdup (dir);
  data->formats = formats;
  if (options != NULL)
    data->options = *options;
  else
    rm_export_options_init (&data->options);
  job = job_new (export_thread, data, (GDestroyNotify) export_data_free);
  job->callback = callback;
  job->user_data = user_data;
  job->progress = progress;
  job->progress_data = progress_data;
  enqueue (self, job, cancellable, rm_project_session_export_async);
}

RmProjectExportResult *
rm_project_session_export_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  ExportData *data = job_finish_data (self, result, error);

  return data != NULL ? g_steal_pointer (&data->result) : NULL;
}

/* ---- closing -------------------------------------------------------------------------------- */

static void
close_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  RmProjectSession *self = source_object;

  g_clear_pointer (&self->project, rm_project_close);
  g_task_return_boolean (task, TRUE);
}

/* Writes what is queued, then closes the file. Nothing is saved afterwards. */
void
rm_project_session_close_async (RmProjectSession *self, GAsyncReadyCallback callback,
                                gpointer user_data)
{
  Job *job;

  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  rm_project_session_untrack (self);
  job = job_new (close_thread, NULL, NULL);
  job->callback = callback;
  job->user_data = user_data;
  enqueue (self, job, NULL, rm_project_session_close_async);
  self->closed = TRUE;
}

gboolean
rm_project_session_close_finish (RmProjectSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- GObject -------------------------------------------------------------------------------- */

static void
rm_project_session_dispose (GObject *object)
{
  RmProjectSession *self = (RmProjectSession *) object;

  rm_project_session_untrack (self);
  g_clear_handle_id (&self->busy_retry_id, g_source_remove);

  G_OBJECT_CLASS (rm_project_session_parent_class)->dispose (object);
}

static void
rm_project_session_finalize (GObject *object)
{
  RmProjectSession *self = (RmProjectSession *) object;

  /* every task holds a reference: none is running or waiting now */
  g_assert (self->running == NULL && g_queue_is_empty (&self->queue));
  g_clear_pointer (&self->project, rm_project_close);
  g_clear_pointer (&self->model_ids, g_hash_table_unref);
  g_clear_pointer (&self->run_ids, g_hash_table_unref);
  g_clear_pointer (&self->image_ids, g_hash_table_unref);
  g_clear_pointer (&self->settings, g_hash_table_unref);
  g_clear_pointer (&self->entries, g_hash_table_unref);
  g_main_context_unref (self->context);
  g_free (self->path);

  G_OBJECT_CLASS (rm_project_session_parent_class)->finalize (object);
}

static void
rm_project_session_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmProjectSession *self = RM_PROJECT_SESSION (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, rm_project_session_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_project_session_class_init (RmProjectSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rm_project_session_dispose;
  object_class->finalize = rm_project_session_finalize;
  object_class->get_property = rm_project_session_get_property;

  /* TRUE while store work is queued or running. */
  properties[PROP_BUSY] =
      g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* error (GError): a background write failed; the change is kept (see _retry ()). */
  signals[ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  /* saved: an annotation's change reached the file. */
  signals[SAVED] = g_signal_new ("saved", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                 NULL, NULL, G_TYPE_NONE, 0);
}

static void
rm_project_session_init (RmProjectSession *self)
{
  self->context = g_main_context_ref_thread_default ();
  g_queue_init (&self->queue);
  self->model_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->run_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->image_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->settings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->entries = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) entry_free);
}

/* A session for the project file @path; nothing is read until rm_project_session_load_async (). */
RmProjectSession *
rm_project_session_new (const char *path)
{
  RmProjectSession *self;

  g_return_val_if_fail (path != NULL, NULL);

  self = g_object_new (RM_TYPE_PROJECT_SESSION, NULL);
  self->path = g_canonicalize_filename (path, NULL);

  return self;
}

const char *
rm_project_session_get_path (RmProjectSession *self)
{
  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), NULL);

  return self->path;
}

/* The file name without ".refmask". */
char *
rm_project_session_dup_name (RmProjectSession *self)
{
  g_autofree char *base = NULL;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), NULL);

  base = g_path_get_basename (self->path);
  if (g_str_has_suffix (base, ".refmask") && strlen (base) > strlen (".refmask"))
    base[strlen (base) - strlen (".refmask")] = '\0';

  return g_steal_pointer (&base);
}

/* How long a write waits for another program's write before it fails (for tests; the store's
 * default is 30 s). */
void
rm_project_session_set_busy_budget (RmProjectSession *self, guint ms)
{
  g_return_if_fail (RM_IS_PROJECT_SESSION (self));

  g_atomic_int_set (&self->busy_budget, (gint) MIN (ms, (guint) G_MAXINT));
}

/* TRUE while store work is queued or running. */
gboolean
rm_project_session_get_busy (RmProjectSession *self)
{
  g_return_val_if_fail (RM_IS_PROJECT_SESSION (self), FALSE);

  return self->running != NULL || !g_queue_is_empty (&self->queue);
}
