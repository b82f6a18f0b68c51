/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SQLite project store (see rm-project.h and docs/project-schema.md). */
#include "rm-project.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK (rm - project - error - quark, rm_project_error)

struct RmProject
{
  sqlite3 *db;
  char *path, *dir;
  guint schema;
  guint depth;       /* open transaction levels */
  guint busy_budget; /* ms */
  GHashTable *stmts; /* SQL text -> prepared statement */
};

/* ---- schema ---- */

/* Version 1: the tables of issue 5. Never edit: files in the field were made with it. */
static const char schema_v1[] =
    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL UNIQUE,"
    "  sha256 TEXT NOT NULL UNIQUE CHECK (length (sha256) = 64),"
    "  width INTEGER NOT NULL CHECK (width > 0),"
    "  height INTEGER NOT NULL CHECK (height > 0),"
    "  georef TEXT,"
    "  created_at TEXT NOT NULL);"
    "CREATE TABLE categories ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  supercategory TEXT);"
    "CREATE TABLE training_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  base_model_id INTEGER REFERENCES model_versions (id) ON DELETE SET NULL,"
    "  params_json TEXT NOT NULL DEFAULT '{}',"
    "  loss_curve_json TEXT NOT NULL DEFAULT '[]',"
    "  metrics_json TEXT,"
    "  status TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending', 'running', 'finished', 'failed', 'cancelled')),"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL);"
    "CREATE TABLE model_versions ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  config_json TEXT NOT NULL,"
    "  weights_path TEXT NOT NULL,"
    "  parent_id INTEGER REFERENCES model_versions (id) ON DELETE SET NULL,"
    "  training_run_id INTEGER REFERENCES training_runs (id) ON DELETE SET NULL,"
    "  metrics_json TEXT,"
    "  created_at TEXT NOT NULL);"
    "CREATE TABLE annotations ("
    "  id INTEGER PRIMARY KEY,"
    "  image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,"
    "  expression TEXT NOT NULL,"
    "  category_id INTEGER REFERENCES categories (id) ON DELETE SET NULL,"
    "  mask_rle TEXT NOT NULL,"
    "  area INTEGER NOT NULL,"
    "  bbox_x INTEGER NOT NULL, bbox_y INTEGER NOT NULL,"
    "  bbox_w INTEGER NOT NULL, bbox_h INTEGER NOT NULL,"
    "  prior_kind TEXT CHECK (prior_kind IN ('rle', 'f32')),"
    "  prior_width INTEGER, prior_height INTEGER, prior BLOB,"
    "  source TEXT NOT NULL CHECK (source IN ('model', 'model_corrected', 'manual', 'imported')),"
    "  status TEXT NOT NULL CHECK (status IN ('candidate', 'accepted', 'rejected')),"
    "  model_version_id INTEGER REFERENCES model_versions (id) ON DELETE SET NULL,"
    "  score REAL,"
    "  created_at TEXT NOT NULL,"
    "  updated_at TEXT NOT NULL,"
    "  CHECK ((prior_kind IS NULL) = (prior IS NULL)));"
    "CREATE INDEX annotations_by_image ON annotations (image_id);"
    "CREATE INDEX annotations_by_status ON annotations (status);"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;";

/* Version 2: the dataset split and the id an annotation had where it came from (refs.jsonl
 * ids, RRSIS-D ref/sentence ids), so exports round-trip and re-imports are detected. */
static const char migrate_v2[] =
    "ALTER TABLE annotations ADD COLUMN split TEXT;"
    "ALTER TABLE annotations ADD COLUMN external_id TEXT;"
    "CREATE INDEX annotations_by_external_id ON annotations (external_id)"
    "  WHERE external_id IS NOT NULL;";

/* migrations[v] brings a file from version v - 1 to v. */
static const char *const migrations[] = { NULL, schema_v1, migrate_v2 };
G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == RM_PROJECT_SCHEMA_VERSION + 1);

/* ---- enums ---- */

static const char *const source_names[] = { "model", "model_corrected", "manual", "imported" };
static const char *const status_names[] = { "candidate", "accepted", "rejected" };
static const char *const run_names[] = { "pending", "running", "finished", "failed", "cancelled" };

static gboolean
name_lookup (const char *const *names, guint n, const char *s, int *out)
{
  for (guint i = 0; s != NULL && i < n; i++)
    if (strcmp (names[i], s) == 0)
      {
        *out = (int) i;
        return TRUE;
      }
  return FALSE;
}

#define DEFINE_ENUM_STRINGS(Type, prefix, names)               \
  const char *prefix##_to_string (Type v)                      \
  {                                                            \
    return (guint) v < G_N_ELEMENTS (names) ? names[v] : NULL; \
  }                                                            \
  gboolean prefix##_from_string (const char *s, Type *out)     \
  {                                                            \
    int i;                                                     \
    if (!name_lookup (names, G_N_ELEMENTS (names), s, &i))     \
      return FALSE;                                            \
    *out = (Type) i;                                           \
    return TRUE;                                               \
  }

DEFINE_ENUM_STRINGS (RmStoreSource, rm_store_source, source_names)
DEFINE_ENUM_STRINGS (RmStoreStatus, rm_store_status, status_names)
DEFINE_ENUM_STRINGS (RmRunStatus, rm_run_status, run_names)

/* ---- records ---- */

void
rm_project_image_free (RmProjectImage *image)
{
  if (image == NULL)
    return;
  g_free (image->path);
  g_free (image->sha256);
  g_free (image->georef);
  g_free (image->created_at);
  g_free (image);
}

RmStoreAnnotation *
rm_store_annotation_new (void)
{
  RmStoreAnnotation *a = g_new0 (RmStoreAnnotation, 1);
  a->source = RM_SOURCE_MANUAL;
  a->status = RM_STATUS_CANDIDATE;
  return a;
}

void
rm_store_annotation_free (RmStoreAnnotation *a)
{
  if (a == NULL)
    return;
  g_free (a->expression);
  rm_rle_free (a->mask);
  g_clear_pointer (&a->prior, g_bytes_unref);
  g_free (a->split);
  g_free (a->external_id);
  g_free (a->created_at);
  g_free (a->updated_at);
  g_free (a);
}

void
rm_category_free (RmCategory *c)
{
  if (c == NULL)
    return;
  g_free (c->name);
  g_free (c->supercategory);
  g_free (c);
}

void
rm_store_model_version_free (RmStoreModelVersion *v)
{
  if (v == NULL)
    return;
  g_free (v->name);
  g_free (v->config_json);
  g_free (v->weights_path);
  g_free (v->metrics_json);
  g_free (v->created_at);
  g_free (v);
}

void
rm_training_run_free (RmTrainingRun *r)
{
  if (r == NULL)
    return;
  g_free (r->params_json);
  g_free (r->loss_curve_json);
  g_free (r->metrics_json);
  g_free (r->created_at);
  g_free (r->updated_at);
  g_free (r);
}

