/* SPDX-License-Identifier: GPL-3.0-or-later
 * The project store: one SQLite file (*.refmask) holding images, annotations, categories,
 * model versions, training runs and settings. The schema is a stable public interface,
 * documented in docs/project-schema.md.
 *
 * Every change runs in a transaction (WAL journal, foreign keys on, synchronous=FULL), so
 * a crash or a kill never leaves a half-written change and a committed one survives.
 * One writer at a time: a writer that finds the file busy waits and retries for up to the
 * busy budget (default 30 s) before giving up with RM_PROJECT_ERROR_BUSY; readers are
 * never blocked. Opening an older file migrates it to the current schema in one
 * transaction; a newer file is refused.
 *
 * An RmProject is one connection; use it from one thread at a time (open another one per
 * thread).
 */
#pragma once

#include <glib.h>

#include "rm-rle.h"

G_BEGIN_DECLS

#define RM_PROJECT_ERROR (rm_project_error_quark ())
GQuark rm_project_error_quark (void);

typedef enum
{
  RM_PROJECT_ERROR_IO,          /* cannot read or write the file */
  RM_PROJECT_ERROR_EXISTS,      /* create: the file is already there */
  RM_PROJECT_ERROR_NOT_PROJECT, /* not an SQLite file, or another application's */
  RM_PROJECT_ERROR_TOO_NEW,     /* made by a newer Refmask */
  RM_PROJECT_ERROR_BUSY,        /* another writer held the file past the busy budget */
  RM_PROJECT_ERROR_CORRUPT,
  RM_PROJECT_ERROR_FULL, /* disk (or file size limit) full: the change was not saved */
  RM_PROJECT_ERROR_NOT_FOUND,
  RM_PROJECT_ERROR_INVALID,    /* bad argument or data (e.g. mask size != image size) */
  RM_PROJECT_ERROR_CONSTRAINT, /* a duplicate name or a dangling reference */
  RM_PROJECT_ERROR_FAILED,
} RmProjectError;

/* PRAGMA application_id of every project file ("RMSK"). */
#define RM_PROJECT_APPLICATION_ID 0x524d534b
/* PRAGMA user_version written by this build. */
#define RM_PROJECT_SCHEMA_VERSION 2

typedef enum
{
  RM_SOURCE_MODEL,
  RM_SOURCE_MODEL_CORRECTED,
  RM_SOURCE_MANUAL,
  RM_SOURCE_IMPORTED,
} RmStoreSource;

typedef enum
{
  RM_STATUS_CANDIDATE,
  RM_STATUS_ACCEPTED,
  RM_STATUS_REJECTED,
} RmStoreStatus;

typedef enum
{
  RM_PRIOR_NONE,
  RM_PRIOR_RLE, /* compressed COCO RLE string at prior_width x prior_height */
  RM_PRIOR_F32, /* prior_width * prior_height little-endian floats, row-major */
} RmPriorKind;

typedef enum
{
  RM_RUN_PENDING,
  RM_RUN_RUNNING,
  RM_RUN_FINISHED,
  RM_RUN_FAILED,
  RM_RUN_CANCELLED,
} RmRunStatus;

/* Largest float prior accepted (elements): the prior is a model-resolution grid. */
#define RM_PROJECT_MAX_PRIOR_FLOATS (1u << 22)

const char *rm_store_source_to_string (RmStoreSource source);
gboolean rm_store_source_from_string (const char *s, RmStoreSource *out);
const char *rm_store_status_to_string (RmStoreStatus status);
gboolean rm_store_status_from_string (const char *s, RmStoreStatus *out);
const char *rm_run_status_to_string (RmRunStatus status);
gboolean rm_run_status_from_string (const char *s, RmRunStatus *out);

typedef struct
{
  gint64 id;
  char *path;   /* relative to the project file's folder, '/' separated */
  char *sha256; /* 64 lower-case hex digits of the file's bytes */
  guint32 width, height;
  char *georef; /* free text (e.g. GeoTIFF tags as JSON), or NULL */
  char *created_at;
} RmProjectImage;

