/* test-workflow.c: polygons, the annotations panel, batch labelling, the review and fine-tuning in
 * the real window, under Xvfb
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A model folder is made from the golden set with `refmask model-init` (REFMASK_EXE,
 * REFMASK_SHARED_DIR), as in test-annotate.c; the window shows data/sample (4 images). Checks:
 * the polygon tool adds and removes areas as undo steps, and Esc, Backspace and Ctrl+Z act on
 * the polygon being drawn; the annotations panel's selection, status, expression and deletion,
 * each undone and redone; batch labelling over the 4 images makes 4 candidates, and Stop keeps
 * what was done; the review steps through them across images (accept, reject, undo, correct);
 * fine-tuning a tiny run reaches the end with metrics before and after and a new model version
 * that the window switches to and rolls back from, and stopping a run keeps a checkpoint.
 * Keeps refmask-studio-{polygon,review,batch,finetune,finetune-setup,models}.png in this build
 * folder.
 */

#include <gtk/gtk.h>

#include "gui-test-util.h"
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "rm-annotation-row.h"
#include "rm-annotation.h"
#include "rm-application.h"
#include "rm-batch-dialog.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-finetune-dialog.h"
#include "rm-image-item.h"
#include "rm-loss-curve.h"
#include "rm-model-version.h"
#include "rm-project.h"
#include "rm-review-queue.h"
#include "rm-segmenter.h"
#include "rm-window-private.h"

static RmApplication *app;
static char *model_dir;   /* made from the golden set */
static char *scratch_dir; /* models made by fine-tuning */

/* ---- helpers ----------------------------------------------------------------------------- */

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, const char *what)
{
  return gui_wait_for (done, data, what, 60);
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

static RmWindow *
open_window (void)
{
  g_autoptr (GFile) folder = NULL;
  RmWindow *window = rm_window_new (app);

  folder = g_file_new_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "sample", NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 760);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (wait_for (window_idle, window, "the sample images"));
  rm_window_load_model (window, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model"));
  g_assert_true (window->model_loaded);

  return window;
}

static void
close_window (RmWindow *window)
{
  gpointer weak_window = window;

  g_object_add_weak_pointer (G_OBJECT (window), &weak_window);
  gtk_window_destroy (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_true (wait_for (is_null, &weak_window, "the window to be finalized"));
}

static void
select_image (RmWindow *window, guint position)
{
  rm_window_select_image (window, position);
  g_assert_true (wait_for (window_idle, window, "the image"));
}

static void
run_query (RmWindow *window, const char *expression)
{
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), expression);
  activate (window, "win.run-query", NULL);
  g_assert_true (rm_window_get_query_running (window));
  g_assert_true (wait_for (query_finished, window, "the query"));
  g_assert_nonnull (rm_window_get_candidate (window));
}

/* The candidate's mask under a widget point of the canvas. */
static guint8
mask_at (RmWindow *window, double wx, double wy)
{
  RmCandidate *candidate = rm_window_get_candidate (window);
  double ix, iy;

  rm_canvas_widget_to_image (rm_window_get_canvas (window), wx, wy, &ix, &iy);

  return rm_candidate_get_mask (
      candidate)[(int) iy * rm_candidate_get_width (candidate) + (int) ix];
}

static RmAnnotation *
get_annotation (RmWindow *window, guint i)
{
  RmAnnotation *annotation = g_list_model_get_item (rm_window_get_annotations (window), i);

  g_object_unref (annotation); /* the window's list holds it */

  return annotation;
}

static guint
image_position (RmWindow *window, GFile *file)
{
  GListModel *images = rm_window_get_images (window);

  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      if (g_file_equal (rm_image_item_get_file (item), file))
        return i;
    }

  return G_MAXUINT;
}

static void
count_signal (RmWindow *window, RmAnnotation *annotation, guint *n)
{
  (*n)++;
}

/* ---- accelerators ------------------------------------------------------------------------ */

static void
test_accelerators (void)
{
  static const struct
  {
    const char *action;
    const char *accel;
  } expected[] = {
    { "win.delete-annotation", "<Shift>Delete" }, { "win.edit-expression", "F2" },
    { "win.edit-annotation", "<Control>m" },      { "win.review", "<Control>r" },
    { "win.review-next", "<Alt>Right" },          { "win.review-prev", "<Alt>Left" },
    { "win.batch-label", "<Control>b" },          { "win.fine-tune", "<Control>t" },
  };
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) actions = gtk_application_list_action_descriptions (GTK_APPLICATION (app));

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_auto (GStrv) accels =
          gtk_application_get_accels_for_action (GTK_APPLICATION (app), expected[i].action);

      g_assert_true (g_strv_contains ((const char *const *) accels, expected[i].accel));
    }

  /* no accelerator is given to two actions */
  for (guint i = 0; actions[i] != NULL; i++)
    {
      g_auto (GStrv) accels =
          gtk_application_get_accels_for_action (GTK_APPLICATION (app), actions[i]);

      for (guint k = 0; accels[k] != NULL; k++)
        {
          const char *other = g_hash_table_lookup (seen, accels[k]);

          if (other != NULL)
            g_error ("%s is the accelerator of both %s and %s", accels[k], other, actions[i]);
          g_hash_table_insert (seen, g_strdup (accels[k]), g_strdup (actions[i]));
        }
    }
}

/* ---- polygons ---------------------------------------------------------------------------- */

