/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SQLite project store: records, transactions, migrations, concurrency, a full disk,
 * and crash safety under SIGKILL (the test binary re-executes itself as the writer). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm-project.h"
#include "test-util.h"

#define IMG_W       16
#define IMG_H       12
#define FAKE_SHA(c) c "000000000000000000000000000000000000000000000000000000000000000"

/* A small rectangle that depends on n, as an RLE of the test image's size. */
static RmRle *
test_mask (guint n)
{
  guint8 m[IMG_W * IMG_H] = { 0 };
  guint x0 = n % 9, y0 = (n / 9) % 7, w = 1 + n % 5, h = 1 + (n / 5) % 4;
  for (guint y = y0; y < MIN (IMG_H, y0 + h); y++)
    for (guint x = x0; x < MIN (IMG_W, x0 + w); x++)
      m[y * IMG_W + x] = 1;
  return rm_rle_encode (m, IMG_H, IMG_W, IMG_W);
}

typedef struct
{
  char *dir;
  char *path;
  RmProject *project;
  gint64 image_id;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *img = NULL;
  gboolean existed = TRUE;

  f->dir = rm_test_tmpdir ();
  f->path = g_build_filename (f->dir, "test.refmask", NULL);
  f->project = rm_project_create (f->path, &error);
  g_assert_no_error (error);
  img = g_build_filename (f->dir, "images", "a.png", NULL);
  rm_project_add_image (f->project, img, FAKE_SHA ("a"), IMG_W, IMG_H, NULL, &f->image_id, &existed,
                        &error);
  g_assert_no_error (error);
  g_assert_false (existed);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->project, rm_project_close);
  rm_test_rmdir_recursive (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static RmStoreAnnotation *
new_annotation (gint64 image_id, const char *expr, guint n)
{
  RmStoreAnnotation *a = rm_store_annotation_new ();
  a->image_id = image_id;
  a->expression = g_strdup (expr);
  a->mask = test_mask (n);
  return a;
}

static char *
pragma_text (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  char *out = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &s, NULL), ==, SQLITE_OK);
  if (sqlite3_step (s) == SQLITE_ROW)
    out = g_strdup ((const char *) sqlite3_column_text (s, 0));
  sqlite3_finalize (s);
  sqlite3_close (db);
  return out;
}

static void
exec_sql (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  char *err = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  if (sqlite3_exec (db, sql, NULL, NULL, &err) != SQLITE_OK)
    g_error ("%s: %s", sql, err);
  sqlite3_close (db);
}

static void
test_create_open (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) again = NULL, reopened = NULL;
  g_autofree char *mode = NULL, *app = NULL, *ver = NULL;

  again = rm_project_create (f->path, &error);
  g_assert_null (again);
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_EXISTS);
  g_clear_error (&error);

  g_assert_cmpuint (rm_project_get_schema_version (f->project), ==, RM_PROJECT_SCHEMA_VERSION);
  mode = pragma_text (f->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  app = pragma_text (f->path, "PRAGMA application_id");
  g_assert_cmpint (g_ascii_strtoll (app, NULL, 10), ==, RM_PROJECT_APPLICATION_ID);
  ver = pragma_text (f->path, "PRAGMA user_version");
  g_assert_cmpint (g_ascii_strtoll (ver, NULL, 10), ==, RM_PROJECT_SCHEMA_VERSION);

  reopened = rm_project_open (f->path, &error);
  g_assert_no_error (error);
  rm_project_check (reopened, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rm_project_get_dir (reopened), ==, f->dir);
}

