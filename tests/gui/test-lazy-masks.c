/* test-lazy-masks.c: annotations keep their masks compressed; opening a project decodes none
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * No display (suites unit and gui). An RmAnnotation holds its mask as COCO RLE and decodes it
 * only when asked for the pixels; area and bounding box come from the runs. A project of 288
 * annotations on 1500 x 1000 images (412 MiB if decoded) is opened with the studio's own path
 * (RmProjectSession): no mask may be decoded, and the resident memory may grow by a fraction of
 * the decoded size only. Decoding one image's masks (what the canvas does for the selected
 * image) decodes those and no other, and an edit is written to the file without decoding.
 * tests/gui/test-project.c checks the same in the real window (selecting images).
 */

#include <glib/gstdio.h>
#include <string.h>

#include "gui-test-util.h"
#include "rm-annotation.h"
#include "rm-project-session.h"
#include "rm-project.h"
#include "rm-rle.h"

#define N_IMAGES  24
#define PER_IMAGE 12
#define WIDTH     1500
#define HEIGHT    1000

/* VmRSS in KiB. */
static guint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);

  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

static void
count_notify (GObject *object, GParamSpec *pspec, guint *n)
{
  (*n)++;
}

/* ---- one annotation ------------------------------------------------------------------------ */

static void
test_annotation (void)
{
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  g_autofree guint8 *pixels = g_malloc0 (30 * 20);
  g_autofree guint8 *other = g_malloc0 (30 * 20);
  g_autoptr (RmRle) rle = NULL;
  g_autoptr (RmRle) back = NULL;
  g_autoptr (RmAnnotation) a = NULL;
  g_autoptr (RmAnnotation) empty = NULL;
  g_autoptr (GBytes) first_rle = NULL;
  g_autoptr (GBytes) same = NULL;
  g_autoptr (GBytes) changed = NULL;
  guint n0 = rm_annotation_get_n_decodes (), n_notified = 0;
  GBytes *mask;
  int x, y, w, h;

  /* a box from (4, 3) to (12, 10) and one more pixel at (25, 0): runs cross columns */
  for (int r = 3; r <= 10; r++)
    memset (pixels + r * 30 + 4, 1, 9);
  pixels[25] = 1;
  rle = rm_rle_encode (pixels, 20, 30, 30);

  a = rm_annotation_new_from_rle (image, "a box", rle, RM_ANNOTATION_STATUS_ACCEPTED,
                                  RM_ANNOTATION_SOURCE_IMPORTED);
  g_assert_cmpint (rm_annotation_get_width (a), ==, 30);
  g_assert_cmpint (rm_annotation_get_height (a), ==, 20);
  g_assert_cmpint (rm_annotation_get_area (a), ==, 8 * 9 + 1);
  rm_annotation_get_bbox (a, &x, &y, &w, &h);
  g_assert_cmpint (x, ==, 4);
  g_assert_cmpint (y, ==, 0);
  g_assert_cmpint (w, ==, 22);
  g_assert_cmpint (h, ==, 11);
  g_assert_false (rm_annotation_get_mask_decoded (a));
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0);
  back = rm_annotation_dup_rle (a);
  g_assert_true (rm_rle_equal (back, rle));
  g_signal_connect (a, "notify::mask", G_CALLBACK (count_notify), &n_notified);

  /* decoded once, on demand, and kept */
  mask = rm_annotation_get_mask (a);
  g_assert_nonnull (mask);
  g_assert_cmpmem (g_bytes_get_data (mask, NULL), g_bytes_get_size (mask), pixels, 30 * 20);
  g_assert_true (rm_annotation_get_mask_decoded (a));
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + 1);
  g_assert_true (rm_annotation_get_mask (a) == mask);
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + 1);

  /* dropped, and decoded again when asked */
  rm_annotation_drop_mask (a);
  g_assert_false (rm_annotation_get_mask_decoded (a));
  mask = rm_annotation_get_mask (a);
  g_assert_cmpmem (g_bytes_get_data (mask, NULL), g_bytes_get_size (mask), pixels, 30 * 20);
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + 2);
  g_assert_cmpuint (n_notified, ==, 0);

  /* the same pixels again change nothing; new ones are encoded, not kept decoded */
  first_rle = g_bytes_ref (rm_annotation_get_rle (a));
  same = g_bytes_new (pixels, 30 * 20);
  rm_annotation_set_mask (a, same);
  g_assert_cmpuint (n_notified, ==, 0);
  g_assert_true (rm_annotation_get_rle (a) == first_rle);
  memset (other + 5 * 30, 1, 30); /* row 5 */
  changed = g_bytes_new (other, 30 * 20);
  rm_annotation_set_mask (a, changed);
  g_assert_cmpuint (n_notified, ==, 1);
  g_assert_false (rm_annotation_get_mask_decoded (a));
  g_assert_cmpint (rm_annotation_get_area (a), ==, 30);
  rm_annotation_get_bbox (a, &x, &y, &w, &h);
  g_assert_cmpint (x, ==, 0);
  g_assert_cmpint (y, ==, 5);
  g_assert_cmpint (w, ==, 30);
  g_assert_cmpint (h, ==, 1);
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + 2);

  /* back to the first RLE (what undo does): shared, not copied */
  rm_annotation_set_rle (a, first_rle);
  g_assert_cmpuint (n_notified, ==, 2);
  g_assert_true (rm_annotation_get_rle (a) == first_rle);
  g_assert_cmpint (rm_annotation_get_area (a), ==, 8 * 9 + 1);

  /* an empty mask: no pixels to decode, but RLE that the store takes */
  empty = rm_annotation_new (image, "nothing", 10, 10, NULL, RM_ANNOTATION_STATUS_CANDIDATE,
                             RM_ANNOTATION_SOURCE_MANUAL);
  g_assert_cmpint (rm_annotation_get_area (empty), ==, 0);
  g_assert_null (rm_annotation_get_mask (empty));
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + 2);
  {
    g_autoptr (RmRle) zeros = rm_annotation_dup_rle (empty);

    g_assert_cmpuint (zeros->m, ==, 1);
    g_assert_cmpuint (zeros->cnts[0], ==, 100);
  }
}

