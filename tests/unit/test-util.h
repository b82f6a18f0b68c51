/* SPDX-License-Identifier: GPL-3.0-or-later
 * Small helpers shared by the store-and-formats unit tests (header only). */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

/* The shared reference folder (../shared next to the source tree, or $REFMASK_SHARED_DIR),
 * or NULL when it is not there. */
static inline char *
rm_test_shared_dir (void)
{
  const char *env = g_getenv ("REFMASK_SHARED_DIR");
  const char *src = g_getenv ("REFMASK_SOURCE_DIR");
  g_autofree char *dir = NULL;

  if (env != NULL && *env != '\0')
    dir = g_strdup (env);
  else if (src != NULL && *src != '\0')
    dir = g_build_filename (src, "..", "shared", NULL);
  else
    dir = g_test_build_filename (G_TEST_DIST, "..", "..", "shared", NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    return NULL;
  return g_steal_pointer (&dir);
}

/* A file in the shared folder; skips the test (and returns NULL) when it is absent. */
static inline char *
rm_test_shared_file_or_skip (const char *rel)
{
  g_autofree char *dir = rm_test_shared_dir ();
  g_autofree char *path = NULL;

  if (dir == NULL)
    {
      g_test_skip ("shared reference folder not found: set REFMASK_SHARED_DIR "
                   "(default ../shared beside the source tree)");
      return NULL;
    }
  path = g_build_filename (dir, rel, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf ("%s is missing from the shared folder", rel);
      g_test_skip (msg);
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* A fixture committed under tests/fixtures/. */
static inline char *
rm_test_fixture (const char *rel)
{
  return g_test_build_filename (G_TEST_DIST, "fixtures", rel, NULL);
}

static inline JsonNode *
rm_test_load_json (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* A fresh temporary folder, removed with rm_test_rmdir_recursive(). */
static inline char *
rm_test_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("refmask-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static inline void
rm_test_rmdir_recursive (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
              !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            rm_test_rmdir_recursive (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

/* Deterministic pseudo-random masks for property tests. */
static inline void
rm_test_random_mask (GRand *rand, guint8 *mask, gsize n, double density)
{
  for (gsize i = 0; i < n; i++)
    mask[i] = g_rand_double (rand) < density;
}
