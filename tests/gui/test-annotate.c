/* test-annotate.c: the model in the real window, under Xvfb
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Makes a model folder from the golden set with `refmask model-init` (REFMASK_EXE,
 * REFMASK_SHARED_DIR), loads it in a window, runs queries on a sample image and checks the
 * candidate, the prior overlay, brush, eraser, fill holes, undo and redo, accept and reject,
 * cancelling a running query through the engine's abort callback, and that a bad model folder
 * shows an error. Keeps refmask-studio-annotate.png (mask and prior over the image) in this
 * build folder.
 */

#include <gtk/gtk.h>

#include "gui-test-util.h"
#include <glib/gstdio.h>
#include <string.h>

#include "rm-annotation.h"
#include "rm-application.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-cuda.h"
#include "rm-image-pyramid.h"
#include "rm-mask-editor.h"
#include "rm-preferences-window.h"
#include "rm-segmenter.h"
#include "rm-window-private.h"

static RmApplication *app;
static char *model_dir;   /* made from the golden set */
static char *scratch_dir; /* bad model folders */

/* ---- helpers ----------------------------------------------------------------------------- */

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, const char *what)
{
  return gui_wait_for (done, data, what, 30);
}

static gboolean
have_model (void)
{
  if (model_dir == NULL)
    {
      g_test_skip ("no golden set or refmask binary: no model folder");
      return FALSE;
    }

  return TRUE;
}

/* A window on data/sample with the first image shown and @dir's model loaded (or failed). */
static RmWindow *
open_window (const char *dir)
{
  g_autoptr (GFile) folder = NULL;
  RmWindow *window = rm_window_new (app);

  folder = g_file_new_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "sample", NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (wait_for (window_idle, window, "the sample images"));
  if (dir != NULL)
    {
      rm_window_load_model (window, dir);
      g_assert_true (wait_for (model_settled, window, "the model"));
    }

  return window;
}

/* Destroys @window and checks that it, its model runner and its candidate are finalized (no
 * reference is left behind by a task, a signal handler or a binding). */
static void
close_window (RmWindow *window)
{
  gpointer weak_window = window;
  gpointer weak_segmenter = rm_window_get_segmenter (window);
  gpointer weak_candidate = rm_window_get_candidate (window);

  g_object_add_weak_pointer (G_OBJECT (window), &weak_window);
  g_object_add_weak_pointer (G_OBJECT (weak_segmenter), &weak_segmenter);
  if (weak_candidate != NULL)
    g_object_add_weak_pointer (G_OBJECT (weak_candidate), &weak_candidate);
  gtk_window_destroy (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (wait_for (is_null, &weak_window, "the window to be finalized"));
  g_assert_true (wait_for (is_null, &weak_segmenter, "the model runner to be finalized"));
  g_assert_true (wait_for (is_null, &weak_candidate, "the candidate to be finalized"));
}

static void
run_query (RmWindow *window, const char *expression)
{
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), expression);
  activate (window, "win.run-query", NULL);
  g_assert_true (rm_window_get_query_running (window));
  g_assert_true (wait_for (query_finished, window, "the query"));
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
check_bad_model (const char *dir, const char *what)
{
  RmWindow *window = open_window (dir);
  const char *banner;

  g_test_message ("%s: %s", what, gtk_label_get_label (window->model_banner_label));
  g_assert_cmpint (rm_segmenter_get_state (rm_window_get_segmenter (window)), ==,
                   RM_SEGMENTER_STATE_FAILED);
  /* a visible error that names the folder; the query bar stays off */
  g_assert_true (gtk_revealer_get_reveal_child (window->model_banner));
  banner = gtk_label_get_label (window->model_banner_label);
  g_assert_nonnull (strstr (banner, "Cannot load the model"));
  g_assert_nonnull (strstr (banner, dir));
  g_assert_false (window->model_loaded);
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (window->query_entry)));
  g_assert_false (action_enabled (window, "win.run-query"));
  g_assert_true (action_enabled (window, "win.reload-model"));

  /* the rest of the window works */
  activate (window, "win.zoom-in", NULL);
  activate (window, "win.next-image", NULL);
  g_assert_cmpuint (rm_window_get_selected (window), ==, 1);

  /* and a good model clears the error */
  if (model_dir != NULL)
    {
      rm_window_load_model (window, model_dir);
      g_assert_true (wait_for (model_settled, window, "the good model"));
      g_assert_true (window->model_loaded);
      g_assert_false (gtk_revealer_get_reveal_child (window->model_banner));
    }

  close_window (window);
}