/* ---- SQLite plumbing ---- */

/* Turns an SQLite result into a message for people: no "database is locked" ever. */
static gboolean
sql_fail (RmProject *p, int rc, const char *what, GError **error)
{
  const char *msg = p->db != NULL ? sqlite3_errmsg (p->db) : sqlite3_errstr (rc);
  int sys = p->db != NULL ? sqlite3_system_errno (p->db) : 0;

  switch (rc & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_BUSY,
                   "%s: the project %s is busy: another program kept writing to it for more than "
                   "%g s; nothing was changed, try again when it has finished",
                   what, p->path, p->busy_budget / 1000.0);
      break;
    case SQLITE_FULL:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_FULL,
                   "%s: the disk holding %s is full; the change was not saved", what, p->path);
      break;
    case SQLITE_IOERR:
      /* SQLite reports ENOSPC as SQLITE_FULL, but EFBIG and EDQUOT only as a failed write,
       * often without keeping errno: a failed write is a full disk or a size limit. */
      if (sys == ENOSPC || sys == EFBIG || sys == EDQUOT ||
          ((rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_SHMSIZE) && sys == 0))
        g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_FULL,
                     "%s: could not write to %s: the disk is full or the file has reached its "
                     "size limit; the change was not saved",
                     what, p->path);
      else
        g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_IO,
                     "%s: cannot read or write %s (%s)", what, p->path,
                     sys != 0 ? g_strerror (sys) : msg);
      break;
    case SQLITE_CORRUPT:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CORRUPT,
                   "%s: the project file %s is damaged (%s)", what, p->path, msg);
      break;
    case SQLITE_NOTADB:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_PROJECT,
                   "%s is not a Refmask project (it is not an SQLite database)", p->path);
      break;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT,
                     "%s: it refers to an image, category, model version or training run that "
                     "does not exist",
                     what);
      else
        g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT, "%s: %s", what, msg);
      break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_IO, "%s: cannot write %s (%s)", what,
                   p->path, msg);
      break;
    default:
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_FAILED, "%s: %s", what, msg);
    }
  return FALSE;
}

/* Steps, retrying while another connection holds the write lock, within the busy budget. */
static int
step (RmProject *p, sqlite3_stmt *s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) p->busy_budget * 1000;
  for (;;)
    {
      int rc = sqlite3_step (s);
      if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
        return rc;
      if (g_get_monotonic_time () >= deadline)
        return rc;
      sqlite3_reset (s);
      g_usleep (1000 + g_random_int_range (0, 4000)); /* jitter: writers do not march in step */
    }
}

static void
stmt_finalize (gpointer s)
{
  sqlite3_finalize (s);
}