typedef struct
{
  gint64 id;
  gint64 image_id;
  char *expression;
  gint64 category_id; /* 0: none */
  RmRle *mask;        /* full image resolution; NULL when listed without masks */
  guint64 area;       /* pixel count (derived from the mask) */
  double bbox[4];     /* x, y, w, h as pycocotools' toBbox (derived) */
  RmPriorKind prior_kind;
  guint32 prior_width, prior_height;
  GBytes *prior;
  RmStoreSource source;
  RmStoreStatus status;
  gint64 model_version_id; /* 0: none */
  gboolean has_score;
  double score;
  char *split;       /* "train", "val", "test", ... or NULL */
  char *external_id; /* where it came from (dataset id), or NULL */
  char *created_at, *updated_at;
} RmStoreAnnotation;

typedef struct
{
  gint64 id;
  char *name;
  char *supercategory; /* or NULL */
} RmCategory;

typedef struct
{
  gint64 id;
  char *name;
  char *config_json;
  char *weights_path;
  gint64 parent_id;       /* 0: none */
  gint64 training_run_id; /* 0: none */
  char *metrics_json;     /* or NULL */
  char *created_at;
} RmStoreModelVersion;

typedef struct
{
  gint64 id;
  gint64 base_model_id; /* 0: none */
  char *params_json;
  char *loss_curve_json;
  char *metrics_json; /* or NULL */
  RmRunStatus status;
  char *created_at, *updated_at;
} RmTrainingRun;

typedef struct
{
  gint64 images, annotations, categories, model_versions, training_runs;
  gint64 by_status[3]; /* indexed by RmStoreStatus */
  gint64 by_source[4]; /* indexed by RmStoreSource */
  gint64 images_without_annotations;
} RmProjectStats;

typedef struct
{
  gint64 image_id;   /* 0: all images */
  guint status_mask; /* bit (1 << RmStoreStatus); 0: all */
  gboolean with_masks;
} RmStoreAnnotationFilter;

void rm_project_image_free (RmProjectImage *image);
RmStoreAnnotation *rm_store_annotation_new (void);
void rm_store_annotation_free (RmStoreAnnotation *annotation);
void rm_category_free (RmCategory *category);
void rm_store_model_version_free (RmStoreModelVersion *version);
void rm_training_run_free (RmTrainingRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProjectImage, rm_project_image_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmStoreAnnotation, rm_store_annotation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmCategory, rm_category_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmStoreModelVersion, rm_store_model_version_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmTrainingRun, rm_training_run_free)

typedef struct RmProject RmProject;

/* A new project file; refuses to replace an existing file. */
RmProject *rm_project_create (const char *path, GError **error);
/* For tests and tools: a new file at an older schema version (no migration). */
RmProject *rm_project_create_with_schema (const char *path, guint version, GError **error);
/* Opens (and migrates) an existing project. */
RmProject *rm_project_open (const char *path, GError **error);
void rm_project_close (RmProject *project);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmProject, rm_project_close)

const char *rm_project_get_path (RmProject *project);
const char *rm_project_get_dir (RmProject *project);
guint rm_project_get_schema_version (RmProject *project);
/* How long a writer waits for another writer before RM_PROJECT_ERROR_BUSY (ms). */
void rm_project_set_busy_budget (RmProject *project, guint ms);

/* Explicit transactions group several changes (one import = one transaction). They nest:
 * an inner begin/commit is a savepoint. Every function below that changes the file runs in
 * its own (inner) transaction. After a failed change inside an explicit transaction, roll
 * the transaction back. */
gboolean rm_project_begin (RmProject *project, GError **error);
gboolean rm_project_commit (RmProject *project, GError **error);
void rm_project_rollback (RmProject *project);
gboolean rm_project_in_transaction (RmProject *project);

/* PRAGMA integrity_check and foreign_key_check. */
gboolean rm_project_check (RmProject *project, GError **error);

