/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: dataset import (rm-import.h) of a COCO instances file (input starting with '{')
 * or a refs.jsonl file (anything else) that names one small image and its masks, into one
 * project. Invariant: a failed import changes nothing (all or nothing).
 * Seeds: corpus-import/.
 */
#include "rm-image.h"
#include "rm-import.h"
#include "rm-project.h"

#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *dir;
static RmProject *project;

static void
cleanup (void)
{
  g_clear_pointer (&project, rm_project_close);
  if (dir != NULL)
    {
      const char *names[] = { "p.png",     "m.png",         "in.json",      "in.jsonl",
                              "f.refmask", "f.refmask-wal", "f.refmask-shm" };
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *path = g_build_filename (dir, names[i], NULL);
          g_unlink (path);
        }
      g_rmdir (dir);
    }
}

/* Once: a folder with a 10 x 10 image p.png, a mask m.png and an empty project. */
static void
setup (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmImage) img = rm_image_new (10, 10, 3), mask = rm_image_new (10, 10, 1);
  g_autofree char *p = NULL, *m = NULL, *proj = NULL;

  dir = g_dir_make_tmp ("refmask-fuzz-import-XXXXXX", &error);
  g_assert_no_error (error);
  for (int i = 0; i < 30; i++)
    mask->pixels[i * 3] = 255;
  p = g_build_filename (dir, "p.png", NULL);
  m = g_build_filename (dir, "m.png", NULL);
  proj = g_build_filename (dir, "f.refmask", NULL);
  g_assert (rm_image_save_png (img, p, &error) && rm_image_save_png (mask, m, &error));
  project = rm_project_create (proj, &error);
  g_assert_no_error (error);
  atexit (cleanup);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gboolean coco = size > 0 && data[0] == '{';
  g_autofree char *path = NULL;
  RmProjectStats before, after;
  RmImportReport rep = { 0 };
  gboolean ok;

  if (project == NULL)
    setup ();
  path = g_build_filename (dir, coco ? "in.json" : "in.jsonl", NULL);
  g_assert (g_file_set_contents (path, (const char *) data, (gssize) size, NULL));
  g_assert (rm_project_get_stats (project, &before, NULL));
  ok = rm_import (project, coco ? RM_IMPORT_COCO : RM_IMPORT_REFS_JSONL, path, NULL, &rep, NULL);
  g_assert (rm_project_get_stats (project, &after, NULL));
  if (!ok)
    g_assert (after.images == before.images && after.annotations == before.annotations &&
              after.categories == before.categories);
  g_assert (!rm_project_in_transaction (project));
  rm_import_report_clear (&rep);
  return 0;
}
