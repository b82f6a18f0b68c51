/* test-edit.c: the logic behind the candidate editor and the overlays, without a display:
 * brush and eraser strokes, hole filling, polygons, the bounded undo history, overlay texels, the
 * annotation object and the candidate, the window's undo history of annotation changes, and the
 * review queue's order
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gdk/gdk.h>
#include <math.h>
#include <string.h>

#include "rm-annotation.h"
#include "rm-candidate.h"
#include "rm-history.h"
#include "rm-mask-editor.h"
#include "rm-mask-overlay.h"
#include "rm-review-queue.h"

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

/* ---- polygons ---------------------------------------------------------------------------- */

/* Pixels whose centre is inside, by the even-odd rule, computed the slow way. */
static gboolean
inside (const double *xy, guint n, double px, double py)
{
  gboolean in = FALSE;

  for (guint i = 0, j = n - 1; i < n; j = i++)
    {
      double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j], yj = xy[2 * j + 1];

      if ((yi <= py) != (yj <= py) && px < xi + (py - yi) * (xj - xi) / (yj - yi))
        in = !in;
    }

  return in;
}

static void
check_polygon (RmMaskEditor *editor, const double *xy, guint n, const guint8 *before,
               gboolean paint)
{
  int w = rm_mask_editor_get_width (editor), h = rm_mask_editor_get_height (editor);
  const guint8 *m = rm_mask_editor_get_data (editor);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint8 expected = inside (xy, n, x + 0.5, y + 0.5) ? (paint ? 1 : 0) : before[y * w + x];

        if (m[y * w + x] != expected)
          g_error ("pixel (%d, %d) is %d, expected %d", x, y, m[y * w + x], expected);
      }
}

/* A rectangle with corners on pixel edges fills exactly its pixels; a triangle, a concave and
 * a self-intersecting outline (even-odd) match the slow rule; outlines are clipped to the mask;
 * removing works the same way; each is one undo step, undone exactly. */
static void
test_polygon (void)
{
  g_autoptr (RmMaskEditor) editor = rm_mask_editor_new (60, 40, NULL);
  const double rect[] = { 10, 5, 20, 5, 20, 15, 10, 15 };
  const double triangle[] = { 2.3, 30.7, 40.2, 22.1, 25.8, 39.4 };
  const double concave[] = { 30, 2, 58, 2, 58, 20, 44, 8, 30, 20 };
  const double bow_tie[] = { 5, 20, 25, 38, 25, 20, 5, 38 };
  const double clipped[] = { -10, -10, 15, -10, -10, 15 };
  const double line[] = { 1, 1, 5, 5 };
  g_autofree guint8 *before = NULL;
  g_autofree guint8 *empty = NULL;
  RmMaskRect dirty;

  empty = dup_mask (editor);
  g_assert_true (rm_mask_editor_fill_polygon (editor, rect, 4, TRUE));
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, 100);
  g_assert_cmpint (rm_mask_editor_get_data (editor)[5 * 60 + 10], ==, 1);
  g_assert_cmpint (rm_mask_editor_get_data (editor)[14 * 60 + 19], ==, 1);
  g_assert_cmpint (rm_mask_editor_get_data (editor)[15 * 60 + 19], ==, 0);
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 1);
  g_assert_true (rm_mask_editor_take_dirty (editor, &dirty));
  g_assert_cmpint (dirty.x, ==, 10);
  g_assert_cmpint (dirty.y, ==, 5);
  g_assert_cmpint (dirty.width, ==, 10);
  g_assert_cmpint (dirty.height, ==, 10);
  /* the same polygon again changes nothing: no step */
  g_assert_false (rm_mask_editor_fill_polygon (editor, rect, 4, TRUE));
  g_assert_cmpuint (rm_mask_editor_get_n_undo (editor), ==, 1);

  before = dup_mask (editor);
  g_assert_true (rm_mask_editor_fill_polygon (editor, triangle, 3, TRUE));
  check_polygon (editor, triangle, 3, before, TRUE);
  g_clear_pointer (&before, g_free);

  before = dup_mask (editor);
  g_assert_true (rm_mask_editor_fill_polygon (editor, concave, 5, TRUE));
  check_polygon (editor, concave, 5, before, TRUE);
  g_clear_pointer (&before, g_free);

  before = dup_mask (editor);
  g_assert_true (rm_mask_editor_fill_polygon (editor, bow_tie, 4, FALSE));
  check_polygon (editor, bow_tie, 4, before, FALSE);
  g_assert_true (rm_mask_editor_undo (editor));
  g_assert_true (same_mask (editor, before));
  g_assert_true (rm_mask_editor_redo (editor));
  check_polygon (editor, bow_tie, 4, before, FALSE);
  g_clear_pointer (&before, g_free);

  before = dup_mask (editor);
  g_assert_true (rm_mask_editor_fill_polygon (editor, clipped, 3, TRUE));
  check_polygon (editor, clipped, 3, before, TRUE);
  g_clear_pointer (&before, g_free);

  /* fewer than 3 points: nothing */
  g_assert_false (rm_mask_editor_fill_polygon (editor, line, 2, TRUE));

  /* everything undone is the empty mask again */
  while (rm_mask_editor_undo (editor))
    ;
  g_assert_true (same_mask (editor, empty));
  g_assert_cmpint (rm_mask_editor_get_area (editor), ==, 0);
}