/* A prepared statement from the cache, reset and unbound. */
static sqlite3_stmt *
prep (RmProject *p, const char *sql, GError **error)
{
  sqlite3_stmt *s = g_hash_table_lookup (p->stmts, sql);
  int rc;

  if (s != NULL)
    {
      sqlite3_reset (s);
      sqlite3_clear_bindings (s);
      return s;
    }
  rc = sqlite3_prepare_v3 (p->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
  if (rc != SQLITE_OK)
    {
      sql_fail (p, rc, "cannot read the project", error);
      return NULL;
    }
  g_hash_table_insert (p->stmts, g_strdup (sql), s);
  return s;
}

/* Runs one statement that returns no rows. */
static gboolean
exec1 (RmProject *p, const char *sql, const char *what, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2 (p->db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK)
    rc = step (p, s);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    rc = SQLITE_OK;
  else
    sql_fail (p, rc, what, error); /* before finalize, which would clear the system errno */
  sqlite3_finalize (s);
  return rc == SQLITE_OK;
}

static gboolean
exec_script (RmProject *p, const char *sql, const char *what, GError **error)
{
  int rc = sqlite3_exec (p->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK || sql_fail (p, rc, what, error);
}

static gboolean
query_int (RmProject *p, const char *sql, gint64 *out, GError **error)
{
  sqlite3_stmt *s = prep (p, sql, error);
  int rc;
  if (s == NULL)
    return FALSE;
  rc = step (p, s);
  if (rc != SQLITE_ROW)
    return sql_fail (p, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "cannot read the project", error);
  *out = sqlite3_column_int64 (s, 0);
  sqlite3_reset (s);
  return TRUE;
}

static char *
col_dup (sqlite3_stmt *s, int i)
{
  return sqlite3_column_type (s, i) == SQLITE_NULL
             ? NULL
             : g_strdup ((const char *) sqlite3_column_text (s, i));
}

static void
bind_text_or_null (sqlite3_stmt *s, int i, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (s, i, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (s, i);
}

static void
bind_id_or_null (sqlite3_stmt *s, int i, gint64 id)
{
  if (id > 0)
    sqlite3_bind_int64 (s, i, id);
  else
    sqlite3_bind_null (s, i);
}

static char *
now_iso (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  return g_date_time_format_iso8601 (now);
}

/* Runs a statement to completion (after binding); DONE is success. */
static gboolean
run_stmt (RmProject *p, sqlite3_stmt *s, const char *what, GError **error)
{
  int rc = step (p, s);
  if (rc != SQLITE_DONE)
    sql_fail (p, rc, what, error);
  sqlite3_reset (s);
  return rc == SQLITE_DONE;
}

/* ---- transactions ---- */

gboolean
rm_project_begin (RmProject *p, GError **error)
{
  if (p->depth == 0)
    {
      /* IMMEDIATE takes the write lock now, so a read never has to be upgraded later
       * (which in WAL mode could fail at once instead of waiting). */
      if (!exec1 (p, "BEGIN IMMEDIATE", "cannot start a change", error))
        return FALSE;
    }
  else
    {
      g_autofree char *sql = g_strdup_printf ("SAVEPOINT rm_sp%u", p->depth);
      if (!exec1 (p, sql, "cannot start a change", error))
        return FALSE;
    }
  p->depth++;
  return TRUE;
}

gboolean
rm_project_commit (RmProject *p, GError **error)
{
  g_return_val_if_fail (p->depth > 0, FALSE);
  if (p->depth == 1)
    {
      if (!exec1 (p, "COMMIT", "cannot save the change", error))
        {
          /* Nothing of this transaction may half-survive: end it. */
          sqlite3_exec (p->db, "ROLLBACK", NULL, NULL, NULL);
          p->depth = 0;
          return FALSE;
        }
    }
  else
    {
      g_autofree char *sql = g_strdup_printf ("RELEASE rm_sp%u", p->depth - 1);
      if (!exec1 (p, sql, "cannot save the change", error))
        return FALSE;
    }
  p->depth--;
  return TRUE;
}

void
rm_project_rollback (RmProject *p)
{
  if (p->depth == 0)
    return;
  if (p->depth == 1)
    sqlite3_exec (p->db, "ROLLBACK", NULL, NULL, NULL);
  else
    {
      g_autofree char *sql =
          g_strdup_printf ("ROLLBACK TO rm_sp%u; RELEASE rm_sp%u", p->depth - 1, p->depth - 1);
      sqlite3_exec (p->db, sql, NULL, NULL, NULL);
    }
  p->depth--;
}

gboolean
rm_project_in_transaction (RmProject *p)
{
  return p->depth > 0;
}

/* Ends the transaction level that began at depth `depth0`: commit on success. */
static gboolean
finish (RmProject *p, guint depth0, gboolean ok, GError **error)
{
  if (!ok)
    {
      if (p->depth > depth0)
        rm_project_rollback (p);
      return FALSE;
    }
  return rm_project_commit (p, error);
}

/* ---- open / create ---- */

static gboolean
migrate (RmProject *p, guint target, GError **error)
{
  guint depth0 = p->depth;
  gint64 v = 0;
  gboolean ok = rm_project_begin (p, error) && query_int (p, "PRAGMA user_version", &v, error);

  /* Re-read inside the write lock: another process may have migrated meanwhile. */
  for (guint next = (guint) v + 1; ok && next <= target; next++)
    {
      g_autofree char *what =
          g_strdup_printf ("cannot upgrade the project to schema version %u", next);
      g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %u", next);
      ok = exec_script (p, migrations[next], what, error) && exec1 (p, set, what, error);
    }
  if (!finish (p, depth0, ok, error))
    return FALSE;
  p->schema = MAX ((guint) v, target);
  return TRUE;
}

static RmProject *
project_new (const char *path)
{
  RmProject *p = g_new0 (RmProject, 1);
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  p->path = g_strdup (abs);
  p->dir = g_path_get_dirname (abs);
  p->busy_budget = 30000;
  p->stmts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, stmt_finalize);
  return p;
}

void
rm_project_close (RmProject *p)
{
  if (p == NULL)
    return;
  while (p->depth > 0)
    rm_project_rollback (p);
  g_hash_table_unref (p->stmts);
  if (p->db != NULL)
    sqlite3_close_v2 (p->db);
  g_free (p->path);
  g_free (p->dir);
  g_free (p);
}

static RmProject *
open_internal (const char *path, gboolean wal, gboolean do_migrate, GError **error)
{
  g_autoptr (RmProject) p = project_new (path);
  gint64 app = 0, version = 0;
  int rc;

  if (!g_file_test (p->path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND,
                   "there is no project file %s", p->path);
      return NULL;
    }
  rc = sqlite3_open_v2 (p->path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      sql_fail (p, rc, "cannot open the project", error);
      return NULL;
    }
  sqlite3_extended_result_codes (p->db, 1);
  sqlite3_busy_timeout (p->db, 200); /* short waits inside SQLite; step() retries on top */

  if (!query_int (p, "PRAGMA application_id", &app, error))
    return NULL;
  if (app != RM_PROJECT_APPLICATION_ID)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_PROJECT,
                   "%s is not a Refmask project (an SQLite file of another application)", p->path);
      return NULL;
    }
  if (!query_int (p, "PRAGMA user_version", &version, error))
    return NULL;
  if (version > RM_PROJECT_SCHEMA_VERSION)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_TOO_NEW,
                   "%s was written by a newer Refmask (project schema %" G_GINT64_FORMAT "); this "
                   "version reads schemas up to %d",
                   p->path, version, RM_PROJECT_SCHEMA_VERSION);
      return NULL;
    }
  if (version < 1)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CORRUPT,
                   "%s is an unfinished Refmask project (no schema)", p->path);
      return NULL;
    }
  p->schema = (guint) version;
  /* synchronous=FULL: a committed change is on disk before the call returns. */
  if (!exec1 (p, "PRAGMA foreign_keys = ON", "cannot open the project", error) ||
      !exec1 (p, "PRAGMA synchronous = FULL", "cannot open the project", error))
    return NULL;
  if (wal && !exec1 (p, "PRAGMA journal_mode = WAL", "cannot open the project", error))
    return NULL;
  if (do_migrate && p->schema < RM_PROJECT_SCHEMA_VERSION &&
      !migrate (p, RM_PROJECT_SCHEMA_VERSION, error))
    return NULL;
  return g_steal_pointer (&p);
}

RmProject *
rm_project_open (const char *path, GError **error)
{
  return open_internal (path, TRUE, TRUE, error);
}

RmProject *
rm_project_create_with_schema (const char *path, guint version, GError **error)
{
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *dir = g_path_get_dirname (abs);
  g_autofree char *tmpl = g_build_filename (dir, ".refmask-new-XXXXXX", NULL);
  g_autoptr (RmProject) p = NULL;
  gboolean ok;
  int fd;

  g_return_val_if_fail (version >= 1 && version <= RM_PROJECT_SCHEMA_VERSION, NULL);
  if (g_file_test (abs, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_EXISTS, "%s already exists", abs);
      return NULL;
    }
  /* Build the schema in a temporary file and link it into place: the project appears
   * complete or not at all, and an existing file is never replaced. */
  fd = g_mkstemp (tmpl);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_IO,
                   "cannot create a project in %s: %s", dir, g_strerror (e));
      return NULL;
    }
  close (fd);
  p = project_new (tmpl);
  ok = sqlite3_open_v2 (tmpl, &p->db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK;
  if (ok)
    {
      g_autofree char *set_app =
          g_strdup_printf ("PRAGMA application_id = %d", RM_PROJECT_APPLICATION_ID);
      sqlite3_extended_result_codes (p->db, 1);
      ok = exec1 (p, set_app, "cannot create the project", error) && migrate (p, version, error);
    }
  else
    sql_fail (p, sqlite3_errcode (p->db), "cannot create the project", error);
  g_clear_pointer (&p, rm_project_close);
  if (ok && link (tmpl, abs) != 0)
    {
      int e = errno;
      ok = FALSE;
      if (e == EEXIST || g_file_test (abs, G_FILE_TEST_EXISTS))
        g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_EXISTS, "%s already exists", abs);
      else if (g_rename (tmpl, abs) != 0) /* a file system without hard links */
        {
          e = errno;
          g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_IO, "cannot create %s: %s", abs,
                       g_strerror (e));
        }
      else
        ok = TRUE;
    }
  g_unlink (tmpl);
  if (!ok)
    return NULL;
  return open_internal (abs, TRUE, FALSE, error);
}

RmProject *
rm_project_create (const char *path, GError **error)
{
  return rm_project_create_with_schema (path, RM_PROJECT_SCHEMA_VERSION, error);
}

const char *
rm_project_get_path (RmProject *p)
{
  return p->path;
}

const char *
rm_project_get_dir (RmProject *p)
{
  return p->dir;
}

guint
rm_project_get_schema_version (RmProject *p)
{
  return p->schema;
}

void
rm_project_set_busy_budget (RmProject *p, guint ms)
{
  p->busy_budget = ms;
}

