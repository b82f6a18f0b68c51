/* rm-project-session.h: an open project file; every read and write of the store off the main thread
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "rm-export.h"
#include "rm-import.h"
#include "rm-project.h"
#include "rm-types.h"

G_BEGIN_DECLS

/* Keys of the project's settings table that the studio owns. */
#define RM_PROJECT_SETTING_LAST_IMAGE "ui.last_image" /* path relative to the project */
#define RM_PROJECT_SETTING_VIEW       "ui.view"       /* see rm_project_view_to_string () */

/* The canvas view saved with a project: fitted, or a zoom (image pixels per device pixel) and
 * the image point at the centre of the canvas. */
typedef struct
{
  gboolean fit;
  double zoom;
  double center_x;
  double center_y;
} RmProjectView;

char *rm_project_view_to_string (const RmProjectView *view);
gboolean rm_project_view_parse (const char *text, RmProjectView *view);

/* A model version as the project records it. */
typedef struct
{
  char *dir;
  char *name;
  char *parent_dir;   /* or NULL */
  char *metrics_json; /* or NULL */
} RmProjectModel;

void rm_project_model_free (RmProjectModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProjectModel, rm_project_model_free)

/* What a load or an import brings: images (GFile, in the project's order) and annotations
 * (RmAnnotation with their store ids), and after a load the saved settings. */
typedef struct
{
  GPtrArray *images;
  GPtrArray *annotations;
  GPtrArray *models; /* of RmProjectModel */
  GFile *last_image; /* or NULL */
  char *view;        /* or NULL */
  RmImportReport report;
} RmProjectContents;

void rm_project_contents_free (RmProjectContents *contents);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProjectContents, rm_project_contents_free)

/* What an export writes: one folder per format under @dir. */
typedef enum
{
  RM_PROJECT_EXPORT_PNG = 1 << 0,
  RM_PROJECT_EXPORT_COCO = 1 << 1,
  RM_PROJECT_EXPORT_REFS = 1 << 2,
} RmProjectExportFormats;

typedef struct
{
  guint images, annotations, files;
  GPtrArray *folders;  /* of char *: the folders written */
  GPtrArray *warnings; /* of char * */
} RmProjectExportResult;

void rm_project_export_result_free (RmProjectExportResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProjectExportResult, rm_project_export_result_free)

typedef void (*RmProjectProgressFunc) (double fraction, gpointer user_data);

#define RM_TYPE_PROJECT_SESSION (rm_project_session_get_type ())

G_DECLARE_FINAL_TYPE (RmProjectSession, rm_project_session, RM, PROJECT_SESSION, GObject)

RmProjectSession *rm_project_session_new (const char *path);
const char *rm_project_session_get_path (RmProjectSession *self);
char *rm_project_session_dup_name (RmProjectSession *self);
gboolean rm_project_session_get_busy (RmProjectSession *self);
void rm_project_session_set_busy_budget (RmProjectSession *self, guint ms);
guint rm_project_session_get_n_unsaved (RmProjectSession *self);
guint rm_project_session_get_n_failed (RmProjectSession *self);

void rm_project_session_load_async (RmProjectSession *self, gboolean create,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data);
RmProjectContents *rm_project_session_load_finish (RmProjectSession *self, GAsyncResult *result,
                                                   GError **error);

void rm_project_session_track (RmProjectSession *self, GListModel *annotations);
void rm_project_session_untrack (RmProjectSession *self);
void rm_project_session_retry (RmProjectSession *self);

void rm_project_session_set_setting (RmProjectSession *self, const char *key, const char *value);
void rm_project_session_record_model (RmProjectSession *self, const RmProjectModel *model);

/* A fine-tune run recorded in the project's training_runs table. */
typedef struct _RmProjectRun RmProjectRun;

RmProjectRun *rm_project_run_ref (RmProjectRun *run);
void rm_project_run_unref (RmProjectRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProjectRun, rm_project_run_unref)

RmProjectRun *rm_project_session_add_training_run (RmProjectSession *self, const char *base_dir,
                                                   const char *out_dir, const char *params_json);
void rm_project_session_update_training_run (RmProjectSession *self, RmProjectRun *run,
                                             RmRunStatus status, const char *loss_curve_json,
                                             const char *metrics_json);

void rm_project_session_import_async (RmProjectSession *self, RmImportFormat format,
                                      const char *path, const RmImportOptions *options,
                                      RmProjectProgressFunc progress, gpointer progress_data,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
RmProjectContents *rm_project_session_import_finish (RmProjectSession *self, GAsyncResult *result,
                                                     GError **error);

void rm_project_session_add_files_async (RmProjectSession *self, GFile **files, guint n_files,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data);
RmProjectContents *rm_project_session_add_files_finish (RmProjectSession *self,
                                                        GAsyncResult *result, GError **error);

char *rm_project_session_export_folder (RmProjectSession *self, const char *dir,
                                        RmProjectExportFormats format);
void rm_project_session_export_async (RmProjectSession *self, const char *dir,
                                      RmProjectExportFormats formats,
                                      const RmExportOptions *options,
                                      RmProjectProgressFunc progress, gpointer progress_data,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
RmProjectExportResult *rm_project_session_export_finish (RmProjectSession *self,
                                                         GAsyncResult *result, GError **error);

void rm_project_session_close_async (RmProjectSession *self, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean rm_project_session_close_finish (RmProjectSession *self, GAsyncResult *result,
                                          GError **error);

G_END_DECLS