static void
count_edits (RmCandidate *candidate, guint *n)
{
  (*n)++;
}

static RmAnnotation *
make_annotation (GFile *image, const char *expression, RmAnnotationStatus status, int x0)
{
  g_autofree guint8 *mask = g_malloc0 (20 * 10);
  g_autoptr (GBytes) bytes = NULL;

  for (int y = 2; y < 6; y++)
    for (int x = x0; x < x0 + 4; x++)
      mask[y * 20 + x] = 1;
  bytes = g_bytes_new_take (g_steal_pointer (&mask), 20 * 10);

  return rm_annotation_new (image, expression, 20, 10, bytes, status, RM_ANNOTATION_SOURCE_MODEL);
}

/* A candidate made from an annotation edits a copy of its mask; polygons are edits ("edited"),
 * undo is not. */
static void
test_candidate_polygon (void)
{
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  g_autoptr (RmAnnotation) annotation =
      make_annotation (image, "the roof", RM_ANNOTATION_STATUS_CANDIDATE, 2);
  g_autoptr (RmCandidate) candidate = NULL;
  const double square[] = { 10, 0, 14, 0, 14, 4, 10, 4 };
  guint n_edits = 0;

  candidate = rm_candidate_new_for_annotation (annotation);
  g_assert_nonnull (candidate);
  g_assert_true (rm_candidate_get_origin (candidate) == annotation);
  g_assert_cmpstr (rm_candidate_get_expression (candidate), ==, "the roof");
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 16);
  g_signal_connect (candidate, "edited", G_CALLBACK (count_edits), &n_edits);

  g_assert_true (rm_candidate_fill_polygon (candidate, square, 4, TRUE));
  g_assert_cmpuint (n_edits, ==, 1);
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 32);
  g_assert_true (rm_candidate_get_corrected (candidate));
  g_assert_false (rm_candidate_fill_polygon (candidate, square, 4, TRUE)); /* no change */
  g_assert_cmpuint (n_edits, ==, 1);
  g_assert_true (rm_candidate_fill_polygon (candidate, square, 4, FALSE));
  g_assert_cmpuint (n_edits, ==, 2);
  g_assert_true (rm_candidate_undo (candidate));
  g_assert_cmpuint (n_edits, ==, 2);
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 32);
  /* the annotation's own mask is untouched */
  g_assert_cmpint (rm_annotation_get_area (annotation), ==, 16);
}

/* ---- the window's undo history ----------------------------------------------------------- */

static void
count_annotation (RmHistory *history, RmAnnotation *annotation, guint *n)
{
  (*n)++;
}