gboolean
rm_project_check (RmProject *p, GError **error)
{
  sqlite3_stmt *s = prep (p, "PRAGMA integrity_check", error);
  int rc;
  if (s == NULL)
    return FALSE;
  rc = step (p, s);
  if (rc != SQLITE_ROW)
    return sql_fail (p, rc, "cannot check the project", error);
  if (strcmp ((const char *) sqlite3_column_text (s, 0), "ok") != 0)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CORRUPT,
                   "the project file %s is damaged: %s", p->path, sqlite3_column_text (s, 0));
      sqlite3_reset (s);
      return FALSE;
    }
  sqlite3_reset (s);
  s = prep (p, "PRAGMA foreign_key_check", error);
  if (s == NULL)
    return FALSE;
  rc = step (p, s);
  sqlite3_reset (s);
  if (rc == SQLITE_ROW)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CORRUPT,
                   "the project file %s has dangling references", p->path);
      return FALSE;
    }
  return rc == SQLITE_DONE || sql_fail (p, rc, "cannot check the project", error);
}

/* ---- paths ---- */

void
rm_remove_tree (const char *path)
{
  if (path == NULL)
    return;
  GDir *dir = g_file_test (path, G_FILE_TEST_IS_SYMLINK) ? NULL : g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    {
      g_unlink (path);
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      rm_remove_tree (child);
    }
  g_dir_close (dir);
  g_rmdir (path);
}

char *
rm_path_relative_to (const char *dir, const char *path)
{
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *base = g_canonicalize_filename (dir, NULL);
  g_auto (GStrv) a = g_strsplit (abs, G_DIR_SEPARATOR_S, -1);
  g_auto (GStrv) d = g_strsplit (base, G_DIR_SEPARATOR_S, -1);
  g_autoptr (GString) out = g_string_new (NULL);
  guint i = 0, na = g_strv_length (a), nd = g_strv_length (d);

  /* g_strsplit of "/x" gives "", "x"; of the root "/" it gives "", "". */
  if (nd == 2 && d[1][0] == '\0')
    nd = 1;
  while (i < na && i < nd && strcmp (a[i], d[i]) == 0)
    i++;
  for (guint k = i; k < nd; k++)
    g_string_append (out, "../");
  for (guint k = i; k < na; k++)
    {
      g_string_append (out, a[k]);
      if (k + 1 < na)
        g_string_append_c (out, '/');
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
rm_project_relative_path (RmProject *p, const char *path)
{
  return rm_path_relative_to (p->dir, path);
}

char *
rm_project_image_path (RmProject *p, const RmProjectImage *image)
{
  return g_canonicalize_filename (image->path, p->dir);
}

char *
rm_sha256_file (const char *path, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (1 << 16);
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  gssize n;

  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot read %s: %s", path,
                   g_strerror (e));
      return NULL;
    }
  while ((n = read (fd, buf, 1 << 16)) != 0)
    {
      if (n < 0)
        {
          int e = errno;
          if (e == EINTR)
            continue;
          close (fd);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot read %s: %s", path,
                       g_strerror (e));
          return NULL;
        }
      g_checksum_update (sum, buf, n);
    }
  close (fd);
  return g_strdup (g_checksum_get_string (sum));
}

/* ---- images ---- */

static gboolean
valid_sha256 (const char *s)
{
  if (s == NULL || strlen (s) != 64)
    return FALSE;
  for (int i = 0; i < 64; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return TRUE;
}

#define IMAGE_COLUMNS "id, path, sha256, width, height, georef, created_at"

static gpointer
image_from_row (sqlite3_stmt *s)
{
  RmProjectImage *im = g_new0 (RmProjectImage, 1);
  im->id = sqlite3_column_int64 (s, 0);
  im->path = col_dup (s, 1);
  im->sha256 = col_dup (s, 2);
  im->width = (guint32) sqlite3_column_int64 (s, 3);
  im->height = (guint32) sqlite3_column_int64 (s, 4);
  im->georef = col_dup (s, 5);
  im->created_at = col_dup (s, 6);
  return im;
}

/* One row by a bound statement; NULL + NOT_FOUND error (or no error if !required). */
static gpointer
fetch_one (RmProject *p, sqlite3_stmt *s, gpointer (*from_row) (sqlite3_stmt *), const char *what,
           gboolean required, GError **error)
{
  int rc = step (p, s);
  gpointer row = NULL;
  if (rc == SQLITE_ROW)
    row = from_row (s);
  else if (rc != SQLITE_DONE)
    sql_fail (p, rc, "cannot read the project", error);
  else if (required)
    g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND, "there is no %s in %s", what,
                 p->path);
  sqlite3_reset (s);
  return row;
}

static GPtrArray *
fetch_all (RmProject *p, sqlite3_stmt *s, gpointer (*from_row) (sqlite3_stmt *),
           GDestroyNotify free_fn, GError **error)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (free_fn);
  int rc;
  while ((rc = step (p, s)) == SQLITE_ROW)
    g_ptr_array_add (rows, from_row (s));
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      sql_fail (p, rc, "cannot read the project", error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

RmProjectImage *
rm_project_get_image (RmProject *p, gint64 id, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " IMAGE_COLUMNS " FROM images WHERE id = ?", error);
  g_autofree char *what = g_strdup_printf ("image %" G_GINT64_FORMAT, id);
  if (s == NULL)
    return NULL;
  sqlite3_bind_int64 (s, 1, id);
  return fetch_one (p, s, image_from_row, what, TRUE, error);
}

RmProjectImage *
rm_project_find_image_by_sha256 (RmProject *p, const char *sha256, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " IMAGE_COLUMNS " FROM images WHERE sha256 = ?", error);
  if (s == NULL)
    return NULL;
  sqlite3_bind_text (s, 1, sha256, -1, SQLITE_TRANSIENT);
  return fetch_one (p, s, image_from_row, "image", FALSE, error);
}

GPtrArray *
rm_project_list_images (RmProject *p, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY id", error);
  return s == NULL
             ? NULL
             : fetch_all (p, s, image_from_row, (GDestroyNotify) rm_project_image_free, error);
}

gboolean
rm_project_add_image (RmProject *p, const char *path, const char *sha256, guint32 width,
                      guint32 height, const char *georef, gint64 *id, gboolean *existed,
                      GError **error)
{
  g_autoptr (RmProjectImage) old = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *rel = NULL, *now = NULL;
  sqlite3_stmt *s;
  guint depth0 = p->depth;
  gboolean ok;

  if (existed != NULL)
    *existed = FALSE;
  if (!valid_sha256 (sha256))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "image %s: the checksum must be 64 lower-case hex digits", path);
      return FALSE;
    }
  if (width == 0 || height == 0 || (guint64) width * height > G_MAXUINT32)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "image %s is %u x %u pixels: masks need 1 to 4 294 967 295 pixels", path, width,
                   height);
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  old = rm_project_find_image_by_sha256 (p, sha256, &local);
  ok = local == NULL;
  if (ok && old != NULL)
    {
      *id = old->id;
      if (existed != NULL)
        *existed = TRUE;
      return finish (p, depth0, TRUE, error);
    }
  rel = rm_project_relative_path (p, path);
  now = now_iso ();
  s = ok ? prep (p,
                 "INSERT INTO images (path, sha256, width, height, georef, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 &local)
         : NULL;
  if (s != NULL)
    {
      int rc;
      sqlite3_bind_text (s, 1, rel, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (s, 2, sha256, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (s, 3, width);
      sqlite3_bind_int64 (s, 4, height);
      bind_text_or_null (s, 5, georef);
      sqlite3_bind_text (s, 6, now, -1, SQLITE_TRANSIENT);
      rc = step (p, s);
      sqlite3_reset (s);
      if (rc == SQLITE_CONSTRAINT_UNIQUE)
        g_set_error (
            &local, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CONSTRAINT,
            "image %s: a different image (other content) is already stored under this path", rel);
      else if (rc != SQLITE_DONE)
        sql_fail (p, rc, "cannot add the image", &local);
      *id = sqlite3_last_insert_rowid (p->db);
    }
  ok = local == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&local));
  return finish (p, depth0, ok, error);
}