static void
test_bad_model (void)
{
  g_autofree char *missing = g_build_filename (scratch_dir, "no-such-model", NULL);
  g_autofree char *broken = g_build_filename (scratch_dir, "broken-model", NULL);
  g_autofree char *config = g_build_filename (broken, "config.json", NULL);

  check_bad_model (missing, "missing folder");

  g_assert_cmpint (g_mkdir_with_parents (broken, 0700), ==, 0);
  g_assert_true (g_file_set_contents (config, "{ \"beit\": ", -1, NULL));
  check_bad_model (broken, "broken config.json");

  /* the good model's files, with the weights cut short */
  if (model_dir != NULL)
    {
      g_autofree char *truncated = g_build_filename (scratch_dir, "truncated-model", NULL);
      const char *names[] = { "config.json", "sentencepiece.bpe.model", "model.safetensors" };

      g_assert_cmpint (g_mkdir_with_parents (truncated, 0700), ==, 0);
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *from = g_build_filename (model_dir, names[i], NULL);
          g_autofree char *to = g_build_filename (truncated, names[i], NULL);
          g_autofree char *contents = NULL;
          gsize length = 0;

          g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
          if (i == 2)
            length = MIN (length, 100000);
          g_assert_true (g_file_set_contents (to, contents, (gssize) length, NULL));
        }
      check_bad_model (truncated, "truncated weights");
    }
}

/* The setting and its preferences row: setting "model-dir" loads that model. */
static void
test_model_setting (void)
{
  GSettings *settings = rm_application_get_settings (app);
  RmWindow *window;

  if (!have_model ())
    return;

  window = open_window (NULL);
  g_assert_false (window->model_loaded);
  g_settings_set_string (settings, "model-dir", model_dir);
  g_assert_cmpint (rm_segmenter_get_state (rm_window_get_segmenter (window)), ==,
                   RM_SEGMENTER_STATE_LOADING);
  g_assert_true (wait_for (model_settled, window, "the model from the settings"));
  g_assert_true (window->model_loaded);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (window->query_entry)));
  g_assert_true (action_enabled (window, "win.run-query"));
  g_assert_nonnull (strstr (gtk_label_get_label (window->query_status_label), "Model ready"));

  g_settings_set_string (settings, "model-dir", "");
  g_assert_false (window->model_loaded);
  g_assert_false (action_enabled (window, "win.run-query"));
  g_settings_reset (settings, "model-dir");

  close_window (window);
}

static void
count_annotation (RmWindow *window, RmAnnotation *annotation, guint *n)
{
  (*n)++;
}