static void
test_history (void)
{
  g_autoptr (GListStore) store = g_list_store_new (RM_TYPE_ANNOTATION);
  g_autoptr (RmHistory) history = rm_history_new (store);
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  g_autoptr (RmAnnotation) a = make_annotation (image, "a", RM_ANNOTATION_STATUS_CANDIDATE, 0);
  g_autoptr (RmAnnotation) b = make_annotation (image, "b", RM_ANNOTATION_STATUS_ACCEPTED, 8);
  g_autoptr (RmCandidate) candidate = rm_candidate_new_for_annotation (b);
  const double square[] = { 0, 0, 3, 0, 3, 3, 0, 3 };
  RmAnnotation *touched = NULL;
  g_autoptr (GBytes) old_rle = NULL;
  g_autoptr (GBytes) new_rle = NULL;
  guint n_removed = 0, n_restored = 0;
  guint position = 0;

  g_list_store_append (store, a);
  g_list_store_append (store, b);
  g_signal_connect (history, "removed", G_CALLBACK (count_annotation), &n_removed);
  g_signal_connect (history, "restored", G_CALLBACK (count_annotation), &n_restored);
  g_assert_false (rm_history_can_undo (history));

  /* status, expression (stripped; empty and unchanged ones refused) */
  g_assert_true (rm_history_set_status (history, a, RM_ANNOTATION_STATUS_ACCEPTED));
  g_assert_false (rm_history_set_status (history, a, RM_ANNOTATION_STATUS_ACCEPTED));
  g_assert_true (rm_history_set_expression (history, a, "  the left roof "));
  g_assert_cmpstr (rm_annotation_get_expression (a), ==, "the left roof");
  g_assert_false (rm_history_set_expression (history, a, "   "));
  g_assert_false (rm_history_set_expression (history, a, "the left roof"));
  g_assert_cmpuint (rm_history_get_n_undo (history), ==, 2);

  /* a candidate step sits between them */
  g_assert_true (rm_candidate_fill_polygon (candidate, square, 4, TRUE));
  rm_history_record_candidate_step (history, candidate);

  /* a mask, a source and a status in one step */
  old_rle = g_bytes_ref (rm_annotation_get_rle (b));
  new_rle = rm_annotation_encode_mask (rm_candidate_get_mask (candidate), 20, 10);
  g_assert_true (rm_history_update (history, b, RM_ANNOTATION_STATUS_REJECTED,
                                    RM_ANNOTATION_SOURCE_MODEL_CORRECTED, new_rle));
  g_assert_true (rm_annotation_get_rle (b) == new_rle); /* shared, not copied */
  g_assert_cmpint (rm_annotation_get_area (b), ==, 25);
  g_assert_cmpmem (g_bytes_get_data (rm_annotation_get_mask (b), NULL), 20 * 10,
                   rm_candidate_get_mask (candidate), 20 * 10);

  /* deletion, and back */
  g_assert_true (rm_history_delete (history, a));
  g_assert_cmpuint (n_removed, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (store)), ==, 1);
  g_assert_false (rm_history_delete (history, a)); /* not in the list */
  g_assert_cmpuint (rm_history_get_n_undo (history), ==, 5);

  g_assert_true (rm_history_undo (history, &touched));
  g_assert_true (touched == a);
  g_assert_cmpuint (n_restored, ==, 1);
  g_assert_true (g_list_store_find (store, a, &position));
  g_assert_cmpuint (position, ==, 0); /* where it was */

  g_assert_true (rm_history_undo (history, &touched));
  g_assert_true (touched == b);
  g_assert_true (rm_annotation_get_rle (b) == old_rle);
  g_assert_cmpint (rm_annotation_get_area (b), ==, 16);
  g_assert_cmpint (rm_annotation_get_status (b), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpint (rm_annotation_get_source (b), ==, RM_ANNOTATION_SOURCE_MODEL);

  g_assert_true (rm_history_undo (history, &touched));
  g_assert_null (touched); /* the candidate's polygon */
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 16);

  g_assert_true (rm_history_undo (history, &touched));
  g_assert_cmpstr (rm_annotation_get_expression (a), ==, "a");
  g_assert_true (rm_history_undo (history, &touched));
  g_assert_cmpint (rm_annotation_get_status (a), ==, RM_ANNOTATION_STATUS_CANDIDATE);
  g_assert_false (rm_history_can_undo (history));
  g_assert_false (rm_history_undo (history, &touched));

  /* redo all the way */
  for (guint i = 0; i < 5; i++)
    g_assert_true (rm_history_redo (history, NULL));
  g_assert_false (rm_history_can_redo (history));
  g_assert_cmpint (rm_annotation_get_status (a), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpstr (rm_annotation_get_expression (a), ==, "the left roof");
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 25);
  g_assert_cmpint (rm_annotation_get_status (b), ==, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_false (g_list_store_find (store, a, NULL));
  g_assert_cmpuint (n_removed, ==, 2);

  /* a new step forgets the redo; a forgotten candidate's steps go */
  g_assert_true (rm_history_undo (history, NULL)); /* a is back */
  g_assert_true (rm_history_set_status (history, b, RM_ANNOTATION_STATUS_CANDIDATE));
  g_assert_false (rm_history_can_redo (history));
  rm_history_forget_candidate (history, candidate);
  g_assert_cmpuint (rm_history_get_n_undo (history), ==, 4);

  /* the limit keeps the newest steps */
  rm_history_set_max_steps (history, 2);
  g_assert_cmpuint (rm_history_get_n_undo (history), ==, 2);
}