/* ---- categories ---- */

static gpointer
category_from_row (sqlite3_stmt *s)
{
  RmCategory *c = g_new0 (RmCategory, 1);
  c->id = sqlite3_column_int64 (s, 0);
  c->name = col_dup (s, 1);
  c->supercategory = col_dup (s, 2);
  return c;
}

gboolean
rm_project_ensure_category (RmProject *p, const char *name, const char *supercategory, gint64 *id,
                            GError **error)
{
  sqlite3_stmt *s;
  guint depth0 = p->depth;
  gboolean ok;
  int rc;

  if (name == NULL || *name == '\0' || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "a category needs a name in UTF-8");
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p, "SELECT id FROM categories WHERE name = ?", error);
  ok = s != NULL;
  if (ok)
    {
      sqlite3_bind_text (s, 1, name, -1, SQLITE_TRANSIENT);
      rc = step (p, s);
      if (rc == SQLITE_ROW)
        {
          *id = sqlite3_column_int64 (s, 0);
          sqlite3_reset (s);
          return finish (p, depth0, TRUE, error);
        }
      sqlite3_reset (s);
      ok = rc == SQLITE_DONE || sql_fail (p, rc, "cannot read the categories", error);
    }
  s = ok ? prep (p, "INSERT INTO categories (name, supercategory) VALUES (?, ?)", error) : NULL;
  ok = s != NULL;
  if (ok)
    {
      sqlite3_bind_text (s, 1, name, -1, SQLITE_TRANSIENT);
      bind_text_or_null (s, 2, supercategory);
      ok = run_stmt (p, s, "cannot add the category", error);
      *id = sqlite3_last_insert_rowid (p->db);
    }
  return finish (p, depth0, ok, error);
}

GPtrArray *
rm_project_list_categories (RmProject *p, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT id, name, supercategory FROM categories ORDER BY id", error);
  return s == NULL ? NULL
                   : fetch_all (p, s, category_from_row, (GDestroyNotify) rm_category_free, error);
}

/* ---- annotations ---- */

/* Columns 0..21 of an annotation row, then the image's width and height. */
#define ANN_SELECT(mask_cols)                                                                \
  "SELECT a.id, a.image_id, a.expression, a.category_id, " mask_cols ", a.area, a.bbox_x,"   \
  " a.bbox_y, a.bbox_w, a.bbox_h, a.source, a.status, a.model_version_id, a.score, a.split," \
  " a.external_id, a.created_at, a.updated_at, i.width, i.height"                            \
  " FROM annotations a JOIN images i ON i.id = a.image_id"
#define ANN_WITH_MASKS \
  ANN_SELECT ("a.mask_rle, a.prior_kind, a.prior_width, a.prior_height, a.prior")
#define ANN_NO_MASKS ANN_SELECT ("NULL, NULL, NULL, NULL, NULL")

static RmStoreAnnotation *
annotation_from_row (sqlite3_stmt *s, GError **error)
{
  g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
  const char *kind;
  guint32 w = (guint32) sqlite3_column_int64 (s, 22), h = (guint32) sqlite3_column_int64 (s, 23);

  a->id = sqlite3_column_int64 (s, 0);
  a->image_id = sqlite3_column_int64 (s, 1);
  a->expression = col_dup (s, 2);
  a->category_id = sqlite3_column_int64 (s, 3);
  if (sqlite3_column_type (s, 4) != SQLITE_NULL)
    {
      g_autoptr (GError) local = NULL;
      a->mask = rm_rle_from_string ((const char *) sqlite3_column_text (s, 4), h, w, &local);
      if (a->mask == NULL)
        {
          g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_CORRUPT,
                       "annotation %" G_GINT64_FORMAT " has a damaged mask: %s", a->id,
                       local->message);
          return NULL;
        }
    }
  kind = (const char *) sqlite3_column_text (s, 5);
  if (kind != NULL)
    {
      a->prior_kind = strcmp (kind, "rle") == 0 ? RM_PRIOR_RLE : RM_PRIOR_F32;
      a->prior_width = (guint32) sqlite3_column_int64 (s, 6);
      a->prior_height = (guint32) sqlite3_column_int64 (s, 7);
      a->prior = g_bytes_new (sqlite3_column_blob (s, 8), (gsize) sqlite3_column_bytes (s, 8));
    }
  a->area = (guint64) sqlite3_column_int64 (s, 9);
  for (int k = 0; k < 4; k++)
    a->bbox[k] = (double) sqlite3_column_int64 (s, 10 + k);
  rm_store_source_from_string ((const char *) sqlite3_column_text (s, 14), &a->source);
  rm_store_status_from_string ((const char *) sqlite3_column_text (s, 15), &a->status);
  a->model_version_id = sqlite3_column_int64 (s, 16);
  a->has_score = sqlite3_column_type (s, 17) != SQLITE_NULL;
  a->score = sqlite3_column_double (s, 17);
  a->split = col_dup (s, 18);
  a->external_id = col_dup (s, 19);
  a->created_at = col_dup (s, 20);
  a->updated_at = col_dup (s, 21);
  return g_steal_pointer (&a);
}