static void
test_query_and_edit (void)
{
  RmWindow *window;
  RmCanvas *canvas;
  RmCandidate *candidate;
  g_autofree guint8 *model_mask = NULL;
  g_autofree guint8 *painted = NULL;
  g_auto (GStrv) recent = NULL;
  gint64 area0, area1;
  guint n_added = 0, uploads;
  double w, h;

  if (!have_model ())
    return;

  window = open_window (model_dir);
  canvas = rm_window_get_canvas (window);
  g_signal_connect (window, "annotation-added", G_CALLBACK (count_annotation), &n_added);
  g_assert_true (window->model_loaded);
  g_assert_false (action_enabled (window, "win.accept"));
  g_assert_false (action_enabled (window, "win.toggle-prior"));

  /* an empty expression runs nothing */
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), "   ");
  activate (window, "win.run-query", NULL);
  g_assert_false (rm_window_get_query_running (window));

  run_query (window, "the large building");
  candidate = rm_window_get_candidate (window);
  g_assert_nonnull (candidate);
  g_test_message ("status: %s", gtk_label_get_label (window->query_status_label));
  g_assert_cmpint (rm_candidate_get_width (candidate), ==, 797);
  g_assert_cmpint (rm_candidate_get_height (candidate), ==, 643);
  area0 = rm_candidate_get_area (candidate);
  g_assert_cmpint (area0, >, 0);
  g_assert_cmpint (area0, <, 797 * 643);
  g_assert_cmpstr (rm_candidate_get_expression (candidate), ==, "the large building");
  g_assert_true (gtk_widget_get_visible (window->edit_bar));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->query_progress)));
  g_assert_true (action_enabled (window, "win.accept"));
  g_assert_false (action_enabled (window, "win.undo"));
  recent = g_settings_get_strv (rm_application_get_settings (app), "recent-expressions");
  g_assert_cmpstr (recent[0], ==, "the large building");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (window->recent_button)));

  /* the mask is drawn, tile by tile; the prior toggles */
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_cmpuint (rm_canvas_get_n_drawn_overlay_tiles (canvas), >=, 1);
  g_assert_false (rm_canvas_get_prior_drawn (canvas));
  {
    int size = 0;

    g_assert_nonnull (rm_candidate_get_prior (candidate, &size));
    g_assert_cmpint (size, >, 1);
  }
  activate (window, "win.toggle-prior", NULL);
  g_assert_true (rm_canvas_get_show_prior (canvas));
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_true (rm_canvas_get_prior_drawn (canvas));
  activate (window, "win.toggle-prior", NULL);
  g_assert_false (rm_canvas_get_show_prior (canvas));
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_false (rm_canvas_get_prior_drawn (canvas));

  /* the brush: a stroke across the image adds to the mask; one tile or so is made again */
  model_mask = copy_mask (candidate);
  activate (window, "win.tool", g_variant_new_string ("brush"));
  g_assert_cmpint (rm_canvas_get_tool (canvas), ==, RM_CANVAS_TOOL_BRUSH);
  gtk_adjustment_set_value (window->brush_adjustment, 30);
  g_assert_cmpfloat (rm_canvas_get_brush_size (canvas), ==, 30);
  activate (window, "win.brush-larger", NULL);
  g_assert_cmpfloat (rm_canvas_get_brush_size (canvas), >, 30);
  activate (window, "win.brush-smaller", NULL);
  g_assert_cmpfloat (rm_canvas_get_brush_size (canvas), ==, 30);
  w = gtk_widget_get_width (GTK_WIDGET (canvas));
  h = gtk_widget_get_height (GTK_WIDGET (canvas));
  uploads = rm_canvas_get_n_overlay_uploads (canvas);
  g_assert_true (rm_canvas_stroke_begin (canvas, w * 0.3, h * 0.5));
  for (int i = 1; i <= 10; i++)
    rm_canvas_stroke_update (canvas, w * (0.3 + 0.04 * i), h * 0.5);
  rm_canvas_stroke_end (canvas);
  area1 = rm_candidate_get_area (candidate);
  g_test_message ("brush: area %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT, area0, area1);
  g_assert_cmpint (area1, >, area0);
  {
    /* the pixel under the middle of the stroke is set */
    double ix, iy;

    rm_canvas_widget_to_image (canvas, w * 0.5, h * 0.5, &ix, &iy);
    g_assert_cmpint (rm_candidate_get_mask (candidate)[(int) iy * 797 + (int) ix], ==, 1);
  }
  g_assert_true (rm_candidate_get_corrected (candidate));
  g_assert_true (action_enabled (window, "win.undo"));
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("overlay tiles made for the stroke: %u",
                  rm_canvas_get_n_overlay_uploads (canvas) - uploads);
  g_assert_cmpuint (rm_canvas_get_n_overlay_uploads (canvas) - uploads, <=, 4);
  g_assert_cmpuint (rm_canvas_get_n_overlay_uploads (canvas) - uploads, >=, 1);

  /* undo and redo restore the masks exactly */
  painted = copy_mask (candidate);
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, model_mask));
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, area0);
  g_assert_false (rm_candidate_get_corrected (candidate));
  activate (window, "win.redo", NULL);
  g_assert_true (mask_equals (candidate, painted));
  g_assert_cmpint (rm_candidate_get_area (candidate), ==, area1);

  /* the eraser, then fill holes, and back */
  activate (window, "win.tool", g_variant_new_string ("eraser"));
  g_assert_true (rm_canvas_stroke_begin (canvas, w * 0.5, h * 0.2));
  rm_canvas_stroke_update (canvas, w * 0.5, h * 0.8);
  rm_canvas_stroke_end (canvas);
  g_assert_cmpint (rm_candidate_get_area (candidate), <, area1);
  activate (window, "win.fill-holes", NULL);
  g_test_message ("after erasing and filling holes: %" G_GINT64_FORMAT,
                  rm_candidate_get_area (candidate));
  activate (window, "win.undo", NULL);
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, painted));
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, model_mask));
  g_assert_false (action_enabled (window, "win.undo"));
  activate (window, "win.redo", NULL);
  g_assert_true (mask_equals (candidate, painted));

  /* the pan tool pans again */
  activate (window, "win.tool", g_variant_new_string ("pan"));
  g_assert_false (rm_canvas_stroke_begin (canvas, w * 0.5, h * 0.5));

  /* accept: the annotation is in the list and the panel, source "model then corrected" */
  activate (window, "win.accept", NULL);
  g_assert_null (rm_window_get_candidate (window));
  g_assert_false (gtk_widget_get_visible (window->edit_bar));
  g_assert_cmpuint (n_added, ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);
  {
    g_autoptr (RmAnnotation) a = g_list_model_get_item (rm_window_get_annotations (window), 0);

    g_assert_cmpint (rm_annotation_get_status (a), ==, RM_ANNOTATION_STATUS_ACCEPTED);
    g_assert_cmpint (rm_annotation_get_source (a), ==, RM_ANNOTATION_SOURCE_MODEL_CORRECTED);
    g_assert_cmpint (rm_annotation_get_area (a), ==, area1);
    g_assert_cmpstr (rm_annotation_get_expression (a), ==, "the large building");
    g_assert_cmpstr (rm_annotation_get_model (a), ==, model_dir);
  }
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->annotation_stack), ==, "list");
  g_assert_cmpstr (gtk_label_get_label (window->annotation_count_label), ==, "1 annotation");
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_cmpuint (rm_canvas_get_n_drawn_overlay_tiles (canvas), >=, 1); /* the accepted one */

  /* reject: kept, with source "model"; run from the recent expressions */
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), "");
  activate (window, "win.use-recent", g_variant_new_string ("water"));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window->query_entry)), ==, "water");
  g_assert_true (wait_for (query_finished, window, "the second query"));
  g_assert_nonnull (rm_window_get_candidate (window));
  activate (window, "win.reject", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 2);
  {
    g_autoptr (RmAnnotation) a = g_list_model_get_item (rm_window_get_annotations (window), 1);

    g_assert_cmpint (rm_annotation_get_status (a), ==, RM_ANNOTATION_STATUS_REJECTED);
    g_assert_cmpint (rm_annotation_get_source (a), ==, RM_ANNOTATION_SOURCE_MODEL);
  }
  g_assert_cmpuint (n_added, ==, 2);

  /* another image: its panel is empty; the annotations stay with theirs */
  activate (window, "win.next-image", NULL);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->annotation_stack), ==, "empty");
  activate (window, "win.prev-image", NULL);
  g_assert_cmpstr (gtk_label_get_label (window->annotation_count_label), ==, "2 annotations");

  close_window (window);
}

