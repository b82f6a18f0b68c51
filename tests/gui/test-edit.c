/* test-edit.c: the logic behind the candidate editor and the overlays, without a display:
 * brush and eraser strokes, hole filling, the bounded undo history, overlay texels, the
 * annotation object and the candidate
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gdk/gdk.h>
#include <math.h>
#include <string.h>

#include "rm-annotation.h"
#include "rm-candidate.h"
#include "rm-mask-editor.h"
#include "rm-mask-overlay.h"

static gint64
count (const guint8 *mask, int width, int height)
{
  gint64 n = 0;

  for (gsize i = 0; i < (gsize) width * height; i++)
    n += mask[i] != 0;

  return n;
}

static guint8 *
dup_mask (RmMaskEditor *editor)
{
  return g_memdup2 (rm_mask_editor_get_data (editor),
                    (gsize) rm_mask_editor_get_width (editor) * rm_mask_editor_get_height (editor));
}

static gboolean
same_mask (RmMaskEditor *editor, const guint8 *expected)
{
  return memcmp (rm_mask_editor_get_data (editor), expected,
                 (gsize) rm_mask_editor_get_width (editor) * rm_mask_editor_get_height (editor)) ==
         0;
}

/* A dot of diameter 10 covers the pixels whose centre is within 5 of the point. */
static void
test_brush_dot (void)
{
  g_autoptr (RmMaskEditor) editor = rm_mask_editor_new (64, 48, NULL);
  const guint8 *m = rm_mask_editor_get_data (editor);
  RmMaskRect dirty;
  gint64 expected = 0;

  for (int y = 0; y < 48; y++)
    for (int x = 0; x < 64; x++)
      if (hypot (x + 0.5 - 20, y + 0.5 - 20) <= 5)
        expected++;

  rm_mask_editor_begin_stroke (editor, TRUE, 10, 20, 20);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, expected);
  g_assert_cmpint (count (m, 64, 48), ==, expected);
  g_assert_cmpint (m[20 * 64 + 20], ==, 1);
  g_assert_cmpint (m[20 * 64 + 26], ==, 0);

  /* the changed region is reported once */
  g_assert_true (rm_mask_editor_take_dirty (editor, &dirty));
  g_assert_cmpint (dirty.x, <=, 15);
  g_assert_cmpint (dirty.x + dirty.width, >=, 25);
  g_assert_cmpint (dirty.width, <=, 12);
  g_assert_false (rm_mask_editor_take_dirty (editor, &dirty));

  /* a 1 px brush on a pixel corner still leaves a pixel */
  rm_mask_editor_begin_stroke (editor, TRUE, 1, 50.0, 40.0);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  g_assert_cmpint (m[40 * 64 + 50], ==, 1);
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, expected + 1);

  /* painting where it is already painted changes nothing: no undo step */
  rm_mask_editor_begin_stroke (editor, TRUE, 4, 20, 20);
  g_assert_false (rm_mask_editor_end_stroke (editor));
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 2);
}

/* A stroke is a capsule: no gaps between far-apart motion events, clipped at the edges. */
static void
test_stroke_line_and_clip (void)
{
  g_autoptr (RmMaskEditor) editor = rm_mask_editor_new (100, 30, NULL);
  const guint8 *m = rm_mask_editor_get_data (editor);

  rm_mask_editor_begin_stroke (editor, TRUE, 6, -10, 15);
  rm_mask_editor_stroke_to (editor, 60, 15);
  rm_mask_editor_stroke_to (editor, 120, 15);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  for (int x = 0; x < 100; x++)
    {
      g_assert_cmpint (m[15 * 100 + x], ==, 1);
      g_assert_cmpint (m[12 * 100 + x], ==, 1);
      g_assert_cmpint (m[11 * 100 + x], ==, 0);
      g_assert_cmpint (m[18 * 100 + x], ==, 0);
    }
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, 600);

  /* the eraser takes a band out of it */
  rm_mask_editor_begin_stroke (editor, FALSE, 10, 50, 0);
  rm_mask_editor_stroke_to (editor, 50, 30);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  g_assert_cmpint (m[15 * 100 + 50], ==, 0);
  g_assert_cmpint (m[15 * 100 + 45], ==, 0);
  g_assert_cmpint (m[15 * 100 + 54], ==, 0);
  g_assert_cmpint (m[15 * 100 + 44], ==, 1);
  g_assert_cmpint (m[15 * 100 + 55], ==, 1);
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, 540);
}