typedef struct
{
  RmCandidate *candidate; /* the last one "candidate-returned" named */
  gboolean returned;
  guint n;
  gboolean in_list; /* whether the annotation was in the list when it was emitted */
  GListStore *store;
  RmAnnotation *annotation;
} Returned;

static void
on_candidate_returned (RmHistory *history, RmCandidate *candidate, gboolean returned, Returned *r)
{
  r->candidate = candidate;
  r->returned = returned;
  r->n++;
  r->in_list = g_list_store_find (r->store, r->annotation, NULL);
}

/* An accepted candidate: undo takes the annotation out and gives the candidate back (after
 * "removed"); redo lets the candidate go (before "restored") and puts the annotation back. */
static void
test_history_addition (void)
{
  g_autoptr (GListStore) store = g_list_store_new (RM_TYPE_ANNOTATION);
  g_autoptr (RmHistory) history = rm_history_new (store);
  g_autoptr (GFile) image = g_file_new_for_path ("/tmp/tile.png");
  g_autoptr (RmAnnotation) first =
      make_annotation (image, "first", RM_ANNOTATION_STATUS_ACCEPTED, 0);
  g_autoptr (RmAnnotation) source =
      make_annotation (image, "road", RM_ANNOTATION_STATUS_ACCEPTED, 8);
  g_autoptr (RmCandidate) candidate = rm_candidate_new_for_annotation (source);
  g_autoptr (RmAnnotation) added = NULL;
  const double square[] = { 0, 0, 3, 0, 3, 3, 0, 3 };
  Returned r = { 0 };
  RmAnnotation *touched = NULL;
  guint n_removed = 0, n_restored = 0, position = 0;

  g_list_store_append (store, first);
  g_signal_connect (history, "removed", G_CALLBACK (count_annotation), &n_removed);
  g_signal_connect (history, "restored", G_CALLBACK (count_annotation), &n_restored);
  g_signal_connect (history, "candidate-returned", G_CALLBACK (on_candidate_returned), &r);

  /* a corrected candidate, accepted: it becomes an annotation at the end of the list */
  g_assert_true (rm_candidate_fill_polygon (candidate, square, 4, TRUE));
  rm_history_record_candidate_step (history, candidate);
  added = rm_candidate_to_annotation (candidate, RM_ANNOTATION_STATUS_ACCEPTED);
  r.store = store;
  r.annotation = added;
  rm_history_forget_candidate (history, candidate); /* the window lets the candidate go */
  g_list_store_append (store, added);
  rm_history_record_add (history, added, candidate);
  g_assert_cmpuint (rm_history_get_n_undo (history), ==, 1);
  g_assert_cmpuint (r.n, ==, 0);

  /* undo: out of the list, the same candidate back with its correction */
  g_assert_true (rm_history_undo (history, &touched));
  g_assert_true (touched == added);
  g_assert_false (g_list_store_find (store, added, NULL));
  g_assert_cmpuint (n_removed, ==, 1);
  g_assert_cmpuint (r.n, ==, 1);
  g_assert_true (r.returned);
  g_assert_true (r.candidate == candidate);
  g_assert_false (r.in_list);
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, 25);
  g_assert_true (rm_candidate_get_corrected (candidate));
  g_assert_false (rm_history_can_undo (history));

  /* redo: the candidate goes first, then the annotation is back where it was */
  g_assert_true (rm_history_redo (history, &touched));
  g_assert_true (touched == added);
  g_assert_cmpuint (r.n, ==, 2);
  g_assert_false (r.returned);
  g_assert_false (r.in_list);
  g_assert_cmpuint (n_restored, ==, 1);
  g_assert_true (g_list_store_find (store, added, &position));
  g_assert_cmpuint (position, ==, 1);

  /* an addition whose annotation left by other means is out of date: skipped */
  g_list_store_remove (store, 1);
  g_assert_false (rm_history_undo (history, &touched));
  g_assert_cmpuint (r.n, ==, 2);

  /* without a candidate (nothing to give back) it is a plain addition */
  g_list_store_append (store, added);
  rm_history_record_add (history, added, NULL);
  g_assert_true (rm_history_undo (history, NULL));
  g_assert_false (g_list_store_find (store, added, NULL));
  g_assert_cmpuint (r.n, ==, 2);
}