/* ---- cancelling -------------------------------------------------------------------------- */

static QueryHold hold;

static void
test_cancel (void)
{
  RmWindow *window;

  if (!have_model ())
    return;

  window = open_window (model_dir);
  hold = (QueryHold){ 0 };
  rm_segmenter_set_test_hook (query_hold_hook, &hold);

  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), "the road");
  activate (window, "win.run-query", NULL);
  g_assert_true (rm_window_get_query_running (window));
  g_assert_true (wait_for (query_hold_reached, &hold, "the engine"));

  /* while the worker is held, the UI runs: progress, Cancel, and the main loop turns */
  g_assert_true (gtk_widget_get_visible (window->cancel_button));
  g_assert_false (gtk_widget_get_visible (window->segment_button));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->query_progress)));
  g_assert_false (action_enabled (window, "win.run-query"));
  g_assert_true (action_enabled (window, "win.cancel-query"));
  wait_for_frame (GTK_WIDGET (window));
  g_test_message ("progress: %s %.2f", gtk_progress_bar_get_text (window->query_progress),
                  gtk_progress_bar_get_fraction (window->query_progress));

  activate (window, "win.cancel-query", NULL); /* Esc */
  g_assert_nonnull (strstr (gtk_label_get_label (window->query_status_label), "Cancelling"));
  g_atomic_int_set (&hold.release, 1);
  g_assert_true (wait_for (query_finished, window, "the cancelled query"));
  rm_segmenter_set_test_hook (NULL, NULL);
  /* the abort flag stopped the engine at its next block: no stage ran after the cancel */
  g_assert_cmpint (g_atomic_int_get (&hold.calls_after_release), ==, 0);

  g_assert_null (rm_window_get_candidate (window));
  g_assert_cmpstr (gtk_label_get_label (window->query_status_label), ==, "Query cancelled.");
  g_assert_false (gtk_widget_get_visible (window->cancel_button));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->query_progress)));
  g_assert_true (action_enabled (window, "win.run-query"));
  g_assert_false (action_enabled (window, "win.cancel-query"));

  /* and the next query works */
  run_query (window, "the road");
  g_assert_nonnull (rm_window_get_candidate (window));

  close_window (window);
}

