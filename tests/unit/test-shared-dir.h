/* SPDX-License-Identifier: GPL-3.0-or-later
 * Where the unit tests find the shared references (golden tensors, tokenizer model):
 * $REFMASK_SHARED_DIR (set by meson), else <source root>/../shared with the source root from
 * $REFMASK_SOURCE_DIR, else ../shared relative to the working directory.
 */
#pragma once

#include <glib.h>

/* The path of file inside the shared folder, or NULL (and the test is marked skipped with a
 * clear message) when it is not there. */
static inline char *
rm_test_shared_file (const char *file)
{
  const char *dir = g_getenv ("REFMASK_SHARED_DIR");
  g_autofree char *fallback = NULL;
  if (!dir || !dir[0])
    {
      const char *src = g_getenv ("REFMASK_SOURCE_DIR");
      dir = fallback = g_build_filename (src && src[0] ? src : ".", "..", "shared", NULL);
    }
  char *path = g_build_filename (dir, file, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *msg = g_strdup_printf (
          "%s not found (set REFMASK_SHARED_DIR to the shared reference folder)", path);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}