/* Undo and redo restore the mask exactly, through strokes, erasing and filling. */
static void
test_undo_redo_exact (void)
{
  const int w = 300, h = 200;
  g_autofree guint8 *start = g_malloc (w * h);
  g_autoptr (RmMaskEditor) editor = NULL;
  guint8 *states[5];
  GRand *rand = g_rand_new_with_seed (7);

  for (int i = 0; i < w * h; i++)
    start[i] = g_rand_int_range (rand, 0, 4) == 0;
  editor = rm_mask_editor_new (w, h, start);
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, count (start, w, h));
  g_assert_false (rm_mask_editor_can_undo (editor));
  g_assert_false (rm_mask_editor_is_modified (editor));

  states[0] = dup_mask (editor);
  for (int s = 1; s < 4; s++)
    {
      rm_mask_editor_begin_stroke (editor, s != 2, 5 + 7 * s, g_rand_double_range (rand, 0, w),
                                   g_rand_double_range (rand, 0, h));
      for (int k = 0; k < 6; k++)
        rm_mask_editor_stroke_to (editor, g_rand_double_range (rand, 0, w),
                                  g_rand_double_range (rand, 0, h));
      g_assert_true (rm_mask_editor_end_stroke (editor));
      states[s] = dup_mask (editor);
    }
  g_assert_true (rm_mask_editor_fill_holes (editor));
  states[4] = dup_mask (editor);
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, count (states[4], w, h));
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 4);
  g_assert_true (rm_mask_editor_is_modified (editor));

  for (int s = 3; s >= 0; s--)
    {
      g_assert_true (rm_mask_editor_undo (editor));
      g_assert_true (same_mask (editor, states[s]));
      g_assert_cmpint (rm_mask_editor_get_area (editor), ==, count (states[s], w, h));
    }
  g_assert_false (rm_mask_editor_undo (editor));
  g_assert_false (rm_mask_editor_is_modified (editor));
  for (int s = 1; s <= 4; s++)
    {
      g_assert_true (rm_mask_editor_redo (editor));
      g_assert_true (same_mask (editor, states[s]));
    }
  g_assert_false (rm_mask_editor_redo (editor));

  /* a new edit after undo forgets the redo steps */
  g_assert_true (rm_mask_editor_undo (editor));
  g_assert_true (rm_mask_editor_undo (editor));
  rm_mask_editor_begin_stroke (editor, TRUE, 3, 1, 1);
  rm_mask_editor_stroke_to (editor, 299, 199);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  g_assert_false (rm_mask_editor_can_redo (editor));
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 3);

  for (int s = 0; s < 5; s++)
    g_free (states[s]);
  g_rand_free (rand);
}

/* A ring's inside and a pinhole are holes; a bay open to the border is not. */
static void
test_fill_holes (void)
{
  const int w = 80, h = 60;
  g_autofree guint8 *mask = g_malloc0 (w * h);
  g_autoptr (RmMaskEditor) editor = NULL;
  const guint8 *m;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double r = hypot (x + 0.5 - 30, y + 0.5 - 30);

        mask[y * w + x] = (r >= 10 && r <= 15) || /* ring */
                          (x >= 50 && x < 70 && y >= 5 && y < 25 &&
                           !(x == 60 && y == 15)) || /* square with a pinhole */
                          (x >= 50 && y >= 40 && !(x >= 55 && x < 60 && y >= 45)); /* bay */
      }
  editor = rm_mask_editor_new (w, h, mask);
  m = rm_mask_editor_get_data (editor);

  g_assert_true (rm_mask_editor_fill_holes (editor));
  g_assert_cmpint (m[30 * w + 30], ==, 1); /* the ring's centre */
  g_assert_cmpint (m[15 * w + 60], ==, 1); /* the pinhole */
  g_assert_cmpint (m[50 * w + 57], ==, 0); /* the bay stays open */
  g_assert_cmpint (m[2 * w + 2], ==, 0);   /* the background */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (hypot (x + 0.5 - 30, y + 0.5 - 30) < 10)
        g_assert_cmpint (m[y * w + x], ==, 1);

  g_assert_false (rm_mask_editor_fill_holes (editor)); /* nothing left to fill */
  g_assert_true (rm_mask_editor_undo (editor));
  g_assert_cmpint (memcmp (m, mask, w * h), ==, 0);
}

/* The history is bounded in steps and bytes; what falls off still counts as a correction. */
static void
test_history_limits (void)
{
  g_autoptr (RmMaskEditor) editor = rm_mask_editor_new (200, 200, NULL);

  rm_mask_editor_set_history_limits (editor, 3, G_MAXSIZE);
  for (int i = 0; i < 5; i++)
    {
      rm_mask_editor_begin_stroke (editor, TRUE, 4, 10 + 20 * i, 10);
      g_assert_true (rm_mask_editor_end_stroke (editor));
    }
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 3);
  while (rm_mask_editor_undo (editor))
    ;
  g_assert_cmpint (rm_mask_editor_get_area (editor), >, 0); /* two dots remain */
  g_assert_true (rm_mask_editor_is_modified (editor));

  /* the byte bound: only the newest step is kept */
  rm_mask_editor_set_history_limits (editor, 100, 1);
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor) + rm_mask_editor_get_n_redo (editor), ==, 1);
}