/* ---- a large image ---------------------------------------------------------------------- */

/* A 6000 x 4000 candidate: a frame draws the visible overlay tiles of the level that matches
 * the zoom, and a brush stroke remakes only the tiles it touched. */
static void
test_large_overlay (void)
{
  g_autoptr (GFile) folder = NULL;
  RmWindow *window = rm_window_new (app);
  RmCanvas *canvas = rm_window_get_canvas (window);
  const int width = 6000, height = 4000;
  g_autoptr (RmImagePyramid) pyramid = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GFile) file = g_file_new_for_path ("/nonexistent/large.png");
  g_autoptr (RmCandidate) candidate = NULL;
  g_autofree guint8 *mask = g_malloc0 ((gsize) width * height);
  guint8 *pixels = g_malloc ((gsize) width * height * 4);
  RmSegmentResult result = { 0 };
  guint uploads;
  gint64 start;
  double w, h;

  folder = g_file_new_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "sample", NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (wait_for (window_idle, window, "the sample images"));

  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      pixels[i * 4 + 0] = (guint8) (i / width);
      pixels[i * 4 + 1] = 90;
      pixels[i * 4 + 2] = 60;
      pixels[i * 4 + 3] = 255;
    }
  bytes = g_bytes_new_take (pixels, (gsize) width * height * 4);
  texture = gdk_memory_texture_new (width, height, GDK_MEMORY_DEFAULT, bytes, (gsize) width * 4);
  pyramid = rm_image_pyramid_new_for_texture (texture, RM_IMAGE_PYRAMID_TILE_SIZE);
  rm_canvas_set_image (canvas, pyramid);

  for (int y = 1000; y < 3000; y++)
    memset (mask + (gsize) y * width + 1500, 1, 3000);
  result.width = width;
  result.height = height;
  result.mask = mask;
  candidate = rm_candidate_new (file, "a large field", &result);
  rm_canvas_set_candidate (canvas, candidate);
  rm_canvas_set_tool (canvas, RM_CANVAS_TOOL_BRUSH);
  rm_canvas_set_brush_size (canvas, 40);
  w = gtk_widget_get_width (GTK_WIDGET (canvas));
  h = gtk_widget_get_height (GTK_WIDGET (canvas));

  start = g_get_monotonic_time ();
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("fit: %u overlay tiles drawn, %u made, first frame %.1f ms",
                  rm_canvas_get_n_drawn_overlay_tiles (canvas),
                  rm_canvas_get_n_overlay_uploads (canvas),
                  (g_get_monotonic_time () - start) / 1000.0);
  /* the mask's tiles of the level the image is drawn from, no more */
  g_assert_cmpuint (rm_canvas_get_n_drawn_overlay_tiles (canvas), >=, 1);
  g_assert_cmpuint (rm_canvas_get_n_drawn_overlay_tiles (canvas), <=,
                    rm_canvas_get_n_drawn_tiles (canvas));

  rm_canvas_zoom_at (canvas, 1.0, w / 2, h / 2, FALSE);
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("1:1: %u overlay tiles drawn", rm_canvas_get_n_drawn_overlay_tiles (canvas));
  g_assert_cmpuint (rm_canvas_get_n_drawn_overlay_tiles (canvas), <=, 9);

  /* a short stroke (the eraser, inside the field): a tile or two made again, not the mask */
  rm_canvas_set_tool (canvas, RM_CANVAS_TOOL_ERASER);
  uploads = rm_canvas_get_n_overlay_uploads (canvas);
  g_assert_true (rm_canvas_stroke_begin (canvas, w / 2 - 20, h / 2 - 20));
  rm_canvas_stroke_update (canvas, w / 2 - 10, h / 2 - 20);
  rm_canvas_stroke_end (canvas);
  start = g_get_monotonic_time ();
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("after a stroke: %u tiles made again, frame %.1f ms",
                  rm_canvas_get_n_overlay_uploads (canvas) - uploads,
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpuint (rm_canvas_get_n_overlay_uploads (canvas) - uploads, >=, 1);
  g_assert_cmpuint (rm_canvas_get_n_overlay_uploads (canvas) - uploads, <=, 4);

  /* panning makes only the tiles that come into view */
  uploads = rm_canvas_get_n_overlay_uploads (canvas);
  rm_canvas_pan (canvas, -30, 0);
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_cmpuint (rm_canvas_get_n_overlay_uploads (canvas) - uploads, <=, 3);

  rm_canvas_set_candidate (canvas, NULL);
  close_window (window);
}