static void
test_polygon (void)
{
  RmWindow *window;
  RmCanvas *canvas;
  RmCandidate *candidate;
  g_autofree guint8 *model_mask = NULL;
  g_autofree guint8 *added = NULL;
  gint64 area0, area1, area2;
  double w, h;

  if (!have_model ())
    return;

  window = open_window ();
  canvas = rm_window_get_canvas (window);
  run_query (window, "the large building");
  candidate = rm_window_get_candidate (window);
  model_mask = copy_mask (candidate);
  area0 = rm_candidate_get_area (candidate);
  wait_for_frame (GTK_WIDGET (window)); /* the edit bar is in: the canvas has its size */
  w = gtk_widget_get_width (GTK_WIDGET (canvas));
  h = gtk_widget_get_height (GTK_WIDGET (canvas));

  /* clicks add corners; a second click on the last corner in time closes the polygon */
  activate (window, "win.tool", g_variant_new_string ("polygon"));
  g_assert_cmpint (rm_canvas_get_tool (canvas), ==, RM_CANVAS_TOOL_POLYGON);
  g_assert_false (rm_canvas_get_polygon_subtracts (canvas));
  g_assert_false (action_enabled (window, "win.cancel-query"));
  rm_canvas_polygon_click (canvas, w * 0.30, h * 0.30, 1000, 0);
  rm_canvas_polygon_click (canvas, w * 0.45, h * 0.30, 2000, 0);
  rm_canvas_polygon_click (canvas, w * 0.45, h * 0.45, 3000, 0);
  rm_canvas_polygon_click (canvas, w * 0.30, h * 0.45, 4000, 0);
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 4);
  g_assert_true (action_enabled (window, "win.cancel-query")); /* Esc cancels it */
  g_assert_true (mask_equals (candidate, model_mask));         /* nothing yet */
  wait_for_frame (GTK_WIDGET (canvas));
  save_window (window, "refmask-studio-polygon.png");
  rm_canvas_polygon_click (canvas, w * 0.30, h * 0.45, 4150, 0); /* the double click */
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 0);
  area1 = rm_candidate_get_area (candidate);
  g_test_message ("polygon: area %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT, area0, area1);
  g_assert_cmpint (area1, >, area0);
  g_assert_cmpint (mask_at (window, w * 0.37, h * 0.37), ==, 1);
  g_assert_cmpint (mask_at (window, w * 0.31, h * 0.44), ==, 1);
  added = copy_mask (candidate);

  /* one step: undo and redo are exact */
  g_assert_true (action_enabled (window, "win.undo"));
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, model_mask));
  activate (window, "win.redo", NULL);
  g_assert_true (mask_equals (candidate, added));

  /* the cut tool removes; Enter on the canvas closes (canvas.polygon-close) */
  activate (window, "win.tool", g_variant_new_string ("polygon-erase"));
  g_assert_true (rm_canvas_get_polygon_subtracts (canvas));
  g_assert_true (rm_canvas_polygon_add_point (canvas, w * 0.33, h * 0.33));
  g_assert_true (rm_canvas_polygon_add_point (canvas, w * 0.40, h * 0.33));
  g_assert_true (rm_canvas_polygon_add_point (canvas, w * 0.40, h * 0.40));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.polygon-close", NULL));
  area2 = rm_candidate_get_area (candidate);
  g_assert_cmpint (area2, <, area1);
  g_assert_cmpint (mask_at (window, w * 0.39, h * 0.35), ==, 0);
  g_assert_cmpint (mask_at (window, w * 0.31, h * 0.44), ==, 1);

  /* Ctrl on the first corner: the other way round */
  activate (window, "win.tool", g_variant_new_string ("polygon"));
  rm_canvas_polygon_click (canvas, w * 0.31, h * 0.31, 10000, GDK_CONTROL_MASK);
  g_assert_true (rm_canvas_get_polygon_subtracts (canvas));
  rm_canvas_polygon_click (canvas, w * 0.44, h * 0.31, 11000, 0);
  rm_canvas_polygon_click (canvas, w * 0.44, h * 0.44, 12000, 0);
  g_assert_true (rm_canvas_polygon_close (canvas));
  g_assert_false (rm_canvas_get_polygon_subtracts (canvas));
  g_assert_cmpint (mask_at (window, w * 0.42, h * 0.34), ==, 0);

  /* Esc cancels the polygon (not the query); Backspace and Ctrl+Z take corners back */
  rm_canvas_polygon_add_point (canvas, w * 0.1, h * 0.1);
  rm_canvas_polygon_add_point (canvas, w * 0.2, h * 0.1);
  activate (window, "win.cancel-query", NULL);
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 0);
  rm_canvas_polygon_add_point (canvas, w * 0.1, h * 0.1);
  rm_canvas_polygon_add_point (canvas, w * 0.2, h * 0.1);
  rm_canvas_polygon_add_point (canvas, w * 0.2, h * 0.2);
  g_assert_true (
      gtk_widget_activate_action (GTK_WIDGET (canvas), "canvas.polygon-remove-point", NULL));
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 2);
  activate (window, "win.undo", NULL);
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 1);
  /* two corners are no polygon: closing changes nothing */
  rm_canvas_polygon_add_point (canvas, w * 0.2, h * 0.1);
  g_assert_false (rm_canvas_polygon_close (canvas));

  /* another tool drops a polygon being drawn */
  rm_canvas_polygon_add_point (canvas, w * 0.1, h * 0.1);
  activate (window, "win.tool", g_variant_new_string ("brush"));
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 0);

  /* back to the model's mask, step by step */
  activate (window, "win.undo", NULL);
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, added));
  activate (window, "win.undo", NULL);
  g_assert_true (mask_equals (candidate, model_mask));
  g_assert_false (action_enabled (window, "win.undo"));

  close_window (window);
}