/* A stroke over a large mask costs bytes per run, not per pixel of the image. */
static void
test_history_is_compact (void)
{
  const int w = 6000, h = 4000;
  g_autoptr (RmMaskEditor) editor = rm_mask_editor_new (w, h, NULL);
  g_autofree guint8 *before = NULL;
  gint64 area;

  rm_mask_editor_begin_stroke (editor, TRUE, 40, 100, 100);
  rm_mask_editor_stroke_to (editor, 5900, 3900);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  area = rm_mask_editor_get_area (editor);
  g_test_message ("a 40 px stroke across 6000 x 4000: %" G_GINT64_FORMAT " px, %" G_GSIZE_FORMAT
                  " bytes of history",
                  area, rm_mask_editor_get_history_bytes (editor));
  g_assert_cmpint (area, >, 250000);
  g_assert_cmpuint (rm_mask_editor_get_history_bytes (editor), <, 128 * 1024); /* not 24 MB */

  before = dup_mask (editor);
  rm_mask_editor_begin_stroke (editor, FALSE, 400, 3000, 2000);
  g_assert_true (rm_mask_editor_end_stroke (editor));
  g_assert_true (rm_mask_editor_undo (editor));
  g_assert_true (same_mask (editor, before));
}

/* Overlay texels: coverage as alpha at coarse levels, an opaque outline, premultiplied. */
static void
test_overlay_render (void)
{
  const int w = 16, h = 8;
  guint8 mask[16 * 8] = { 0 };
  const GdkRGBA red = { 1, 0, 0, 1 };
  g_autofree guint8 *full = NULL;
  g_autofree guint8 *half = NULL;

  for (int y = 2; y < 6; y++)
    for (int x = 4; x < 12; x++)
      mask[y * w + x] = 1; /* 8 x 4 block */

  full = rm_mask_overlay_render (mask, w, h, 1, &(RmMaskRect){ 0, 0, w, h }, &red, 0.5);
  /* background: transparent */
  g_assert_cmpint (full[(0 * w + 0) * 4 + 3], ==, 0);
  /* inside: red at half opacity, premultiplied (B, G, R, A) */
  g_assert_cmpint (full[(3 * w + 6) * 4 + 3], ==, 128);
  g_assert_cmpint (full[(3 * w + 6) * 4 + 2], ==, 128);
  g_assert_cmpint (full[(3 * w + 6) * 4 + 0], ==, 0);
  /* edge: opaque */
  g_assert_cmpint (full[(2 * w + 6) * 4 + 3], ==, 255);
  g_assert_cmpint (full[(3 * w + 4) * 4 + 3], ==, 255);

  /* 4 x 4 blocks: the block (1, 0) holds 8 foreground pixels of 16, 5 of them edges */
  half = rm_mask_overlay_render (mask, w, h, 4, &(RmMaskRect){ 0, 0, 4, 2 }, &red, 0.5);
  g_assert_cmpint (half[(0 * 4 + 0) * 4 + 3], ==, 0);
  g_assert_cmpint (half[(0 * 4 + 1) * 4 + 3], ==, 255); /* 5 edge pixels: an edge */
  {
    /* a block with no edge pixels: coverage only */
    const int bw = 32, bh = 32;
    g_autofree guint8 *big = g_malloc0 (bw * bh);
    g_autofree guint8 *texels = NULL;

    for (int y = 4; y < 28; y++)
      for (int x = 4; x < 28; x++)
        big[y * bw + x] = 1;
    texels = rm_mask_overlay_render (big, bw, bh, 8, &(RmMaskRect){ 0, 0, 4, 4 }, &red, 0.5);
    g_assert_cmpint (texels[(1 * 4 + 1) * 4 + 3], ==, 128); /* full block inside */
  }
}