/* ---- the screenshot ---------------------------------------------------------------------- */

static void
test_screenshot (void)
{
  RmWindow *window;
  RmCanvas *canvas;

  if (!have_model ())
    return;

  window = open_window (model_dir);
  canvas = rm_window_get_canvas (window);
  run_query (window, "the building on the left");
  g_assert_nonnull (rm_window_get_candidate (window));
  activate (window, "win.toggle-prior", NULL);
  activate (window, "win.tool", g_variant_new_string ("brush"));
  wait_for_frame (GTK_WIDGET (window));
  g_assert_true (rm_canvas_get_prior_drawn (canvas));
  save_window (window, "refmask-studio-annotate.png");

  /* the mask alone, zoomed in, for the outline */
  activate (window, "win.toggle-prior", NULL);
  rm_canvas_zoom_at (canvas, 3.0, gtk_widget_get_width (GTK_WIDGET (canvas)) / 2.0,
                     gtk_widget_get_height (GTK_WIDGET (canvas)) / 2.0, FALSE);
  wait_for_frame (GTK_WIDGET (window));
  save_window (window, "refmask-studio-annotate-zoom.png");

  /* accepted (in its own colour, listed in the panel) under a new candidate */
  activate (window, "win.zoom-fit", NULL);
  activate (window, "win.accept", NULL);
  run_query (window, "the road");
  wait_for_frame (GTK_WIDGET (window));
  save_window (window, "refmask-studio-annotate-accepted.png");

  close_window (window);
}

/* The bundled default model (data/model) in the studio, on the first sample image, as the
 * README's first command opens it: the candidate for the tile's water with the model's prior
 * over it, then accepted.
 * Keeps refmask-studio-default-model.png (the README's picture). */
static void
test_default_model (void)
{
  g_autofree char *dir = g_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "model", NULL);
  RmWindow *window = open_window (dir);
  RmCanvas *canvas = rm_window_get_canvas (window);
  RmCandidate *candidate;
  GListModel *annotations;

  gtk_window_set_default_size (GTK_WINDOW (window), 1240, 760);
  g_assert_true (window->model_loaded);
  g_assert_cmpuint (rm_window_get_selected (window), ==, 0);
  run_query (window, "all water areas");
  candidate = rm_window_get_candidate (window);
  g_assert_nonnull (candidate);
  g_assert_cmpint (rm_candidate_get_area (candidate), >, 0);
  activate (window, "win.toggle-prior", NULL);
  wait_for_frame (GTK_WIDGET (window));
  g_assert_true (rm_canvas_get_prior_drawn (canvas));
  save_window (window, "refmask-studio-default-model.png");

  activate (window, "win.accept", NULL);
  annotations = rm_window_get_annotations (window);
  g_assert_cmpuint (g_list_model_get_n_items (annotations), ==, 1);
  close_window (window);
}

/* The preferences' model folder row and the shortcuts window, kept as pictures too. */