/* ---- the annotations panel --------------------------------------------------------------- */

static void
test_panel (void)
{
  RmWindow *window;
  RmAnnotation *building, *water;
  RmAnnotationRow *row;
  guint n_added = 0, n_removed = 0;

  if (!have_model ())
    return;

  window = open_window ();
  g_signal_connect (window, "annotation-added", G_CALLBACK (count_signal), &n_added);
  g_signal_connect (window, "annotation-removed", G_CALLBACK (count_signal), &n_removed);
  run_query (window, "the large building");
  activate (window, "win.accept", NULL);
  run_query (window, "water");
  activate (window, "win.reject", NULL);
  building = get_annotation (window, 0);
  water = get_annotation (window, 1);
  g_assert_cmpuint (n_added, ==, 2);

  /* nothing selected: the keys have nothing to act on */
  g_assert_null (_rm_window_get_selected_annotation (window));
  g_assert_false (action_enabled (window, "win.accept"));
  g_assert_false (action_enabled (window, "win.delete-annotation"));

  /* selecting shows its mask, whatever its status */
  gtk_single_selection_set_selected (window->annotation_selection, 1);
  wait_for_frame (GTK_WIDGET (window)); /* the panel's rows are made */
  g_assert_true (_rm_window_get_selected_annotation (window) == water);
  g_assert_true (rm_canvas_get_highlight (rm_window_get_canvas (window)) == water);
  wait_for_frame (GTK_WIDGET (window));
  g_assert_true (rm_canvas_get_highlight_drawn (rm_window_get_canvas (window)));
  g_assert_true (action_enabled (window, "win.accept"));

  /* status from the row's menu (row.status), then with the candidate's key; each undone */
  row = g_hash_table_lookup (window->annotation_rows, water);
  g_assert_nonnull (row);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "row.status", "s", "accepted"));
  g_assert_cmpint (rm_annotation_get_status (water), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  activate (window, "win.reject", NULL); /* Delete */
  g_assert_cmpint (rm_annotation_get_status (water), ==, RM_ANNOTATION_STATUS_REJECTED);
  activate (window, "win.undo", NULL);
  g_assert_cmpint (rm_annotation_get_status (water), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  activate (window, "win.undo", NULL);
  g_assert_cmpint (rm_annotation_get_status (water), ==, RM_ANNOTATION_STATUS_REJECTED);
  activate (window, "win.redo", NULL);
  g_assert_cmpint (rm_annotation_get_status (water), ==, RM_ANNOTATION_STATUS_ACCEPTED);

  /* the expression, edited in place (F2); an empty edit changes nothing */
  gtk_single_selection_set_selected (window->annotation_selection, 0);
  activate (window, "win.edit-expression", NULL);
  row = g_hash_table_lookup (window->annotation_rows, building);
  g_assert_true (rm_annotation_row_get_editing (row));
  wait_for_frame (GTK_WIDGET (window));
  rm_annotation_row_finish_editing (row, "the big grey building ");
  g_assert_false (rm_annotation_row_get_editing (row));
  g_assert_cmpstr (rm_annotation_get_expression (building), ==, "the big grey building");
  rm_annotation_row_start_editing (row);
  rm_annotation_row_finish_editing (row, "  ");
  g_assert_cmpstr (rm_annotation_get_expression (building), ==, "the big grey building");
  activate (window, "win.undo", NULL);
  g_assert_cmpstr (rm_annotation_get_expression (building), ==, "the large building");
  activate (window, "win.redo", NULL);
  g_assert_cmpstr (rm_annotation_get_expression (building), ==, "the big grey building");

  /* delete (Shift+Delete), undo puts it back where it was, redo takes it again */
  activate (window, "win.delete-annotation", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);
  g_assert_cmpuint (n_removed, ==, 1);
  g_assert_cmpstr (gtk_label_get_label (window->annotation_count_label), ==, "1 annotation");
  g_assert_null (rm_canvas_get_highlight (rm_window_get_canvas (window)));
  activate (window, "win.undo", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 2);
  g_assert_true (get_annotation (window, 0) == building);
  g_assert_true (_rm_window_get_selected_annotation (window) == building);
  g_assert_cmpuint (n_added, ==, 3); /* told again: a store puts it back */
  activate (window, "win.redo", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);
  g_assert_cmpuint (n_removed, ==, 2);

  /* undone changes show their annotation, on its image */
  select_image (window, 2);
  activate (window, "win.undo", NULL); /* the deletion */
  g_assert_cmpuint (rm_window_get_selected (window), ==, 0);
  g_assert_true (_rm_window_get_selected_annotation (window) == building);

  /* the row's menu deletes too */
  row = g_hash_table_lookup (window->annotation_rows, water);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "row.delete", NULL));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);

  close_window (window);
}

/* ---- batch labelling and the review ------------------------------------------------------ */

static gboolean
batch_finished (gpointer data)
{
  return !rm_batch_dialog_get_running (data);
}

static RmBatchDialog *
open_batch_dialog (RmWindow *window)
{
  activate (window, "win.batch-label", NULL);
  g_assert_nonnull (window->batch_dialog);

  return RM_BATCH_DIALOG (window->batch_dialog);
}

static const char *
counter (RmWindow *window)
{
  return gtk_label_get_label (window->review_counter_label);
}

static RmAnnotation *
reviewed (RmWindow *window)
{
  return rm_review_queue_get_current (window->review);
}