static gboolean
validate_annotation (RmProject *p, const RmStoreAnnotation *a, GError **error)
{
  g_autoptr (RmProjectImage) im = NULL;
  g_autoptr (GError) local = NULL;

  if (a->expression == NULL || *a->expression == '\0' || !g_utf8_validate (a->expression, -1, NULL))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "an annotation needs a referring expression in UTF-8");
      return FALSE;
    }
  if (a->mask == NULL)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "an annotation needs a mask");
      return FALSE;
    }
  im = rm_project_get_image (p, a->image_id, error);
  if (im == NULL)
    return FALSE;
  if (a->mask->w != im->width || a->mask->h != im->height)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "the mask is %u x %u pixels but image %s is %u x %u", a->mask->w, a->mask->h,
                   im->path, im->width, im->height);
      return FALSE;
    }
  if (!rm_rle_validate (a->mask, &local))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "invalid mask: %s",
                   local->message);
      return FALSE;
    }
  if (a->prior_kind != RM_PRIOR_NONE)
    {
      gsize len = a->prior != NULL ? g_bytes_get_size (a->prior) : 0;
      guint64 n = (guint64) a->prior_width * a->prior_height;
      if (a->prior_kind == RM_PRIOR_F32 &&
          (n == 0 || n > RM_PROJECT_MAX_PRIOR_FLOATS || len != n * sizeof (float)))
        {
          g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                       "the prior must hold %u x %u floats (at most %u)", a->prior_width,
                       a->prior_height, RM_PROJECT_MAX_PRIOR_FLOATS);
          return FALSE;
        }
      if (a->prior_kind == RM_PRIOR_RLE)
        {
          g_autofree char *str = g_strndup (g_bytes_get_data (a->prior, NULL), len);
          g_autoptr (RmRle) r = rm_rle_from_string (str, a->prior_height, a->prior_width, &local);
          if (r == NULL)
            {
              g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "invalid prior: %s",
                           local->message);
              return FALSE;
            }
        }
    }
  if (a->has_score && !isfinite (a->score))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "the score is not a number");
      return FALSE;
    }
  return TRUE;
}

/* Binds the changeable fields as ?1..?16 (see the INSERT and UPDATE statements). */
static void
bind_annotation (sqlite3_stmt *s, RmStoreAnnotation *a, const char *rle_str, const char *now)
{
  double bb[4];
  rm_rle_to_bbox (a->mask, bb);
  a->area = rm_rle_area (a->mask);
  memcpy (a->bbox, bb, sizeof bb);
  sqlite3_bind_text (s, 1, a->expression, -1, SQLITE_TRANSIENT);
  bind_id_or_null (s, 2, a->category_id);
  sqlite3_bind_text (s, 3, rle_str, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (s, 4, (gint64) a->area);
  for (int k = 0; k < 4; k++)
    sqlite3_bind_int64 (s, 5 + k, (gint64) bb[k]);
  if (a->prior_kind != RM_PRIOR_NONE)
    {
      gsize len;
      const void *data = g_bytes_get_data (a->prior, &len);
      sqlite3_bind_text (s, 9, a->prior_kind == RM_PRIOR_RLE ? "rle" : "f32", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (s, 10, a->prior_width);
      sqlite3_bind_int64 (s, 11, a->prior_height);
      sqlite3_bind_blob64 (s, 12, data != NULL ? data : "", len, SQLITE_TRANSIENT);
    }
  sqlite3_bind_text (s, 13, rm_store_source_to_string (a->source), -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 14, rm_store_status_to_string (a->status), -1, SQLITE_STATIC);
  bind_id_or_null (s, 15, a->model_version_id);
  if (a->has_score)
    sqlite3_bind_double (s, 16, a->score);
  bind_text_or_null (s, 17, a->split);
  bind_text_or_null (s, 18, a->external_id);
  sqlite3_bind_text (s, 19, now, -1, SQLITE_TRANSIENT);
}

static gboolean
write_annotation (RmProject *p, RmStoreAnnotation *a, gboolean insert, GError **error)
{
  static const char insert_sql[] =
      "INSERT INTO annotations (expression, category_id, mask_rle, area, bbox_x, bbox_y, bbox_w,"
      " bbox_h, prior_kind, prior_width, prior_height, prior, source, status, model_version_id,"
      " score, split, external_id, created_at, updated_at, image_id)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
      " ?19, ?19, ?20)";
  static const char update_sql[] =
      "UPDATE annotations SET expression = ?1, category_id = ?2, mask_rle = ?3, area = ?4,"
      " bbox_x = ?5, bbox_y = ?6, bbox_w = ?7, bbox_h = ?8, prior_kind = ?9, prior_width = ?10,"
      " prior_height = ?11, prior = ?12, source = ?13, status = ?14, model_version_id = ?15,"
      " score = ?16, split = ?17, external_id = ?18, updated_at = ?19"
      " WHERE id = ?20 AND image_id = ?21";
  g_autofree char *rle_str = NULL, *now = NULL;
  sqlite3_stmt *s;
  guint depth0 = p->depth;
  gboolean ok;

  if (p->schema < 2 && (a->split != NULL || a->external_id != NULL))
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "this project (schema %u) has no split or external id", p->schema);
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  ok = validate_annotation (p, a, error);
  s = ok ? prep (p, insert ? insert_sql : update_sql, error) : NULL;
  ok = s != NULL;
  if (ok)
    {
      rle_str = rm_rle_to_string (a->mask);
      now = now_iso ();
      bind_annotation (s, a, rle_str, now);
      if (insert)
        sqlite3_bind_int64 (s, 20, a->image_id);
      else
        {
          sqlite3_bind_int64 (s, 20, a->id);
          sqlite3_bind_int64 (s, 21, a->image_id);
        }
      ok = run_stmt (p, s, insert ? "cannot add the annotation" : "cannot change the annotation",
                     error);
    }
  if (ok && !insert && sqlite3_changes (p->db) == 0)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND,
                   "there is no annotation %" G_GINT64_FORMAT " on image %" G_GINT64_FORMAT, a->id,
                   a->image_id);
      ok = FALSE;
    }
  if (ok)
    {
      if (insert)
        {
          a->id = sqlite3_last_insert_rowid (p->db);
          g_free (a->created_at);
          a->created_at = g_strdup (now);
        }
      g_free (a->updated_at);
      a->updated_at = g_strdup (now);
    }
  return finish (p, depth0, ok, error);
}

gboolean
rm_project_add_annotation (RmProject *p, RmStoreAnnotation *a, GError **error)
{
  return write_annotation (p, a, TRUE, error);
}

gboolean
rm_project_update_annotation (RmProject *p, RmStoreAnnotation *a, GError **error)
{
  return write_annotation (p, a, FALSE, error);
}

/* Runs a one-row change by id and reports a missing row. */
static gboolean
change_by_id (RmProject *p, sqlite3_stmt *s, gint64 id, const char *what, GError **error)
{
  guint depth0 = p->depth;
  gboolean ok = run_stmt (p, s, what, error);
  if (ok && sqlite3_changes (p->db) == 0)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND,
                   "%s: there is no annotation %" G_GINT64_FORMAT, what, id);
      ok = FALSE;
    }
  return finish (p, depth0 - 1, ok, error);
}