static void
test_bad_files (Fixture *f, gconstpointer data)
{
  g_autofree char *junk = g_build_filename (f->dir, "junk.refmask", NULL);
  g_autofree char *other = g_build_filename (f->dir, "other.sqlite", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "missing.refmask", NULL);
  g_autoptr (GError) error = NULL;
  RmProject *p;

  g_file_set_contents (junk, "this is not a database at all, just some text to fill a page", -1,
                       NULL);
  p = rm_project_open (junk, &error);
  g_assert_null (p);
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_PROJECT);
  g_clear_error (&error);

  exec_sql (other, "CREATE TABLE t (x)");
  p = rm_project_open (other, &error);
  g_assert_null (p);
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_PROJECT);
  g_clear_error (&error);

  p = rm_project_open (missing, &error);
  g_assert_null (p);
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_pointer (&f->project, rm_project_close);
  exec_sql (f->path, "PRAGMA user_version = 99");
  p = rm_project_open (f->path, &error);
  g_assert_null (p);
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_TOO_NEW);
  g_test_message ("%s", error->message);
}

static void
test_images (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) images = NULL;
  g_autoptr (RmProjectImage) im = NULL, found = NULL;
  g_autofree char *outside = g_build_filename (f->dir, "..", "elsewhere", "b.jpg", NULL);
  g_autofree char *abs = NULL, *rel = NULL;
  gint64 id = 0, id2 = 0;
  gboolean existed = FALSE;

  /* Same content under another name: found by checksum, not added again. */
  rm_project_add_image (f->project, "/somewhere/else.png", FAKE_SHA ("a"), IMG_W, IMG_H, NULL, &id,
                        &existed, &error);
  g_assert_no_error (error);
  g_assert_true (existed);
  g_assert_cmpint (id, ==, f->image_id);

  rm_project_add_image (f->project, outside, FAKE_SHA ("b"), 640, 480, "{\"epsg\": 32616}", &id2,
                        &existed, &error);
  g_assert_no_error (error);
  g_assert_false (existed);
  im = rm_project_get_image (f->project, id2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (im->path, ==, "../elsewhere/b.jpg");
  g_assert_cmpstr (im->georef, ==, "{\"epsg\": 32616}");
  abs = rm_project_image_path (f->project, im);
  rel = g_canonicalize_filename (outside, NULL);
  g_assert_cmpstr (abs, ==, rel);

  found = rm_project_find_image_by_sha256 (f->project, FAKE_SHA ("b"), &error);
  g_assert_no_error (error);
  g_assert_cmpint (found->id, ==, id2);
  images = rm_project_list_images (f->project, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 2);
  g_assert_cmpstr (((RmProjectImage *) images->pdata[0])->path, ==, "images/a.png");

  /* Another image under a path already used. */
  g_assert_false (
      rm_project_add_image (f->project, outside, FAKE_SHA ("c"), 4, 4, NULL, &id, NULL, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT);
  g_clear_error (&error);
  g_assert_false (rm_project_add_image (f->project, "x.png", "ABC", 4, 4, NULL, &id, NULL, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (rm_project_add_image (f->project, "y.png", FAKE_SHA ("d"), 100000, 100000, NULL,
                                        &id, NULL, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (rm_project_get_image (f->project, 999, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND);
}

static void
test_annotations (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmStoreAnnotation) a = new_annotation (f->image_id, "the red roof", 7);
  g_autoptr (RmStoreAnnotation) got = NULL;
  g_autoptr (GPtrArray) list = NULL;
  float prior[4] = { 0.1f, 0.9f, 0.5f, 0.25f };
  double bb[4];
  gint64 cat = 0;

  rm_project_ensure_category (f->project, "building", "structure", &cat, &error);
  g_assert_no_error (error);
  a->category_id = cat;
  a->source = RM_SOURCE_MODEL;
  a->has_score = TRUE;
  a->score = 0.875;
  a->prior_kind = RM_PRIOR_F32;
  a->prior_width = 2;
  a->prior_height = 2;
  a->prior = g_bytes_new (prior, sizeof prior);
  a->split = g_strdup ("train");
  a->external_id = g_strdup ("refs:1");
  rm_project_add_annotation (f->project, a, &error);
  g_assert_no_error (error);
  g_assert_cmpint (a->id, >=, 1);
  g_assert_nonnull (a->created_at);

  got = rm_project_get_annotation (f->project, a->id, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (got->expression, ==, "the red roof");
  g_assert_true (rm_rle_equal (got->mask, a->mask));
  g_assert_cmpuint (got->area, ==, rm_rle_area (a->mask));
  rm_rle_to_bbox (a->mask, bb);
  g_assert_cmpmem (got->bbox, sizeof bb, bb, sizeof bb);
  g_assert_cmpint (got->category_id, ==, cat);
  g_assert_cmpint (got->source, ==, RM_SOURCE_MODEL);
  g_assert_cmpint (got->status, ==, RM_STATUS_CANDIDATE);
  g_assert_true (got->has_score);
  g_assert_cmpfloat (got->score, ==, 0.875);
  g_assert_cmpint (got->prior_kind, ==, RM_PRIOR_F32);
  g_assert_cmpmem (g_bytes_get_data (got->prior, NULL), sizeof prior, prior, sizeof prior);
  g_assert_cmpstr (got->split, ==, "train");
  g_assert_cmpstr (got->external_id, ==, "refs:1");

  /* Correct the mask, accept, then list with filters. */
  rm_rle_free (got->mask);
  got->mask = test_mask (20);
  got->source = RM_SOURCE_MODEL_CORRECTED;
  rm_project_update_annotation (f->project, got, &error);
  g_assert_no_error (error);
  rm_project_set_annotation_status (f->project, got->id, RM_STATUS_ACCEPTED, &error);
  g_assert_no_error (error);
  {
    g_autoptr (RmStoreAnnotation) b = new_annotation (f->image_id, "the second", 3);
    rm_project_add_annotation (f->project, b, &error);
    g_assert_no_error (error);
  }
  {
    RmStoreAnnotationFilter accepted = { .status_mask = 1 << RM_STATUS_ACCEPTED,
                                         .with_masks = TRUE };
    list = rm_project_list_annotations (f->project, &accepted, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (list->len, ==, 1);
    g_assert_cmpint (((RmStoreAnnotation *) list->pdata[0])->source, ==, RM_SOURCE_MODEL_CORRECTED);
    g_assert_true (rm_rle_equal (((RmStoreAnnotation *) list->pdata[0])->mask, got->mask));
    g_clear_pointer (&list, g_ptr_array_unref);
  }
  list = rm_project_list_annotations (f->project, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_null (((RmStoreAnnotation *) list->pdata[0])->mask);

  rm_project_delete_annotation (f->project, got->id, &error);
  g_assert_no_error (error);
  g_assert_false (rm_project_delete_annotation (f->project, got->id, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (rm_project_set_annotation_status (f->project, 12345, RM_STATUS_REJECTED, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND);
}

static void
test_annotation_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmStoreAnnotation) a = new_annotation (f->image_id, "x", 1);
  guint8 big[20 * 20] = { 0 };

  /* A mask of another size than the image. */
  rm_rle_free (a->mask);
  a->mask = rm_rle_encode (big, 20, 20, 20);
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  rm_rle_free (a->mask);
  a->mask = test_mask (1);
  g_free (a->expression);
  a->expression = g_strdup ("");
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID);
  g_clear_error (&error);

  g_free (a->expression);
  a->expression = g_strdup ("ok");
  a->image_id = 4242;
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  a->image_id = f->image_id;
  a->category_id = 777;
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT);
  g_clear_error (&error);

  a->category_id = 0;
  a->prior_kind = RM_PRIOR_RLE;
  a->prior_width = 3;
  a->prior_height = 3;
  a->prior = g_bytes_new_static ("zz", 2);
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_bytes_unref (a->prior);
  a->prior = g_bytes_new_static ("9", 1); /* 9 zeros: a valid 3 x 3 RLE */
  rm_project_add_annotation (f->project, a, &error);
  g_assert_no_error (error);
}

static void
test_transactions (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  RmProjectStats st;

  g_assert_true (rm_project_begin (f->project, &error));
  {
    g_autoptr (RmStoreAnnotation) a = new_annotation (f->image_id, "kept", 1);
    g_assert_true (rm_project_add_annotation (f->project, a, &error));
  }
  g_assert_true (rm_project_begin (f->project, &error)); /* a savepoint */
  {
    g_autoptr (RmStoreAnnotation) b = new_annotation (f->image_id, "dropped", 2);
    g_assert_true (rm_project_add_annotation (f->project, b, &error));
  }
  rm_project_rollback (f->project);
  {
    /* A failing change inside the transaction leaves the rest intact. */
    g_autoptr (RmStoreAnnotation) c = new_annotation (999, "bad", 3);
    g_assert_false (rm_project_add_annotation (f->project, c, &error));
    g_clear_error (&error);
  }
  g_assert_true (rm_project_commit (f->project, &error));
  g_assert_false (rm_project_in_transaction (f->project));
  list = rm_project_list_annotations (f->project, NULL, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((RmStoreAnnotation *) list->pdata[0])->expression, ==, "kept");

  /* A whole outer transaction rolled back leaves nothing. */
  g_assert_true (rm_project_begin (f->project, &error));
  {
    g_autoptr (RmStoreAnnotation) d = new_annotation (f->image_id, "gone", 4);
    g_assert_true (rm_project_add_annotation (f->project, d, &error));
  }
  rm_project_rollback (f->project);
  rm_project_get_stats (f->project, &st, &error);
  g_assert_no_error (error);
  g_assert_cmpint (st.annotations, ==, 1);
}

static void
test_models_runs_settings (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmStoreModelVersion) base = g_new0 (RmStoreModelVersion, 1);
  g_autoptr (RmStoreModelVersion) tuned = g_new0 (RmStoreModelVersion, 1);
  g_autoptr (RmTrainingRun) run = g_new0 (RmTrainingRun, 1);
  g_autoptr (RmTrainingRun) got_run = NULL;
  g_autoptr (RmStoreModelVersion) got = NULL;
  g_autoptr (GPtrArray) versions = NULL;
  g_autofree char *value = NULL, *none = NULL;
  RmProjectStats st;

  base->name = g_strdup ("rs2sam2-tiny-v1");
  base->config_json = g_strdup ("{\"hiera\": \"tiny\"}");
  base->weights_path = g_strdup ("models/tiny");
  rm_project_add_model_version (f->project, base, &error);
  g_assert_no_error (error);

  run->base_model_id = base->id;
  run->params_json = g_strdup ("{\"lr\": 0.0001}");
  run->status = RM_RUN_RUNNING;
  rm_project_add_training_run (f->project, run, &error);
  g_assert_no_error (error);
  g_free (run->loss_curve_json);
  run->loss_curve_json = g_strdup ("[[1, 0.9], [2, 0.7]]");
  run->metrics_json = g_strdup ("{\"mIoU\": 0.61}");
  run->status = RM_RUN_FINISHED;
  rm_project_update_training_run (f->project, run, &error);
  g_assert_no_error (error);
  got_run = rm_project_get_training_run (f->project, run->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got_run->status, ==, RM_RUN_FINISHED);
  g_assert_cmpstr (got_run->loss_curve_json, ==, "[[1, 0.9], [2, 0.7]]");

  tuned->name = g_strdup ("rs2sam2-tiny-v2");
  tuned->config_json = g_strdup ("{}");
  tuned->weights_path = g_strdup ("models/tiny-v2");
  tuned->parent_id = base->id;
  tuned->training_run_id = run->id;
  tuned->metrics_json = g_strdup ("{\"mIoU\": 0.61}");
  rm_project_add_model_version (f->project, tuned, &error);
  g_assert_no_error (error);
  got = rm_project_get_model_version (f->project, tuned->id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (got->parent_id, ==, base->id);
  g_assert_cmpint (got->training_run_id, ==, run->id);
  versions = rm_project_list_model_versions (f->project, &error);
  g_assert_cmpuint (versions->len, ==, 2);

  /* A duplicate name is refused. */
  tuned->id = 0;
  g_assert_false (rm_project_add_model_version (f->project, tuned, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT);
  g_clear_error (&error);

  rm_project_set_setting (f->project, "ui.zoom", "1.5", &error);
  rm_project_set_setting (f->project, "ui.zoom", "2", &error);
  g_assert_no_error (error);
  value = rm_project_get_setting (f->project, "ui.zoom", &error);
  g_assert_cmpstr (value, ==, "2");
  none = rm_project_get_setting (f->project, "nope", &error);
  g_assert_no_error (error);
  g_assert_null (none);

  rm_project_get_stats (f->project, &st, &error);
  g_assert_no_error (error);
  g_assert_cmpint (st.model_versions, ==, 2);
  g_assert_cmpint (st.training_runs, ==, 1);
  g_assert_cmpint (st.images, ==, 1);
  g_assert_cmpint (st.images_without_annotations, ==, 1);
}

static void
test_migration_from_v1 (void)
{
  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "old.refmask", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  g_autoptr (RmStoreAnnotation) a = NULL;
  g_autofree char *ver = NULL;
  RmProject *v1;

  v1 = rm_project_create_with_schema (path, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_project_get_schema_version (v1), ==, 1);
  rm_project_close (v1);
  /* Rows as a version-1 Refmask wrote them. */
  exec_sql (path,
            "INSERT INTO images (id, path, sha256, width, height, created_at) VALUES"
            " (1, 'a.png', '" FAKE_SHA ("e") "', 5, 4, '2024-01-01T00:00:00Z');"
                                             "INSERT INTO annotations (id, image_id, expression, "
                                             "mask_rle, area, bbox_x, bbox_y, bbox_w,"
                                             " bbox_h, source, status, created_at, updated_at) "
                                             "VALUES (1, 1, 'the block', '5220003', 6,"
                                             " 1, 1, 3, 2, 'manual', 'accepted', "
                                             "'2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z');");
  ver = pragma_text (path, "PRAGMA user_version");
  g_assert_cmpstr (ver, ==, "1");

  p = rm_project_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_project_get_schema_version (p), ==, 2);
  a = rm_project_get_annotation (p, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (a->expression, ==, "the block");
  g_assert_cmpuint (a->area, ==, 6);
  g_assert_null (a->split);
  a->split = g_strdup ("val");
  rm_project_update_annotation (p, a, &error);
  g_assert_no_error (error);
  rm_project_check (p, &error);
  g_assert_no_error (error);
  g_clear_pointer (&p, rm_project_close);
  g_free (ver);
  ver = pragma_text (path, "PRAGMA user_version");
  g_assert_cmpstr (ver, ==, "2");
  rm_test_rmdir_recursive (dir);
}

/* ---- concurrency ---- */

typedef struct
{
  const char *path;
  guint hold_ms;
  GMutex lock;
  GCond cond;
  gboolean holding;
} Holder;

static gpointer
hold_write_lock (gpointer data)
{
  Holder *h = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = rm_project_open (h->path, &error);
  g_assert_no_error (error);
  g_assert_true (rm_project_begin (p, &error));
  {
    g_autoptr (RmStoreAnnotation) a = new_annotation (1, "from the holder", 5);
    g_assert_true (rm_project_add_annotation (p, a, &error));
  }
  g_mutex_lock (&h->lock);
  h->holding = TRUE;
  g_cond_signal (&h->cond);
  g_mutex_unlock (&h->lock);
  g_usleep (h->hold_ms * 1000);
  g_assert_true (rm_project_commit (p, &error));
  return NULL;
}

static GThread *
start_holder (Holder *h)
{
  GThread *t = g_thread_new ("holder", hold_write_lock, h);
  g_mutex_lock (&h->lock);
  while (!h->holding)
    g_cond_wait (&h->cond, &h->lock);
  g_mutex_unlock (&h->lock);
  return t;
}

static void
test_busy_wait_and_readers (Fixture *f, gconstpointer data)
{
  Holder h = { .path = f->path, .hold_ms = 300 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmStoreAnnotation) a = new_annotation (f->image_id, "waits its turn", 6);
  GThread *t;
  gint64 t0, read_us, write_us;
  RmProjectStats st;

  g_mutex_init (&h.lock);
  g_cond_init (&h.cond);
  t = start_holder (&h);
  /* A reader is not blocked by the writer (WAL). */
  t0 = g_get_monotonic_time ();
  rm_project_get_stats (f->project, &st, &error);
  read_us = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_assert_cmpint (st.annotations, ==, 0); /* the holder has not committed yet */
  /* A second writer waits instead of failing. */
  rm_project_add_annotation (f->project, a, &error);
  write_us = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_thread_join (t);
  g_test_message ("read %" G_GINT64_FORMAT " us while locked; write waited %" G_GINT64_FORMAT " us",
                  read_us, write_us);
  g_assert_cmpint (read_us, <, 150000);
  g_assert_cmpint (write_us, >=, 200000);
  rm_project_get_stats (f->project, &st, &error);
  g_assert_cmpint (st.annotations, ==, 2);
  g_mutex_clear (&h.lock);
  g_cond_clear (&h.cond);
}

static void
test_busy_budget_exceeded (Fixture *f, gconstpointer data)
{
  Holder h = { .path = f->path, .hold_ms = 700 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmStoreAnnotation) a = new_annotation (f->image_id, "gives up", 6);
  GThread *t;

  g_mutex_init (&h.lock);
  g_cond_init (&h.cond);
  rm_project_set_busy_budget (f->project, 100);
  t = start_holder (&h);
  g_assert_false (rm_project_add_annotation (f->project, a, &error));
  g_assert_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_BUSY);
  g_test_message ("%s", error->message);
  g_assert_null (strstr (error->message, "locked"));
  g_thread_join (t);
  g_mutex_clear (&h.lock);
  g_cond_clear (&h.cond);
}

/* ---- a full disk: RLIMIT_FSIZE in a subprocess ---- */

static void
disk_full_child (void)
{
  const char *path = g_getenv ("REFMASK_TEST_PROJECT");
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  struct rlimit lim;
  GStatBuf st;

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs only as the subprocess of /project/disk-full");
      return;
    }
  p = rm_project_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  signal (SIGXFSZ, SIG_IGN); /* get EFBIG instead of being killed */
  lim.rlim_cur = lim.rlim_max = (rlim_t) st.st_size + 64 * 1024;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  for (int i = 0; i < 100000; i++)
    {
      g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
      guint8 m[IMG_W * IMG_H];
      rm_test_random_mask (rand, m, sizeof m, 0.5); /* long RLE strings fill pages fast */
      a->image_id = 1;
      a->expression = g_strdup_printf ("fill %d", i);
      a->mask = rm_rle_encode (m, IMG_H, IMG_W, IMG_W);
      if (!rm_project_add_annotation (p, a, &error))
        {
          g_autoptr (GPtrArray) list = NULL;
          g_autoptr (GError) read_error = NULL;
          g_print ("FAILED %d %d %s\n", error->domain == RM_PROJECT_ERROR, error->code,
                   error->message);
          /* Reading still works, and shows exactly the committed writes. */
          list = rm_project_list_annotations (p, NULL, &read_error);
          g_assert_no_error (read_error);
          g_assert_cmpint (list->len, ==, i);
          return;
        }
      g_print ("OK %d\n", i);
    }
  g_print ("NEVER FULL\n");
}

static void
test_disk_full (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  g_clear_pointer (&f->project, rm_project_close);
  g_setenv ("REFMASK_TEST_PROJECT", f->path, TRUE);
  g_test_trap_subprocess ("/project/disk-full/subprocess", 60 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*OK 0*FAILED 1 6 *full*"); /* RM_PROJECT_ERROR_FULL, said plainly */
  f->project = rm_project_open (f->path, &error);
  g_assert_no_error (error);
  rm_project_check (f->project, &error);
  g_assert_no_error (error);
  list = rm_project_list_annotations (f->project, NULL, &error);
  g_assert_no_error (error);
  /* Exactly the writes that committed, in order, and nothing half-written. */
  g_assert_cmpuint (list->len, >, 0);
  for (guint i = 0; i < list->len; i++)
    {
      g_autofree char *expect = g_strdup_printf ("fill %u", i);
      g_assert_cmpstr (((RmStoreAnnotation *) list->pdata[i])->expression, ==, expect);
    }
}

/* ---- crash safety: SIGKILL a writer at random moments ---- */

static int
crash_child (const char *path, const char *round_str)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = rm_project_open (path, &error);
  int round = atoi (round_str);

  if (p == NULL)
    {
      g_printerr ("crash child: %s\n", error->message);
      return 1;
    }
  printf ("ready\n");
  fflush (stdout);
  for (int batch = 0;; batch++)
    {
      /* Alternate single writes and transactions of three. */
      int size = batch % 2 == 0 ? 1 : 3;
      if (!rm_project_begin (p, &error))
        break;
      for (int k = 0; k < size; k++)
        {
          g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
          a->image_id = 1;
          a->expression = g_strdup_printf ("crash r%d b%d k%d n%d", round, batch, k, size);
          a->mask = test_mask ((guint) (round * 131 + batch * 7 + k));
          if (!rm_project_add_annotation (p, a, &error))
            break;
        }
      if (error != NULL || !rm_project_commit (p, &error))
        break;
      printf ("%d %d\n", batch, size);
      fflush (stdout);
    }
  g_printerr ("crash child: %s\n", error->message);
  return 1;
}

/* Reads the child's output into `out` until it holds `lines` lines (or the timeout). */
static void
read_lines (int fd, GString *out, guint lines, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      guint have = 0;
      char buf[4096];
      gssize n;
      for (const char *c = out->str; *c != '\0'; c++)
        have += *c == '\n';
      if (have >= lines || poll (&pfd, 1, 50) < 0)
        return;
      if (pfd.revents & (POLLIN | POLLHUP))
        {
          n = read (fd, buf, sizeof buf);
          if (n <= 0)
            return;
          g_string_append_len (out, buf, n);
        }
    }
}

static void
run_crash_rounds (guint rounds)
{
  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "crash.refmask", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr (GHashTable) reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint total_reported = 0, mid_write_kills = 0;
  gint64 image_id;

  {
    g_autoptr (RmProject) p = rm_project_create (path, &error);
    g_assert_no_error (error);
    rm_project_add_image (p, "a.png", FAKE_SHA ("f"), IMG_W, IMG_H, NULL, &image_id, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (image_id, ==, 1);
  }
  for (guint round = 0; round < rounds; round++)
    {
      g_autofree char *round_str = g_strdup_printf ("%u", round);
      const char *argv[] = { self, "--crash-child", path, round_str, NULL };
      g_autoptr (GString) out = g_string_new (NULL);
      g_autoptr (RmProject) p = NULL;
      g_autoptr (GPtrArray) list = NULL;
      g_autoptr (GHashTable) batches =
          g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_auto (GStrv) lines = NULL;
      GPid pid;
      int fd, status;
      gboolean after_ready = g_rand_int_range (rand, 0, 4) != 0;

      g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &pid, NULL, &fd, NULL, &error);
      g_assert_no_error (error);
      /* Mostly kill while writing (after the first commit); sometimes while it is still
       * opening the file. */
      if (after_ready)
        {
          read_lines (fd, out, 2, 20000);
          g_usleep (g_rand_int_range (rand, 0, 20000));
        }
      else
        g_usleep (g_rand_int_range (rand, 0, 15000));
      kill (pid, SIGKILL);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
      g_spawn_close_pid (pid);
      g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
      read_lines (fd, out, G_MAXUINT, 5000); /* the rest, until end of file */
      close (fd);

      lines = g_strsplit (out->str, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          int batch, size;
          if (sscanf (lines[i], "%d %d", &batch, &size) == 2)
            {
              g_hash_table_insert (reported, g_strdup_printf ("r%u b%d", round, batch),
                                   GINT_TO_POINTER (size));
              total_reported++;
            }
        }
      mid_write_kills += g_strv_length (lines) > 2;

      /* After every kill: intact file, all reported writes there, no partial transaction. */
      p = rm_project_open (path, &error);
      g_assert_no_error (error);
      rm_project_check (p, &error);
      g_assert_no_error (error);
      list =
          rm_project_list_annotations (p, &(RmStoreAnnotationFilter){ .with_masks = TRUE }, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < list->len; i++)
        {
          RmStoreAnnotation *a = list->pdata[i];
          guint r;
          int b, k, sz;
          g_autoptr (RmRle) expect = NULL;
          g_assert_cmpint (sscanf (a->expression, "crash r%u b%d k%d n%d", &r, &b, &k, &sz), ==, 4);
          expect = test_mask (r * 131 + (guint) b * 7 + (guint) k);
          g_assert_true (rm_rle_equal (a->mask, expect));
          if (r == round)
            {
              char *key = g_strdup_printf ("r%u b%d", r, b);
              int count = GPOINTER_TO_INT (g_hash_table_lookup (batches, key)) + 1;
              g_hash_table_insert (batches, key, GINT_TO_POINTER (count));
            }
        }
      {
        GHashTableIter it;
        gpointer key, val;
        g_hash_table_iter_init (&it, batches);
        while (g_hash_table_iter_next (&it, &key, &val))
          {
            int b, sz;
            guint r;
            sscanf (key, "r%u b%d", &r, &b);
            sz = b % 2 == 0 ? 1 : 3;
            g_assert_cmpint (GPOINTER_TO_INT (val), ==, sz); /* all or nothing */
          }
        g_hash_table_iter_init (&it, reported);
        while (g_hash_table_iter_next (&it, &key, &val))
          {
            guint r;
            int b;
            sscanf (key, "r%u b%d", &r, &b);
            if (r == round)
              g_assert_true (g_hash_table_contains (batches, key));
          }
      }
    }
  g_test_message ("%u kills, %u of them mid-write; %u committed batches reported", rounds,
                  mid_write_kills, total_reported);
  g_assert_cmpuint (total_reported, >=, rounds / 2);
  rm_test_rmdir_recursive (dir);
}

static void
test_crash_safety (void)
{
  run_crash_rounds (24);
}

static void
test_crash_safety_slow (void)
{
  if (!g_test_slow ())
    {
      g_test_skip ("the 200-kill run is in the slow suite (-m slow)");
      return;
    }
  run_crash_rounds (200);
}

int
main (int argc, char **argv)
{
  if (argc == 4 && strcmp (argv[1], "--crash-child") == 0)
    return crash_child (argv[2], argv[3]);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/project/create-open", test_create_open);
  ADD ("/project/bad-files", test_bad_files);
  ADD ("/project/images", test_images);
  ADD ("/project/annotations", test_annotations);
  ADD ("/project/annotation-errors", test_annotation_errors);
  ADD ("/project/transactions", test_transactions);
  ADD ("/project/models-runs-settings", test_models_runs_settings);
  ADD ("/project/busy/wait-and-readers", test_busy_wait_and_readers);
  ADD ("/project/busy/budget-exceeded", test_busy_budget_exceeded);
  ADD ("/project/disk-full", test_disk_full);
#undef ADD
  g_test_add_func ("/project/migration/v1-to-v2", test_migration_from_v1);
  g_test_add_func ("/project/disk-full/subprocess", disk_full_child);
  g_test_add_func ("/project/crash-safety", test_crash_safety);
  g_test_add_func ("/project/crash-safety/slow", test_crash_safety_slow);
  return g_test_run ();
}