/* The review shows @annotation: its image in the sidebar, the annotation in the panel. */
static void
check_shown (RmWindow *window, RmAnnotation *annotation)
{
  g_assert_true (reviewed (window) == annotation);
  g_assert_cmpuint (rm_window_get_selected (window), ==,
                    image_position (window, rm_annotation_get_image (annotation)));
  g_assert_true (_rm_window_get_selected_annotation (window) == annotation);
  g_assert_true (wait_for (window_idle, window, "the reviewed image"));
}

static void
test_batch_and_review (void)
{
  RmWindow *window;
  RmBatchDialog *dialog;
  RmAnnotation *items[4];
  RmCanvas *canvas;
  g_autoptr (GHashTable) images = g_hash_table_new (g_file_hash, (GEqualFunc) g_file_equal);
  gint64 area;
  double w, h;

  if (!have_model ())
    return;

  window = open_window ();
  canvas = rm_window_get_canvas (window);
  g_assert_false (action_enabled (window, "win.review"));
  dialog = open_batch_dialog (window);
  wait_for_frame (GTK_WIDGET (dialog));
  g_assert_false (rm_batch_dialog_start (dialog)); /* no expression yet */
  rm_batch_dialog_set_expression (dialog, "all buildings");
  rm_batch_dialog_set_all_images (dialog, FALSE);
  g_assert_cmpuint (rm_batch_dialog_get_n_chosen (dialog), ==, 1); /* the selected image */
  rm_batch_dialog_set_all_images (dialog, TRUE);
  g_assert_cmpuint (rm_batch_dialog_get_n_chosen (dialog), ==, 4);
  g_assert_true (rm_batch_dialog_start (dialog));
  g_assert_true (rm_batch_dialog_get_running (dialog));
  g_assert_true (wait_for (batch_finished, dialog, "the batch"));
  g_assert_false (rm_batch_dialog_get_cancelled (dialog));
  g_assert_cmpuint (rm_batch_dialog_get_n_made (dialog), ==, 4);
  g_assert_cmpuint (rm_batch_dialog_get_n_failed (dialog), ==, 0);
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-batch.png");

  /* 4 candidates, one on each image, from the model */
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      RmAnnotation *a = get_annotation (window, i);
      int size = 0;

      g_assert_cmpint (rm_annotation_get_status (a), ==, RM_ANNOTATION_STATUS_CANDIDATE);
      g_assert_cmpint (rm_annotation_get_source (a), ==, RM_ANNOTATION_SOURCE_MODEL);
      g_assert_cmpstr (rm_annotation_get_expression (a), ==, "all buildings");
      g_assert_cmpstr (rm_annotation_get_model (a), ==, model_dir);
      g_assert_nonnull (rm_annotation_get_prior (a, &size));
      g_hash_table_add (images, rm_annotation_get_image (a));
    }
  g_assert_cmpuint (g_hash_table_size (images), ==, 4);
  g_assert_true (action_enabled (window, "win.review"));

  /* "Review Candidates": the review starts at the first image's candidate */
  rm_batch_dialog_review (dialog); /* its "Review Candidates" */
  g_assert_null (window->batch_dialog);
  g_assert_true (window->reviewing);
  g_assert_true (gtk_revealer_get_reveal_child (window->review_bar));
  for (guint i = 0; i < 4; i++)
    items[i] = rm_review_queue_get_item (window->review, i);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (image_position (window, rm_annotation_get_image (items[i])), ==, i);
  g_assert_cmpstr (counter (window), ==, "1 of 4");
  check_shown (window, items[0]);

  /* stepping, across images */
  activate (window, "win.review-next", NULL); /* Alt+Right */
  g_assert_cmpstr (counter (window), ==, "2 of 4");
  check_shown (window, items[1]);
  g_assert_true (action_enabled (window, "win.review-prev"));
  activate (window, "win.review-prev", NULL); /* Alt+Left */
  g_assert_cmpstr (counter (window), ==, "1 of 4");
  check_shown (window, items[0]);
  g_assert_false (action_enabled (window, "win.review-prev"));

  /* accept and reject move on; undo comes back */
  activate (window, "win.accept", NULL);
  g_assert_cmpint (rm_annotation_get_status (items[0]), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpstr (counter (window), ==, "2 of 4");
  check_shown (window, items[1]);
  activate (window, "win.reject", NULL);
  g_assert_cmpint (rm_annotation_get_status (items[1]), ==, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_cmpstr (counter (window), ==, "3 of 4");
  check_shown (window, items[2]);
  wait_for_frame (GTK_WIDGET (window));
  g_assert_true (rm_canvas_get_highlight (canvas) == items[2]);
  g_assert_true (rm_canvas_get_highlight_drawn (canvas)); /* its mask, over the image */
  save_window (window, "refmask-studio-review.png");
  activate (window, "win.undo", NULL);
  g_assert_cmpint (rm_annotation_get_status (items[1]), ==, RM_ANNOTATION_STATUS_CANDIDATE);
  g_assert_cmpstr (counter (window), ==, "2 of 4");
  check_shown (window, items[1]);

  /* correct it (Ctrl+M): the annotation becomes the candidate; accepting updates it */
  activate (window, "win.edit-annotation", NULL);
  g_assert_nonnull (rm_window_get_candidate (window));
  g_assert_true (rm_candidate_get_origin (rm_window_get_candidate (window)) == items[1]);
  wait_for_frame (GTK_WIDGET (window));
  g_assert_cmpint (rm_canvas_get_tool (canvas), ==, RM_CANVAS_TOOL_BRUSH);
  g_assert_false (action_enabled (window, "win.edit-annotation"));
  w = gtk_widget_get_width (GTK_WIDGET (canvas));
  h = gtk_widget_get_height (GTK_WIDGET (canvas));
  gtk_adjustment_set_value (window->brush_adjustment, 40);
  g_assert_true (rm_canvas_stroke_begin (canvas, w * 0.2, h * 0.5));
  rm_canvas_stroke_update (canvas, w * 0.8, h * 0.5);
  rm_canvas_stroke_end (canvas);
  area = rm_candidate_get_area (rm_window_get_candidate (window));
  g_assert_cmpint (area, >, rm_annotation_get_area (items[1]));
  wait_for_frame (GTK_WIDGET (window));
  activate (window, "win.accept", NULL);
  g_assert_null (rm_window_get_candidate (window));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 4);
  g_assert_cmpint (rm_annotation_get_status (items[1]), ==, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_cmpint (rm_annotation_get_source (items[1]), ==, RM_ANNOTATION_SOURCE_MODEL_CORRECTED);
  g_assert_cmpint (rm_annotation_get_area (items[1]), ==, area);
  g_assert_cmpstr (counter (window), ==, "3 of 4");
  check_shown (window, items[2]);
  /* one step undoes the correction and the decision together */
  activate (window, "win.undo", NULL);
  g_assert_cmpint (rm_annotation_get_status (items[1]), ==, RM_ANNOTATION_STATUS_CANDIDATE);
  g_assert_cmpint (rm_annotation_get_source (items[1]), ==, RM_ANNOTATION_SOURCE_MODEL);
  g_assert_cmpint (rm_annotation_get_area (items[1]), <, area);
  activate (window, "win.redo", NULL);
  g_assert_cmpint (rm_annotation_get_area (items[1]), ==, area);
  g_assert_cmpstr (counter (window), ==, "2 of 4"); /* the review went back to what changed */
  activate (window, "win.review-next", NULL);
  check_shown (window, items[2]);

  /* a correction left by moving on is kept in the annotation, which stays to decide */
  activate (window, "win.edit-annotation", NULL);
  wait_for_frame (GTK_WIDGET (window));
  g_assert_true (rm_canvas_stroke_begin (canvas, w * 0.3, h * 0.3));
  rm_canvas_stroke_update (canvas, w * 0.7, h * 0.3);
  rm_canvas_stroke_end (canvas);
  area = rm_candidate_get_area (rm_window_get_candidate (window));
  activate (window, "win.review-next", NULL);
  g_assert_null (rm_window_get_candidate (window));
  g_assert_cmpstr (counter (window), ==, "4 of 4");
  g_assert_cmpint (rm_annotation_get_area (items[2]), ==, area);
  g_assert_cmpint (rm_annotation_get_status (items[2]), ==, RM_ANNOTATION_STATUS_CANDIDATE);
  g_assert_cmpint (rm_annotation_get_source (items[2]), ==, RM_ANNOTATION_SOURCE_MODEL_CORRECTED);
  activate (window, "win.undo", NULL); /* and that is one step too */
  g_assert_cmpint (rm_annotation_get_source (items[2]), ==, RM_ANNOTATION_SOURCE_MODEL);
  g_assert_cmpstr (counter (window), ==, "3 of 4");
  check_shown (window, items[2]);

  /* the end of the queue; the last decisions go round to what is left */
  activate (window, "win.review-next", NULL);
  activate (window, "win.review-next", NULL);
  g_assert_cmpstr (counter (window), ==, "4 of 4");
  g_assert_false (action_enabled (window, "win.review-next"));
  activate (window, "win.accept", NULL);
  g_assert_cmpstr (counter (window), ==, "3 of 4");
  activate (window, "win.reject", NULL);
  g_assert_cmpint (rm_annotation_get_status (items[2]), ==, RM_ANNOTATION_STATUS_REJECTED);
  g_assert_cmpuint (rm_review_queue_get_n_pending (window->review), ==, 0);
  g_assert_nonnull (strstr (gtk_label_get_label (window->query_status_label), "reviewed"));
  g_assert_false (action_enabled (window, "win.review"));

  activate (window, "win.review-stop", NULL);
  g_assert_false (window->reviewing);
  g_assert_false (gtk_revealer_get_reveal_child (window->review_bar));

  close_window (window);
}

/* ---- stopping a batch -------------------------------------------------------------------- */

static gint hook_n_images;
static gint hook_reached;
static gint hook_release;

/* Lets the first image through, then holds the worker at the second's first engine stage. */
static void
blocking_hook (const char *stage, double fraction, gpointer user_data)
{
  gint64 deadline;

  if (g_str_equal (stage, "decode"))
    {
      if (fraction == 0)
        g_atomic_int_inc (&hook_n_images);
      return;
    }
  if (g_atomic_int_get (&hook_n_images) != 2 || g_atomic_int_get (&hook_reached))
    return;
  g_atomic_int_set (&hook_reached, 1);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&hook_release) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

static gboolean
hook_was_reached (gpointer data)
{
  return g_atomic_int_get (&hook_reached) != 0;
}

static gboolean
one_made (gpointer data)
{
  return rm_batch_dialog_get_n_made (data) == 1;
}

static void
test_batch_cancel (void)
{
  RmWindow *window;
  RmBatchDialog *dialog;
  gpointer weak_dialog;

  if (!have_model ())
    return;

  window = open_window ();
  g_atomic_int_set (&hook_n_images, 0);
  g_atomic_int_set (&hook_reached, 0);
  g_atomic_int_set (&hook_release, 0);
  rm_segmenter_set_test_hook (blocking_hook, NULL);

  dialog = open_batch_dialog (window);
  rm_batch_dialog_set_expression (dialog, "the road");
  rm_batch_dialog_set_all_images (dialog, TRUE);
  g_assert_true (rm_batch_dialog_start (dialog));
  g_assert_true (wait_for (hook_was_reached, NULL, "the second image"));
  /* the first image's candidate is in while the second runs */
  g_assert_true (wait_for (one_made, dialog, "the first candidate"));
  wait_for_frame (GTK_WIDGET (dialog));
  g_assert_true (rm_batch_dialog_get_running (dialog));
  g_assert_nonnull (strstr (
      gtk_progress_bar_get_text (GTK_PROGRESS_BAR (rm_batch_dialog_get_progress_bar (dialog))),
      "Image 2 of 4"));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);

  rm_batch_dialog_cancel (dialog);
  g_atomic_int_set (&hook_release, 1);
  g_assert_true (wait_for (batch_finished, dialog, "the stopped batch"));
  rm_segmenter_set_test_hook (NULL, NULL);
  g_assert_true (rm_batch_dialog_get_cancelled (dialog));
  g_assert_cmpuint (rm_batch_dialog_get_n_made (dialog), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);

  /* and it runs again; closing while it runs stops it first */
  rm_batch_dialog_set_all_images (dialog, FALSE);
  g_assert_true (rm_batch_dialog_start (dialog));
  weak_dialog = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), &weak_dialog);
  gtk_window_close (GTK_WINDOW (dialog));
  g_assert_true (wait_for (is_null, &weak_dialog, "the dialog to go"));
  g_assert_null (window->batch_dialog);

  close_window (window);
}