/* ---- the review queue -------------------------------------------------------------------- */

static void
test_review_queue (void)
{
  g_autoptr (GListStore) store = g_list_store_new (RM_TYPE_ANNOTATION);
  g_autoptr (RmReviewQueue) queue = rm_review_queue_new ();
  g_autoptr (GFile) one = g_file_new_for_path ("/tmp/one.png");
  g_autoptr (GFile) two = g_file_new_for_path ("/tmp/two.png");
  g_autoptr (GFile) three = g_file_new_for_path ("/tmp/three.png");
  g_autoptr (GFile) other = g_file_new_for_path ("/tmp/not-listed.png");
  GFile *images[] = { one, two, three };
  /* made in this order: the queue goes by image, then by this order */
  g_autoptr (RmAnnotation) c3 = make_annotation (three, "c3", RM_ANNOTATION_STATUS_CANDIDATE, 0);
  g_autoptr (RmAnnotation) c1a = make_annotation (one, "c1a", RM_ANNOTATION_STATUS_CANDIDATE, 0);
  g_autoptr (RmAnnotation) acc = make_annotation (one, "acc", RM_ANNOTATION_STATUS_ACCEPTED, 0);
  g_autoptr (RmAnnotation) cx = make_annotation (other, "cx", RM_ANNOTATION_STATUS_CANDIDATE, 0);
  g_autoptr (RmAnnotation) c1b = make_annotation (one, "c1b", RM_ANNOTATION_STATUS_CANDIDATE, 4);
  g_autoptr (RmAnnotation) c2 = make_annotation (two, "c2", RM_ANNOTATION_STATUS_CANDIDATE, 0);
  g_autoptr (RmAnnotation) late = make_annotation (one, "late", RM_ANNOTATION_STATUS_CANDIDATE, 8);
  RmAnnotation *expected[] = { c1a, c1b, c2, c3, cx };
  g_autofree char *counter = NULL;

  g_list_store_append (store, c3);
  g_list_store_append (store, c1a);
  g_list_store_append (store, acc);
  g_list_store_append (store, cx);
  g_list_store_append (store, c1b);
  g_list_store_append (store, c2);

  g_assert_null (rm_review_queue_get_current (queue));
  g_assert_null (rm_review_queue_format_counter (queue));
  rm_review_queue_reset (queue, G_LIST_MODEL (store), images, 3);
  g_assert_cmpuint (rm_review_queue_get_n_items (queue), ==, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_true (rm_review_queue_get_item (queue, i) == expected[i]);
  g_assert_true (rm_review_queue_get_current (queue) == c1a);
  counter = rm_review_queue_format_counter (queue);
  g_assert_cmpstr (counter, ==, "1 of 5");
  g_clear_pointer (&counter, g_free);

  /* stepping */
  g_assert_false (rm_review_queue_previous (queue));
  g_assert_true (rm_review_queue_next (queue));
  g_assert_true (rm_review_queue_next (queue));
  g_assert_true (rm_review_queue_get_current (queue) == c2);
  counter = rm_review_queue_format_counter (queue);
  g_assert_cmpstr (counter, ==, "3 of 5");
  g_clear_pointer (&counter, g_free);
  g_assert_true (rm_review_queue_previous (queue));
  g_assert_true (rm_review_queue_get_current (queue) == c1b);

  /* decisions: the next one still to decide, round to the start; decided ones stay queued */
  rm_annotation_set_status (c1b, RM_ANNOTATION_STATUS_ACCEPTED);
  rm_annotation_set_status (c2, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_true (rm_review_queue_next_pending (queue));
  g_assert_true (rm_review_queue_get_current (queue) == c3);
  g_assert_cmpuint (rm_review_queue_get_n_pending (queue), ==, 3);
  rm_annotation_set_status (c3, RM_ANNOTATION_STATUS_ACCEPTED);
  rm_annotation_set_status (cx, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_true (rm_review_queue_next_pending (queue));
  g_assert_true (rm_review_queue_get_current (queue) == c1a);
  rm_annotation_set_status (c1a, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_false (rm_review_queue_next_pending (queue));
  g_assert_true (rm_review_queue_get_current (queue) == c1a);
  g_assert_cmpuint (rm_review_queue_get_n_pending (queue), ==, 0);
  g_assert_cmpuint (rm_review_queue_get_n_items (queue), ==, 5);

  /* a later candidate joins at the end; a deleted one leaves (the next takes its place) */
  g_assert_true (rm_review_queue_append (queue, late));
  g_assert_false (rm_review_queue_append (queue, late));
  g_assert_true (rm_review_queue_set_current (queue, c2));
  g_assert_true (rm_review_queue_remove (queue, c2));
  g_assert_true (rm_review_queue_get_current (queue) == c3);
  g_assert_true (rm_review_queue_remove (queue, c1a));
  g_assert_true (rm_review_queue_get_current (queue) == c3);
  g_assert_cmpuint (rm_review_queue_get_position (queue), ==, 1);
  g_assert_true (rm_review_queue_next_pending (queue));
  g_assert_true (rm_review_queue_get_current (queue) == late);
  g_assert_true (rm_review_queue_remove (queue, late)); /* the last: the one before */
  g_assert_true (rm_review_queue_get_current (queue) == cx);
  g_assert_false (rm_review_queue_set_current (queue, late));

  rm_review_queue_clear (queue);
  g_assert_null (rm_review_queue_get_current (queue));
  g_assert_false (rm_review_queue_next (queue));
  g_assert_false (rm_review_queue_next_pending (queue));
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
  g_test_add_func ("/edit/polygon", test_polygon);
  g_test_add_func ("/candidate/polygon-and-origin", test_candidate_polygon);
  g_test_add_func ("/history/annotations-and-candidate", test_history);
  g_test_add_func ("/history/addition", test_history_addition);
  g_test_add_func ("/review/queue-order-and-stepping", test_review_queue);

  return g_test_run ();
}