gboolean
rm_project_set_annotation_status (RmProject *p, gint64 id, RmStoreStatus status, GError **error)
{
  g_autofree char *now = now_iso ();
  sqlite3_stmt *s;
  if (rm_store_status_to_string (status) == NULL)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "unknown status %d", status);
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p, "UPDATE annotations SET status = ?, updated_at = ? WHERE id = ?", error);
  if (s == NULL)
    return finish (p, p->depth - 1, FALSE, error);
  sqlite3_bind_text (s, 1, rm_store_status_to_string (status), -1, SQLITE_STATIC);
  sqlite3_bind_text (s, 2, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (s, 3, id);
  return change_by_id (p, s, id, "cannot change the status", error);
}

gboolean
rm_project_delete_annotation (RmProject *p, gint64 id, GError **error)
{
  sqlite3_stmt *s;
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p, "DELETE FROM annotations WHERE id = ?", error);
  if (s == NULL)
    return finish (p, p->depth - 1, FALSE, error);
  sqlite3_bind_int64 (s, 1, id);
  return change_by_id (p, s, id, "cannot delete the annotation", error);
}

RmStoreAnnotation *
rm_project_get_annotation (RmProject *p, gint64 id, GError **error)
{
  sqlite3_stmt *s = prep (p, ANN_WITH_MASKS " WHERE a.id = ?", error);
  RmStoreAnnotation *a = NULL;
  int rc;
  if (s == NULL)
    return NULL;
  sqlite3_bind_int64 (s, 1, id);
  rc = step (p, s);
  if (rc == SQLITE_ROW)
    a = annotation_from_row (s, error);
  else if (rc == SQLITE_DONE)
    g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND,
                 "there is no annotation %" G_GINT64_FORMAT, id);
  else
    sql_fail (p, rc, "cannot read the annotation", error);
  sqlite3_reset (s);
  return a;
}

gboolean
rm_project_has_annotation (RmProject *p, gint64 image_id, const char *external_id,
                           const char *expression, gboolean *found, GError **error)
{
  sqlite3_stmt *s = prep (p,
                          "SELECT 1 FROM annotations WHERE external_id = ? AND image_id = ?"
                          " AND expression = ? LIMIT 1",
                          error);
  int rc;
  if (s == NULL)
    return FALSE;
  sqlite3_bind_text (s, 1, external_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (s, 2, image_id);
  sqlite3_bind_text (s, 3, expression, -1, SQLITE_TRANSIENT);
  rc = step (p, s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    sql_fail (p, rc, "cannot read the annotations", error);
  sqlite3_reset (s);
  *found = rc == SQLITE_ROW;
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

GPtrArray *
rm_project_list_annotations (RmProject *p, const RmStoreAnnotationFilter *filter, GError **error)
{
  static const char where[] =
      " WHERE (?1 = 0 OR a.image_id = ?1) AND (?2 = 0 OR ((1 << CASE a.status"
      " WHEN 'candidate' THEN 0 WHEN 'accepted' THEN 1 ELSE 2 END) & ?2) != 0) ORDER BY a.id";
  RmStoreAnnotationFilter all = { 0 };
  g_autoptr (GPtrArray) rows =
      g_ptr_array_new_with_free_func ((GDestroyNotify) rm_store_annotation_free);
  sqlite3_stmt *s;
  int rc;

  if (filter == NULL)
    filter = &all;
  {
    g_autofree char *sql =
        g_strconcat (filter->with_masks ? ANN_WITH_MASKS : ANN_NO_MASKS, where, NULL);
    s = prep (p, sql, error);
  }
  if (s == NULL)
    return NULL;
  sqlite3_bind_int64 (s, 1, filter->image_id);
  sqlite3_bind_int64 (s, 2, filter->status_mask);
  while ((rc = step (p, s)) == SQLITE_ROW)
    {
      RmStoreAnnotation *a = annotation_from_row (s, error);
      if (a == NULL)
        {
          sqlite3_reset (s);
          return NULL;
        }
      g_ptr_array_add (rows, a);
    }
  sqlite3_reset (s);
  if (rc != SQLITE_DONE)
    {
      sql_fail (p, rc, "cannot read the annotations", error);
      return NULL;
    }
  return g_steal_pointer (&rows);
}

/* ---- model versions and training runs ---- */

#define MODEL_COLUMNS \
  "id, name, config_json, weights_path, parent_id, training_run_id, metrics_json, created_at"

static gpointer
model_from_row (sqlite3_stmt *s)
{
  RmStoreModelVersion *v = g_new0 (RmStoreModelVersion, 1);
  v->id = sqlite3_column_int64 (s, 0);
  v->name = col_dup (s, 1);
  v->config_json = col_dup (s, 2);
  v->weights_path = col_dup (s, 3);
  v->parent_id = sqlite3_column_int64 (s, 4);
  v->training_run_id = sqlite3_column_int64 (s, 5);
  v->metrics_json = col_dup (s, 6);
  v->created_at = col_dup (s, 7);
  return v;
}

gboolean
rm_project_add_model_version (RmProject *p, RmStoreModelVersion *v, GError **error)
{
  g_autofree char *now = now_iso ();
  guint depth0 = p->depth;
  sqlite3_stmt *s;
  gboolean ok;

  if (v->name == NULL || v->config_json == NULL || v->weights_path == NULL)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "a model version needs a name, a config and a weights path");
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p,
            "INSERT INTO model_versions (name, config_json, weights_path, parent_id,"
            " training_run_id, metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            error);
  ok = s != NULL;
  if (ok)
    {
      sqlite3_bind_text (s, 1, v->name, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (s, 2, v->config_json, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (s, 3, v->weights_path, -1, SQLITE_TRANSIENT);
      bind_id_or_null (s, 4, v->parent_id);
      bind_id_or_null (s, 5, v->training_run_id);
      bind_text_or_null (s, 6, v->metrics_json);
      sqlite3_bind_text (s, 7, now, -1, SQLITE_TRANSIENT);
      ok = run_stmt (p, s, "cannot add the model version", error);
    }
  if (ok)
    {
      v->id = sqlite3_last_insert_rowid (p->db);
      g_free (v->created_at);
      v->created_at = g_strdup (now);
    }
  return finish (p, depth0, ok, error);
}

RmStoreModelVersion *
rm_project_get_model_version (RmProject *p, gint64 id, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " MODEL_COLUMNS " FROM model_versions WHERE id = ?", error);
  g_autofree char *what = g_strdup_printf ("model version %" G_GINT64_FORMAT, id);
  if (s == NULL)
    return NULL;
  sqlite3_bind_int64 (s, 1, id);
  return fetch_one (p, s, model_from_row, what, TRUE, error);
}

GPtrArray *
rm_project_list_model_versions (RmProject *p, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " MODEL_COLUMNS " FROM model_versions ORDER BY id", error);
  return s == NULL ? NULL
                   : fetch_all (p, s, model_from_row, (GDestroyNotify) rm_store_model_version_free,
                                error);
}

static gpointer
run_from_row (sqlite3_stmt *s)
{
  RmTrainingRun *r = g_new0 (RmTrainingRun, 1);
  r->id = sqlite3_column_int64 (s, 0);
  r->base_model_id = sqlite3_column_int64 (s, 1);
  r->params_json = col_dup (s, 2);
  r->loss_curve_json = col_dup (s, 3);
  r->metrics_json = col_dup (s, 4);
  rm_run_status_from_string ((const char *) sqlite3_column_text (s, 5), &r->status);
  r->created_at = col_dup (s, 6);
  r->updated_at = col_dup (s, 7);
  return r;
}

static gboolean
write_run (RmProject *p, RmTrainingRun *r, gboolean insert, GError **error)
{
  g_autofree char *now = now_iso ();
  guint depth0 = p->depth;
  sqlite3_stmt *s;
  gboolean ok;

  if (rm_run_status_to_string (r->status) == NULL)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID, "unknown run status %d",
                   r->status);
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p,
            insert ? "INSERT INTO training_runs (base_model_id, params_json, loss_curve_json,"
                     " metrics_json, status, created_at, updated_at, id)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, NULL)"
                   : "UPDATE training_runs SET base_model_id = ?1, params_json = ?2,"
                     " loss_curve_json = ?3, metrics_json = ?4, status = ?5, updated_at = ?6"
                     " WHERE id = ?7",
            error);
  ok = s != NULL;
  if (ok)
    {
      bind_id_or_null (s, 1, r->base_model_id);
      sqlite3_bind_text (s, 2, r->params_json != NULL ? r->params_json : "{}", -1,
                         SQLITE_TRANSIENT);
      sqlite3_bind_text (s, 3, r->loss_curve_json != NULL ? r->loss_curve_json : "[]", -1,
                         SQLITE_TRANSIENT);
      bind_text_or_null (s, 4, r->metrics_json);
      sqlite3_bind_text (s, 5, rm_run_status_to_string (r->status), -1, SQLITE_STATIC);
      sqlite3_bind_text (s, 6, now, -1, SQLITE_TRANSIENT);
      if (!insert)
        sqlite3_bind_int64 (s, 7, r->id);
      ok = run_stmt (p, s, "cannot save the training run", error);
    }
  if (ok && !insert && sqlite3_changes (p->db) == 0)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_NOT_FOUND,
                   "there is no training run %" G_GINT64_FORMAT, r->id);
      ok = FALSE;
    }
  if (ok)
    {
      if (insert)
        {
          r->id = sqlite3_last_insert_rowid (p->db);
          g_free (r->created_at);
          r->created_at = g_strdup (now);
        }
      g_free (r->updated_at);
      r->updated_at = g_strdup (now);
    }
  return finish (p, depth0, ok, error);
}