/* ---- fine-tuning ------------------------------------------------------------------------- */

static gboolean
training_finished (gpointer data)
{
  return rm_finetune_dialog_get_finished (data, NULL);
}

static gboolean
first_step_done (gpointer data)
{
  return rm_finetune_dialog_get_steps_done (data) >= 1 ||
         rm_finetune_dialog_get_finished (data, NULL);
}

static RmFinetuneDialog *
open_finetune_dialog (RmWindow *window)
{
  RmFinetuneDialog *dialog;

  activate (window, "win.fine-tune", NULL);
  g_assert_nonnull (window->finetune_dialog);
  dialog = RM_FINETUNE_DIALOG (window->finetune_dialog);
  rm_finetune_dialog_set_output_folder (dialog, scratch_dir);

  return dialog;
}

static guint
count_tmp_data (void)
{
  g_autoptr (GDir) dir = g_dir_open (g_get_tmp_dir (), 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    n += g_str_has_prefix (name, "refmask-finetune-");

  return n;
}

static gboolean
has_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static void
test_finetune (void)
{
  RmWindow *window;
  RmFinetuneDialog *dialog;
  RmMetricsSummary before, after;
  RmModelVersion *version;
  g_autofree char *new_dir = NULL;
  gboolean cancelled = TRUE;
  guint n_train, n_val, n_tmp;
  gpointer weak_dialog;

  if (!have_model ())
    return;

  /* two accepted annotations, on two images */
  window = open_window ();
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_model_versions (window)), ==, 1);
  run_query (window, "the large building");
  activate (window, "win.accept", NULL);
  select_image (window, 1);
  run_query (window, "the road");
  activate (window, "win.accept", NULL);
  n_tmp = count_tmp_data ();

  dialog = open_finetune_dialog (window);
  wait_for_frame (GTK_WIDGET (dialog));
  /* the official recipe's rates; accumulation and steps (about two epochs) follow the data */
  g_assert_cmpfloat_with_epsilon (rm_finetune_dialog_get_lr (dialog), 5e-5, 1e-9);
  g_assert_cmpfloat_with_epsilon (rm_finetune_dialog_get_lr_bifit (dialog), 1e-4, 1e-9);
  rm_finetune_dialog_set_validation (dialog, RM_FINETUNE_VALIDATION_NONE, 0);
  rm_finetune_dialog_get_split (dialog, &n_train, &n_val);
  g_assert_cmpuint (n_train, ==, 2);
  g_assert_cmpuint (n_val, ==, 0);
  g_assert_cmpint (rm_finetune_dialog_get_accum (dialog), ==, 2);
  g_assert_cmpint (rm_finetune_dialog_get_steps (dialog), ==, 2);
  rm_finetune_dialog_set_validation (dialog, RM_FINETUNE_VALIDATION_FRACTION, 0.5);
  rm_finetune_dialog_get_split (dialog, &n_train, &n_val);
  g_assert_cmpuint (n_train, ==, 1);
  g_assert_cmpuint (n_val, ==, 1);
  g_assert_cmpint (rm_finetune_dialog_get_accum (dialog), ==, 1);
  g_assert_cmpint (rm_finetune_dialog_get_steps (dialog), ==, 2);
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-finetune-setup.png");

  /* a tiny run: 3 steps of 1 expression, validated on the other image before and after */
  rm_finetune_dialog_set_steps (dialog, 3);
  rm_finetune_dialog_set_accum (dialog, 1);
  g_assert_true (rm_finetune_dialog_start (dialog));
  g_assert_true (rm_finetune_dialog_get_running (dialog));
  g_assert_true (wait_for (training_finished, dialog, "the training"));
  g_assert_true (rm_finetune_dialog_get_finished (dialog, &cancelled));
  g_assert_false (cancelled);
  g_assert_cmpint (rm_finetune_dialog_get_steps_done (dialog), ==, 3);
  g_assert_true (rm_finetune_dialog_get_validation (dialog, &before, &after));
  g_test_message ("validation mIoU %.4f -> %.4f", before.miou, after.miou);
  g_assert_cmpint (before.n, ==, 1);
  g_assert_cmpint (after.n, ==, 1);
  wait_for_frame (GTK_WIDGET (dialog));
  {
    RmLossCurve *curve = rm_finetune_dialog_get_loss_curve (dialog);

    g_assert_cmpuint (rm_loss_curve_get_n_points (curve), ==, 3);
    g_assert_cmpuint (rm_loss_curve_get_n_drawn (curve), ==, 3);
    g_assert_true (isfinite (rm_loss_curve_get_smoothed (curve)));
  }
  save_window (dialog, "refmask-studio-finetune.png");
  g_assert_cmpuint (count_tmp_data (), ==, n_tmp); /* the data folder is gone */

  /* the new model: a folder the engine loads, and a version in the switcher */
  version = rm_finetune_dialog_get_new_version (dialog);
  g_assert_nonnull (version);
  new_dir = g_strdup (rm_model_version_get_dir (version));
  g_assert_true (g_str_has_prefix (new_dir, scratch_dir));
  g_assert_true (has_file (new_dir, "config.json"));
  g_assert_true (has_file (new_dir, "model.safetensors"));
  g_assert_cmpstr (rm_model_version_get_parent_dir (version), ==, model_dir);
  g_assert_true (rm_model_version_get_complete (version));
  g_assert_cmpint (rm_model_version_get_steps (version), ==, 3);
  g_assert_true (rm_model_version_get_validation (version, NULL, NULL));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_model_versions (window)), ==, 2);
  g_assert_cmpuint (g_menu_model_get_n_items (G_MENU_MODEL (window->version_menu)), ==, 2);
  {
    g_autoptr (GMenuModel) versions =
        g_menu_model_get_item_link (G_MENU_MODEL (window->version_menu), 0, G_MENU_LINK_SECTION);

    g_assert_cmpint (g_menu_model_get_n_items (versions), ==, 2);
  }

  /* use it; roll back */
  weak_dialog = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), &weak_dialog);
  g_assert_true (rm_finetune_dialog_use_new_model (dialog));
  g_assert_true (wait_for (model_settled, window, "the new model"));
  g_assert_true (window->model_loaded);
  g_assert_cmpstr (rm_segmenter_get_model_dir (rm_window_get_segmenter (window)), ==, new_dir);
  g_assert_true (rm_window_get_model_version (window) == version);
  g_assert_cmpstr (gtk_menu_button_get_label (window->model_button), ==,
                   rm_model_version_get_name (version));
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_null (weak_dialog);
  run_query (window, "the road"); /* the new model answers */
  g_assert_cmpstr (rm_candidate_get_model (rm_window_get_candidate (window)), ==, new_dir);
  activate (window, "win.reject", NULL);
  g_assert_true (action_enabled (window, "win.model-rollback"));
  wait_for_frame (GTK_WIDGET (window));
  save_window (window, "refmask-studio-models.png");
  {
    /* the switcher: both versions, the current one checked */
    GtkPopover *popover;

    gtk_menu_button_popup (window->model_button);
    popover = gtk_menu_button_get_popover (window->model_button);
    g_assert_nonnull (popover);
    wait_for_frame (GTK_WIDGET (popover));
    save_window (popover, "refmask-studio-model-menu.png");
    gtk_menu_button_popdown (window->model_button);
  }
  activate (window, "win.model-rollback", NULL);
  g_assert_true (wait_for (model_settled, window, "the model rolled back to"));
  g_assert_cmpstr (rm_segmenter_get_model_dir (rm_window_get_segmenter (window)), ==, model_dir);
  g_assert_false (action_enabled (window, "win.model-rollback"));
  /* and forward again, from the switcher's item */
  activate (window, "win.model-version", g_variant_new_string (new_dir));
  g_assert_true (wait_for (model_settled, window, "the new model again"));
  g_assert_cmpstr (rm_segmenter_get_model_dir (rm_window_get_segmenter (window)), ==, new_dir);
  activate (window, "win.model-version", g_variant_new_string (model_dir));
  g_assert_true (wait_for (model_settled, window, "the first model again"));

  /* stopping: the checkpoint is a model folder too, and a version */
  dialog = open_finetune_dialog (window);
  rm_finetune_dialog_set_validation (dialog, RM_FINETUNE_VALIDATION_NONE, 0);
  rm_finetune_dialog_set_steps (dialog, 400);
  rm_finetune_dialog_set_accum (dialog, 1);
  g_assert_true (rm_finetune_dialog_start (dialog));
  g_assert_true (wait_for (first_step_done, dialog, "the first step"));
  rm_finetune_dialog_cancel (dialog);
  g_assert_true (wait_for (training_finished, dialog, "the stopped training"));
  g_assert_true (rm_finetune_dialog_get_finished (dialog, &cancelled));
  g_assert_true (cancelled);
  g_test_message ("stopped after %" G_GINT64_FORMAT " steps",
                  rm_finetune_dialog_get_steps_done (dialog));
  g_assert_cmpint (rm_finetune_dialog_get_steps_done (dialog), >=, 1);
  g_assert_cmpint (rm_finetune_dialog_get_steps_done (dialog), <, 400);
  version = rm_finetune_dialog_get_new_version (dialog);
  g_assert_nonnull (version);
  g_assert_false (rm_model_version_get_complete (version));
  g_assert_true (has_file (rm_model_version_get_dir (version), "model.safetensors"));
  g_assert_true (has_file (rm_model_version_get_dir (version), "train-state.safetensors"));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_model_versions (window)), ==, 3);
  gtk_window_destroy (GTK_WINDOW (dialog));

  close_window (window);
}