/* Images. `path` may be absolute or relative to the current folder; it is stored relative to
 * the project. An image whose sha256 is already there is not added again: *existed is set
 * and *id is the existing image's. */
gboolean rm_project_add_image (RmProject *project, const char *path, const char *sha256,
                               guint32 width, guint32 height, const char *georef, gint64 *id,
                               gboolean *existed, GError **error);
RmProjectImage *rm_project_get_image (RmProject *project, gint64 id, GError **error);
/* NULL without an error when there is none. */
RmProjectImage *rm_project_find_image_by_sha256 (RmProject *project, const char *sha256,
                                                 GError **error);
GPtrArray *rm_project_list_images (RmProject *project, GError **error); /* of RmProjectImage */
/* The absolute path of an image file. */
char *rm_project_image_path (RmProject *project, const RmProjectImage *image);
/* The path stored for `path` (relative to the project's folder). */
char *rm_project_relative_path (RmProject *project, const char *path);

/* Categories: by name; created when missing. */
gboolean rm_project_ensure_category (RmProject *project, const char *name,
                                     const char *supercategory, gint64 *id, GError **error);
GPtrArray *rm_project_list_categories (RmProject *project, GError **error); /* of RmCategory */

/* Annotations. add: fills in id, area, bbox and timestamps; the mask must have the image's
 * size. update: replaces every field but id, image_id and created_at. */
gboolean rm_project_add_annotation (RmProject *project, RmStoreAnnotation *annotation,
                                    GError **error);
gboolean rm_project_update_annotation (RmProject *project, RmStoreAnnotation *annotation,
                                       GError **error);
gboolean rm_project_set_annotation_status (RmProject *project, gint64 id, RmStoreStatus status,
                                           GError **error);
gboolean rm_project_delete_annotation (RmProject *project, gint64 id, GError **error);
RmStoreAnnotation *rm_project_get_annotation (RmProject *project, gint64 id, GError **error);
/* Whether the image already has an annotation with this external id and expression (what a
 * re-import must not add twice). */
gboolean rm_project_has_annotation (RmProject *project, gint64 image_id, const char *external_id,
                                    const char *expression, gboolean *found, GError **error);
GPtrArray *rm_project_list_annotations (RmProject *project, const RmStoreAnnotationFilter *filter,
                                        GError **error); /* of RmStoreAnnotation, by id */

/* Model versions and training runs. add fills in id and timestamps. */
gboolean rm_project_add_model_version (RmProject *project, RmStoreModelVersion *version,
                                       GError **error);
RmStoreModelVersion *rm_project_get_model_version (RmProject *project, gint64 id, GError **error);
GPtrArray *rm_project_list_model_versions (RmProject *project, GError **error);
gboolean rm_project_add_training_run (RmProject *project, RmTrainingRun *run, GError **error);
/* Stores status, loss curve and metrics. */
gboolean rm_project_update_training_run (RmProject *project, RmTrainingRun *run, GError **error);
RmTrainingRun *rm_project_get_training_run (RmProject *project, gint64 id, GError **error);
GPtrArray *rm_project_list_training_runs (RmProject *project, GError **error);

/* Settings: free-form key/value text. get returns NULL (no error) for a missing key. */
gboolean rm_project_set_setting (RmProject *project, const char *key, const char *value,
                                 GError **error);
char *rm_project_get_setting (RmProject *project, const char *key, GError **error);

gboolean rm_project_get_stats (RmProject *project, RmProjectStats *stats, GError **error);

/* `path` as seen from the folder `dir` ("../x/y.png"), '/'-separated; both are made absolute
 * first (relative to the current folder). */
char *rm_path_relative_to (const char *dir, const char *path);

/* Removes @path: a folder with everything in it, or a file. Symbolic links are removed, never
 * followed. Best effort: what cannot be removed stays. NULL is allowed (nothing to do). */
void rm_remove_tree (const char *path);

/* SHA-256 of a file's bytes as 64 hex digits. */
char *rm_sha256_file (const char *path, GError **error);

G_END_DECLS