gboolean
rm_project_add_training_run (RmProject *p, RmTrainingRun *r, GError **error)
{
  return write_run (p, r, TRUE, error);
}

gboolean
rm_project_update_training_run (RmProject *p, RmTrainingRun *r, GError **error)
{
  return write_run (p, r, FALSE, error);
}

#define RUN_COLUMNS \
  "id, base_model_id, params_json, loss_curve_json, metrics_json, status, created_at, updated_at"

RmTrainingRun *
rm_project_get_training_run (RmProject *p, gint64 id, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " RUN_COLUMNS " FROM training_runs WHERE id = ?", error);
  g_autofree char *what = g_strdup_printf ("training run %" G_GINT64_FORMAT, id);
  if (s == NULL)
    return NULL;
  sqlite3_bind_int64 (s, 1, id);
  return fetch_one (p, s, run_from_row, what, TRUE, error);
}

GPtrArray *
rm_project_list_training_runs (RmProject *p, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT " RUN_COLUMNS " FROM training_runs ORDER BY id", error);
  return s == NULL ? NULL
                   : fetch_all (p, s, run_from_row, (GDestroyNotify) rm_training_run_free, error);
}

/* ---- settings ---- */

gboolean
rm_project_set_setting (RmProject *p, const char *key, const char *value, GError **error)
{
  guint depth0 = p->depth;
  sqlite3_stmt *s;
  if (key == NULL || value == NULL)
    {
      g_set_error (error, RM_PROJECT_ERROR, RM_PROJECT_ERROR_INVALID,
                   "a setting needs a key and a value");
      return FALSE;
    }
  if (!rm_project_begin (p, error))
    return FALSE;
  s = prep (p,
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            error);
  if (s != NULL)
    {
      sqlite3_bind_text (s, 1, key, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (s, 2, value, -1, SQLITE_TRANSIENT);
    }
  return finish (p, depth0, s != NULL && run_stmt (p, s, "cannot save the setting", error), error);
}

static gpointer
text_from_row (sqlite3_stmt *s)
{
  return col_dup (s, 0);
}

char *
rm_project_get_setting (RmProject *p, const char *key, GError **error)
{
  sqlite3_stmt *s = prep (p, "SELECT value FROM settings WHERE key = ?", error);
  if (s == NULL)
    return NULL;
  sqlite3_bind_text (s, 1, key, -1, SQLITE_TRANSIENT);
  return fetch_one (p, s, text_from_row, "setting", FALSE, error);
}

/* ---- stats ---- */

gboolean
rm_project_get_stats (RmProject *p, RmProjectStats *st, GError **error)
{
  sqlite3_stmt *s;
  int rc;

  memset (st, 0, sizeof *st);
  if (!query_int (p, "SELECT count(*) FROM images", &st->images, error) ||
      !query_int (p, "SELECT count(*) FROM annotations", &st->annotations, error) ||
      !query_int (p, "SELECT count(*) FROM categories", &st->categories, error) ||
      !query_int (p, "SELECT count(*) FROM model_versions", &st->model_versions, error) ||
      !query_int (p, "SELECT count(*) FROM training_runs", &st->training_runs, error) ||
      !query_int (p,
                  "SELECT count(*) FROM images i WHERE NOT EXISTS"
                  " (SELECT 1 FROM annotations a WHERE a.image_id = i.id)",
                  &st->images_without_annotations, error))
    return FALSE;
  s = prep (p, "SELECT source, status, count(*) FROM annotations GROUP BY source, status", error);
  if (s == NULL)
    return FALSE;
  while ((rc = step (p, s)) == SQLITE_ROW)
    {
      RmStoreSource src;
      RmStoreStatus stt;
      if (rm_store_source_from_string ((const char *) sqlite3_column_text (s, 0), &src))
        st->by_source[src] += sqlite3_column_int64 (s, 2);
      if (rm_store_status_from_string ((const char *) sqlite3_column_text (s, 1), &stt))
        st->by_status[stt] += sqlite3_column_int64 (s, 2);
    }
  sqlite3_reset (s);
  return rc == SQLITE_DONE || sql_fail (p, rc, "cannot read the project", error);
}