static void
test_annotation (void)
{
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  guint8 pixels[6 * 4] = { 0 };
  g_autoptr (GBytes) mask = NULL;
  g_autoptr (RmAnnotation) annotation = NULL;
  RmAnnotationStatus status;
  RmAnnotationSource source;
  int x, y, w, h;

  pixels[1 * 6 + 2] = pixels[1 * 6 + 3] = pixels[2 * 6 + 3] = 1;
  mask = g_bytes_new (pixels, sizeof pixels);
  annotation = rm_annotation_new (image, "two roofs", 6, 4, mask, RM_ANNOTATION_STATUS_ACCEPTED,
                                  RM_ANNOTATION_SOURCE_MODEL_CORRECTED);
  g_assert_cmpint (rm_annotation_get_area (annotation), ==, 3);
  rm_annotation_get_bbox (annotation, &x, &y, &w, &h);
  g_assert_cmpint (x, ==, 2);
  g_assert_cmpint (y, ==, 1);
  g_assert_cmpint (w, ==, 2);
  g_assert_cmpint (h, ==, 2);
  g_assert_cmpstr (rm_annotation_get_expression (annotation), ==, "two roofs");
  g_assert_cmpint (rm_annotation_get_id (annotation), ==, 0);
  g_assert_true (g_file_equal (rm_annotation_get_image (annotation), image));
  g_assert_nonnull (rm_annotation_get_created (annotation));

  /* the stable names a store writes */
  g_assert_cmpstr (rm_annotation_status_to_string (rm_annotation_get_status (annotation)), ==,
                   "accepted");
  g_assert_cmpstr (rm_annotation_source_to_string (rm_annotation_get_source (annotation)), ==,
                   "model-corrected");
  g_assert_true (rm_annotation_status_from_string ("rejected", &status));
  g_assert_cmpint (status, ==, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_true (rm_annotation_source_from_string ("model", &source));
  g_assert_cmpint (source, ==, RM_ANNOTATION_SOURCE_MODEL);
  g_assert_false (rm_annotation_status_from_string ("maybe", &status));

  /* properties, for bindings and for a store that saves on notify */
  g_object_set (annotation, "status", RM_ANNOTATION_STATUS_REJECTED, "expression", "one roof", "id",
                (gint64) 42, NULL);
  g_assert_cmpint (rm_annotation_get_status (annotation), ==, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_cmpstr (rm_annotation_get_expression (annotation), ==, "one roof");
  g_assert_cmpint (rm_annotation_get_id (annotation), ==, 42);
}

static void
count_signal (guint *n)
{
  (*n)++;
}

static void
test_candidate (void)
{
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  guint8 mask[40 * 30] = { 0 };
  float prior[4 * 4];
  RmSegmentResult result = { 0 };
  g_autoptr (RmCandidate) candidate = NULL;
  g_autoptr (RmAnnotation) before = NULL;
  g_autoptr (RmAnnotation) after = NULL;
  guint n_changed = 0;

  for (int i = 0; i < 16; i++)
    prior[i] = i / 15.0f;
  for (int y = 10; y < 20; y++)
    for (int x = 10; x < 20; x++)
      mask[y * 40 + x] = 1;
  result.width = 40;
  result.height = 30;
  result.mask = mask;
  result.prior = prior;
  result.prior_size = 4;
  result.area = 100;

  candidate = rm_candidate_new (image, "the square", &result);
  g_signal_connect_swapped (candidate, "mask-changed", G_CALLBACK (count_signal), &n_changed);
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 100);
  g_assert_false (rm_candidate_get_corrected (candidate));
  before = rm_candidate_to_annotation (candidate, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpint (rm_annotation_get_source (before), ==, RM_ANNOTATION_SOURCE_MODEL);
  g_assert_cmpint (rm_annotation_get_area (before), ==, 100);

  rm_candidate_begin_stroke (candidate, TRUE, 4, 30, 25);
  rm_candidate_stroke_to (candidate, 35, 25);
  g_assert_true (rm_candidate_end_stroke (candidate));
  g_assert_cmpuint (n_changed, >=, 1);
  g_assert_true (rm_candidate_get_corrected (candidate));
  g_assert_true (rm_candidate_can_undo (candidate));
  after = rm_candidate_to_annotation (candidate, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpint (rm_annotation_get_source (after), ==, RM_ANNOTATION_SOURCE_MODEL_CORRECTED);
  g_assert_cmpint (rm_annotation_get_area (after), >, 100);
  {
    int size = 0;

    g_assert_nonnull (rm_annotation_get_prior (after, &size));
    g_assert_cmpint (size, ==, 4);
  }

  g_assert_true (rm_candidate_undo (candidate));
  g_assert_false (rm_candidate_get_corrected (candidate));
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 100);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/edit/brush-dot", test_brush_dot);
  g_test_add_func ("/edit/stroke-line-and-clip", test_stroke_line_and_clip);
  g_test_add_func ("/edit/undo-redo-exact", test_undo_redo_exact);
  g_test_add_func ("/edit/fill-holes", test_fill_holes);
  g_test_add_func ("/edit/history-limits", test_history_limits);
  g_test_add_func ("/edit/history-is-compact", test_history_is_compact);
  g_test_add_func ("/overlay/render", test_overlay_render);
  g_test_add_func ("/annotation/fields", test_annotation);
  g_test_add_func ("/candidate/edit-and-annotate", test_candidate);

  return g_test_run ();
}