/* The shortcuts window's second section lists the new keys (kept as a picture). */
static void
test_shortcuts (void)
{
  RmWindow *window = rm_window_new (app);
  GListModel *toplevels = gtk_window_get_toplevels ();
  GtkWindow *shortcuts = NULL;

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.shortcuts", NULL));
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) toplevel = g_list_model_get_item (toplevels, i);

      if (GTK_IS_SHORTCUTS_WINDOW (toplevel) && gtk_widget_get_visible (GTK_WIDGET (toplevel)))
        shortcuts = toplevel;
    }
  g_assert_nonnull (shortcuts);
  g_object_set (shortcuts, "section-name", "annotating", NULL);
  wait_for_frame (GTK_WIDGET (shortcuts));
  save_window (shortcuts, "refmask-studio-shortcuts-annotating.png");
  gtk_window_close (shortcuts);
  close_window (window);
}

/* ---- setup ------------------------------------------------------------------------------- */

/* With a project open, a run is recorded in training_runs and the new version points to it. */
static void
test_finetune_project (void)
{
  g_autofree char *path = g_build_filename (scratch_dir, "runs.refmask", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFile) folder = NULL;
  g_autoptr (RmProject) project = NULL;
  g_autoptr (GPtrArray) runs = NULL;
  g_autoptr (GPtrArray) versions = NULL;
  g_autoptr (GError) error = NULL;
  RmTrainingRun *run;
  RmFinetuneDialog *dialog;
  RmWindow *window;
  gboolean linked = FALSE;

  if (!have_model ())
    return;

  window = rm_window_new (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 760);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_new_project (window, file);
  g_assert_true (wait_for (project_open, window, "the new project"));
  folder = g_file_new_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "sample", NULL);
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (wait_for (window_idle, window, "the sample images"));
  g_assert_true (wait_for (project_open, window, "the images to be added"));
  rm_window_load_model (window, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model"));
  run_query (window, "the large building");
  activate (window, "win.accept", NULL);
  select_image (window, 1);
  run_query (window, "the road");
  activate (window, "win.accept", NULL);

  dialog = open_finetune_dialog (window);
  rm_finetune_dialog_set_validation (dialog, RM_FINETUNE_VALIDATION_FRACTION, 0.5);
  rm_finetune_dialog_set_steps (dialog, 2);
  rm_finetune_dialog_set_accum (dialog, 1);
  g_assert_true (rm_finetune_dialog_start (dialog));
  g_assert_true (wait_for (training_finished, dialog, "the training"));
  g_assert_nonnull (rm_finetune_dialog_get_new_version (dialog));
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_true (wait_for (project_open, window, "the run to be stored"));
  close_window (window);

  project = rm_project_open (path, &error);
  g_assert_no_error (error);
  runs = rm_project_list_training_runs (project, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 1);
  run = runs->pdata[0];
  g_assert_cmpint (run->status, ==, RM_RUN_FINISHED);
  g_assert_cmpint (run->base_model_id, >, 0);
  g_assert_nonnull (strstr (run->params_json, "\"steps\":2"));
  g_assert_nonnull (strstr (run->params_json, "\"n_train\":1"));
  g_assert_nonnull (strstr (run->params_json, "\"base_model_version_id\""));
  g_assert_nonnull (strstr (run->loss_curve_json, "\"step\":2"));
  g_assert_nonnull (run->metrics_json);
  g_assert_nonnull (strstr (run->metrics_json, "\"before\""));
  g_assert_nonnull (strstr (run->metrics_json, "\"after\""));
  versions = rm_project_list_model_versions (project, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < versions->len; i++)
    linked |= ((RmStoreModelVersion *) versions->pdata[i])->training_run_id == run->id;
  g_assert_true (linked);
}