static GtkWidget *
find_child (GtkWidget *widget, const char *buildable_id)
{
  if (GTK_IS_BUILDABLE (widget) &&
      g_strcmp0 (gtk_buildable_get_buildable_id (GTK_BUILDABLE (widget)), buildable_id) == 0)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_child (child, buildable_id);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
test_dialogs (void)
{
  GSettings *settings = rm_application_get_settings (app);
  RmWindow *window = open_window (NULL);
  GtkWindow *dialog;
  GtkWidget *clear;

  g_settings_set_string (settings, "model-dir", "/opt/models/refmask-small");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.preferences", NULL));
  dialog = find_toplevel (RM_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (dialog);
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-preferences.png");
  clear = find_child (GTK_WIDGET (dialog), "model_clear_button");
  g_assert_nonnull (clear);
  g_assert_true (gtk_widget_get_sensitive (clear));
  g_signal_emit_by_name (clear, "clicked");
  {
    g_autofree char *dir = g_settings_get_string (settings, "model-dir");

    g_assert_cmpstr (dir, ==, "");
  }
  g_assert_false (gtk_widget_get_sensitive (clear));
  gtk_window_destroy (dialog);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.shortcuts", NULL));
  dialog = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_nonnull (dialog);
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-shortcuts.png");
  gtk_window_close (dialog);

  g_settings_reset (settings, "model-dir");
  close_window (window);
}

/* The `device` setting reaches the segmenter; CUDA without a GPU fails the query with the
 * engine's reason (never a silent CPU run), and the preferences say so beforehand; back on the
 * CPU the next query works. */
static void
test_device_setting (void)
{
  GSettings *settings = rm_application_get_settings (app);
  RmWindow *window;
  GtkWindow *dialog;
  GtkDropDown *dropdown;
  GtkStringObject *cuda_item;

  if (!have_model ())
    return;

  window = open_window (model_dir);
  g_settings_set_string (settings, "device", "cuda");
  g_assert_cmpstr (rm_segmenter_get_device (rm_window_get_segmenter (window)), ==, "cuda");
  run_query (window, "the road");
  if (rm_cuda_device_count () == 0)
    {
      const char *status = gtk_label_get_label (window->query_status_label);

      g_test_message ("status: %s", status);
      g_assert_null (rm_window_get_candidate (window));
      g_assert_nonnull (strstr (status, "The query failed"));
      g_assert_nonnull (strstr (status, "cannot segment on cuda"));
    }
  else
    g_assert_nonnull (rm_window_get_candidate (window));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.preferences", NULL));
  dialog = find_toplevel (RM_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (dialog);
  dropdown = GTK_DROP_DOWN (find_child (GTK_WIDGET (dialog), "device_dropdown"));
  g_assert_cmpuint (gtk_drop_down_get_selected (dropdown), ==, 2);
  cuda_item = g_list_model_get_item (gtk_drop_down_get_model (dropdown), 2);
  g_assert_cmpint (strstr (gtk_string_object_get_string (cuda_item), "not available") != NULL, ==,
                   rm_cuda_device_count () == 0);
  g_object_unref (cuda_item);
  gtk_drop_down_set_selected (dropdown, 1); /* CPU, through the preferences */
  gtk_window_destroy (dialog);

  g_assert_cmpstr (rm_segmenter_get_device (rm_window_get_segmenter (window)), ==, "cpu");
  run_query (window, "the road");
  g_assert_nonnull (rm_window_get_candidate (window));

  g_settings_reset (settings, "device");
  close_window (window);
}

/* --model (app.load-model): the window loads that folder, whatever the setting says. */
static void
test_load_model_action (void)
{
  RmWindow *window;

  if (!have_model ())
    return;

  window = open_window (NULL);
  g_action_group_activate_action (G_ACTION_GROUP (app), "load-model",
                                  g_variant_new_string (model_dir));
  g_assert_cmpstr (rm_application_get_model_dir (app), ==, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model from --model"));
  g_assert_true (window->model_loaded);
  close_window (window);
}

/* ---- setup ------------------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  scratch_dir = gui_test_scratch_dir ("annotate");
  model_dir = make_model_dir (scratch_dir);

  app = gui_test_app_new ();

  g_test_add_func ("/annotate/bad-model", test_bad_model);
  g_test_add_func ("/annotate/model-setting", test_model_setting);
  g_test_add_func ("/annotate/dialogs", test_dialogs);
  g_test_add_func ("/annotate/query-and-edit", test_query_and_edit);
  g_test_add_func ("/annotate/cancel", test_cancel);
  g_test_add_func ("/annotate/device-setting", test_device_setting);
  g_test_add_func ("/annotate/large-overlay", test_large_overlay);
  g_test_add_func ("/annotate/screenshot", test_screenshot);
  g_test_add_func ("/annotate/default-model", test_default_model);
  g_test_add_func ("/annotate/load-model-action", test_load_model_action); /* sets --model */

  status = g_test_run ();

  g_clear_pointer (&app, gui_test_app_free);
  rm_remove_tree (scratch_dir);
  g_free (scratch_dir);
  g_free (model_dir);

  return status;
}