/* RLE of another size is refused with a critical, and the mask stays (in a subprocess: the
 * critical is logged the structured way, which g_test_expect_message () does not see). */
static void
test_wrong_size (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
      g_autoptr (RmAnnotation) a = rm_annotation_new (
          image, "a", 30, 20, NULL, RM_ANNOTATION_STATUS_CANDIDATE, RM_ANNOTATION_SOURCE_MANUAL);
      g_autoptr (RmAnnotation) b = rm_annotation_new (
          image, "b", 10, 10, NULL, RM_ANNOTATION_STATUS_CANDIDATE, RM_ANNOTATION_SOURCE_MANUAL);
      GBytes *before = rm_annotation_get_rle (a);

      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      rm_annotation_set_rle (a, rm_annotation_get_rle (b));
      g_assert_true (rm_annotation_get_rle (a) == before);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*not a mask of 30 x 20 pixels*");
}

/* ---- a project ---------------------------------------------------------------------------- */

typedef struct
{
  RmProjectContents *contents;
  gboolean done;
} Load;

static void
on_loaded (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Load *load = user_data;
  g_autoptr (GError) error = NULL;

  load->contents = rm_project_session_load_finish (RM_PROJECT_SESSION (object), result, &error);
  g_assert_no_error (error);
  load->done = TRUE;
}

static gboolean
session_idle (gpointer data)
{
  return !rm_project_session_get_busy (data);
}

static void
on_closed (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_assert_true (rm_project_session_close_finish (RM_PROJECT_SESSION (object), result, NULL));
  *(gboolean *) user_data = TRUE;
}

static guint
annotation_index (RmAnnotation *annotation)
{
  const char *expression = rm_annotation_get_expression (annotation);

  g_assert_true (g_str_has_prefix (expression, "rectangle "));

  return (guint) g_ascii_strtoull (expression + strlen ("rectangle "), NULL, 10);
}