int
main (int argc, char *argv[])
{
  int status;
  /* A temporary folder of our own as TMPDIR, before GLib caches it: the fine-tune test counts the
   * dialog's temporary data folders, and other programs' would otherwise count too. */
  char private_tmp[] = "/tmp/refmask-workflow-tmp-XXXXXX";
  g_assert_nonnull (g_mkdtemp (private_tmp));
  g_setenv ("TMPDIR", private_tmp, TRUE);

  g_test_init (&argc, &argv, NULL);

  scratch_dir = gui_test_scratch_dir ("workflow");
  model_dir = make_model_dir (scratch_dir);

  app = gui_test_app_new ();
  /* With dialogs and windows taking the focus from each other on one display, a blinking cursor's
   * timeout can fire in an entry whose window lost the focus, which GTK reports as a warning
   * ("did not receive a focus-out event"): no blinking in tests. */
  g_object_set (gtk_settings_get_default (), "gtk-cursor-blink", FALSE, NULL);
  /* and no transitions: a page being switched to is shown at once */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  g_test_add_func ("/workflow/accelerators", test_accelerators);
  g_test_add_func ("/workflow/shortcuts", test_shortcuts);
  g_test_add_func ("/workflow/polygon", test_polygon);
  g_test_add_func ("/workflow/panel", test_panel);
  g_test_add_func ("/workflow/batch-and-review", test_batch_and_review);
  g_test_add_func ("/workflow/batch-cancel", test_batch_cancel);
  g_test_add_func ("/workflow/finetune", test_finetune);
  g_test_add_func ("/workflow/finetune-project", test_finetune_project);

  status = g_test_run ();

  g_clear_pointer (&app, gui_test_app_free);
  rm_remove_tree (scratch_dir);
  rm_remove_tree (private_tmp);
  g_free (scratch_dir);
  g_free (model_dir);

  return status;
}