static void
test_open_project (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("refmask-lazy-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "many.refmask", NULL);
  g_autoptr (RmProjectSession) session = NULL;
  g_autoptr (GListStore) list = g_list_store_new (RM_TYPE_ANNOTATION);
  g_autoptr (GFile) selected = NULL;
  RmAnnotation *edited = NULL;
  Load load = { 0 };
  guint64 rss0, rss1, decoded_kib = (guint64) N_IMAGES * PER_IMAGE * WIDTH * HEIGHT / 1024;
  guint n0, n_selected = 0;
  gboolean closed = FALSE;

  g_assert_no_error (error);
  {
    g_autoptr (RmProject) project = rm_project_create (path, &error);

    g_assert_no_error (error);
    for (guint i = 0; i < N_IMAGES; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s/tile%02u.png", dir, i);
        g_autofree char *sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
        gint64 id = 0;

        /* the session reads sizes from the store, not the files: no image file is needed */
        g_assert_true (
            rm_project_add_image (project, name, sha256, WIDTH, HEIGHT, NULL, &id, NULL, &error));
        g_assert_no_error (error);
        add_rect_annotations (project, id, WIDTH, HEIGHT, PER_IMAGE, RM_STATUS_ACCEPTED);
      }
  }

  /* open it as the studio does */
  n0 = rm_annotation_get_n_decodes ();
  rss0 = rss_kib ();
  session = rm_project_session_new (path);
  rm_project_session_load_async (session, FALSE, NULL, on_loaded, &load);
  g_assert_true (gui_wait_for (is_true, &load.done, "the project to load", 60));
  rss1 = rss_kib ();
  g_assert_nonnull (load.contents);
  g_assert_cmpuint (load.contents->annotations->len, ==, N_IMAGES * PER_IMAGE);
  g_test_message ("open: RSS +%" G_GUINT64_FORMAT
                  " KiB; the masks decoded would be %" G_GUINT64_FORMAT " KiB",
                  rss1 - MIN (rss0, rss1), decoded_kib);
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0);
  g_assert_cmpuint (rss1, <, rss0 + decoded_kib / 8);

  /* area and box without decoding */
  for (guint i = 0; i < load.contents->annotations->len; i++)
    {
      RmAnnotation *a = load.contents->annotations->pdata[i];
      guint32 box[4];
      int x, y, w, h;

      rect_annotation_box (annotation_index (a), WIDTH, HEIGHT, box);
      rm_annotation_get_bbox (a, &x, &y, &w, &h);
      g_assert_cmpint (rm_annotation_get_area (a), ==, (gint64) box[2] * box[3]);
      g_assert_cmpint (x, ==, box[0]);
      g_assert_cmpint (y, ==, box[1]);
      g_assert_cmpint (w, ==, box[2]);
      g_assert_cmpint (h, ==, box[3]);
      g_assert_false (rm_annotation_get_mask_decoded (a));
    }
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0);

  /* one image's masks, as the canvas asks for them: those are decoded and no other */
  selected =
      g_object_ref (rm_annotation_get_image (load.contents->annotations->pdata[5 * PER_IMAGE]));
  for (guint i = 0; i < load.contents->annotations->len; i++)
    {
      RmAnnotation *a = load.contents->annotations->pdata[i];

      if (g_file_equal (rm_annotation_get_image (a), selected))
        {
          GBytes *mask = rm_annotation_get_mask (a);
          const guint8 *m = g_bytes_get_data (mask, NULL);
          guint32 box[4];

          rect_annotation_box (annotation_index (a), WIDTH, HEIGHT, box);
          g_assert_cmpuint (m[(gsize) box[1] * WIDTH + box[0]], ==, 1);
          g_assert_cmpuint (m[(gsize) (box[1] + box[3] - 1) * WIDTH + box[0] + box[2] - 1], ==, 1);
          if (box[0] > 0)
            g_assert_cmpuint (m[(gsize) box[1] * WIDTH + box[0] - 1], ==, 0);
          n_selected++;
          edited = a;
        }
    }
  g_assert_cmpuint (n_selected, ==, PER_IMAGE);
  g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + PER_IMAGE);
  for (guint i = 0; i < load.contents->annotations->len; i++)
    {
      RmAnnotation *a = load.contents->annotations->pdata[i];

      g_assert_true (rm_annotation_get_mask_decoded (a) ==
                     g_file_equal (rm_annotation_get_image (a), selected));
    }

  /* an edit is encoded and written as RLE: the file has it, and nothing was decoded for it */
  g_list_store_splice (list, 0, 0, load.contents->annotations->pdata,
                       load.contents->annotations->len);
  rm_project_session_track (session, G_LIST_MODEL (list));
  {
    g_autofree guint8 *pixels = g_malloc0 ((gsize) WIDTH * HEIGHT);
    g_autoptr (GBytes) mask = NULL;
    g_autoptr (RmProject) project = NULL;
    g_autoptr (RmStoreAnnotation) stored = NULL;
    g_autoptr (RmRle) expected = NULL;

    for (guint32 r = 100; r < 300; r++)
      memset (pixels + (gsize) r * WIDTH + 700, 1, 50);
    mask = g_bytes_new_take (g_steal_pointer (&pixels), (gsize) WIDTH * HEIGHT);
    rm_annotation_set_mask (edited, mask);
    g_assert_true (gui_wait_for (session_idle, session, "the edit to be saved", 30));
    g_assert_cmpuint (rm_project_session_get_n_unsaved (session), ==, 0);
    g_assert_cmpuint (rm_annotation_get_n_decodes (), ==, n0 + PER_IMAGE);

    project = rm_project_open (path, &error);
    g_assert_no_error (error);
    stored = rm_project_get_annotation (project, rm_annotation_get_id (edited), &error);
    g_assert_no_error (error);
    expected = rm_annotation_dup_rle (edited);
    g_assert_true (rm_rle_equal (stored->mask, expected));
    g_assert_cmpuint (stored->area, ==, 50 * 200);
    g_assert_cmpfloat (stored->bbox[0], ==, 700);
    g_assert_cmpfloat (stored->bbox[1], ==, 100);
  }

  rm_project_session_close_async (session, on_closed, &closed);
  g_assert_true (gui_wait_for (is_true, &closed, "the project to close", 30));
  g_clear_pointer (&load.contents, rm_project_contents_free);
  rm_remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/lazy-masks/annotation", test_annotation);
  g_test_add_func ("/lazy-masks/wrong-size", test_wrong_size);
  g_test_add_func ("/lazy-masks/open-project", test_open_project);

  return g_test_run ();
}
