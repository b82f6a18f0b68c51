/* test-project.c: project files in the real window, under Xvfb
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Makes a project, imports the four data/sample images with the import dialog, runs a query with
 * a model made from the golden set (REFMASK_EXE, REFMASK_SHARED_DIR; as test-annotate), accepts
 * the candidate, zooms, closes the window and opens the project again: the annotation, the last
 * image and the view come back, and the file holds what the window showed. Then: a COCO export
 * (and no silent overwrite), a cancelled import that adds nothing, a corrupt and a read-only
 * project file that are refused without loss, a write that waits for another program's write
 * (no "database is locked"), and one that fails and is saved by Retry; a project of many
 * annotations that opens without decoding their masks, and keeps decoded only the shown image's.
 * Keeps refmask-studio-project.png in this build folder.
 */

#include <gtk/gtk.h>

#include "gui-test-util.h"
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "rm-annotation.h"
#include "rm-application.h"
#include "rm-canvas.h"
#include "rm-export-dialog.h"
#include "rm-image-item.h"
#include "rm-import-dialog.h"
#include "rm-model-version.h"
#include "rm-project-session.h"
#include "rm-project.h"
#include "rm-rle.h"
#include "rm-segmenter.h"
#include "rm-window-private.h"

#define N_SAMPLE_IMAGES 4

static RmApplication *app;
static char *scratch_dir;
static char *model_dir;
static char *images_dir;   /* a copy of data/sample */
static char *project_path; /* made by /project/create-and-reopen */

/* ---- helpers ----------------------------------------------------------------------------- */

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, const char *what)
{
  return gui_wait_for (done, data, what, 30);
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint wake = g_timeout_add (5, wake_up, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

static gboolean
project_settled (gpointer data)
{
  RmWindow *window = data;

  return !rm_window_get_project_loading (window) &&
         (rm_window_get_project (window) == NULL ||
          !rm_project_session_get_busy (rm_window_get_project (window)));
}

static gboolean
import_finished (gpointer data)
{
  return !rm_import_dialog_get_running (data);
}

static gboolean
export_finished (gpointer data)
{
  return !rm_export_dialog_get_running (data);
}

static RmWindow *
new_window (void)
{
  RmWindow *window = rm_window_new (app);

  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  gtk_window_present (GTK_WINDOW (window));

  return window;
}

/* Closes @window as the user does, and waits until its project is written and closed. */
static void
close_window (RmWindow *window)
{
  gpointer weak_window = window;
  gpointer weak_session = rm_window_get_project (window);

  g_object_add_weak_pointer (G_OBJECT (window), &weak_window);
  if (weak_session != NULL)
    g_object_add_weak_pointer (G_OBJECT (weak_session), &weak_session);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_true (wait_for (is_null, &weak_window, "the window to be finalized"));
  g_assert_true (wait_for (is_null, &weak_session, "the project to be closed"));
}

static RmWindow *
open_project_window (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  RmWindow *window = new_window ();

  rm_window_open_project (window, file);
  g_assert_true (wait_for (project_open, window, "the project"));
  g_assert_true (wait_for (window_idle, window, "the last image"));

  return window;
}

static gboolean
banner_shown (RmWindow *window)
{
  GtkRevealer *banner = GTK_REVEALER (
      gtk_widget_get_template_child (GTK_WIDGET (window), RM_TYPE_WINDOW, "project_banner"));

  return gtk_revealer_get_reveal_child (banner);
}

static const char *
banner_text (RmWindow *window)
{
  return gtk_label_get_label (GTK_LABEL (
      gtk_widget_get_template_child (GTK_WIDGET (window), RM_TYPE_WINDOW, "project_banner_label")));
}

static gboolean
banner_is_shown (gpointer data)
{
  return banner_shown (data);
}

static gboolean
banner_is_hidden (gpointer data)
{
  return !banner_shown (data);
}

static char *
file_checksum (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));

  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, length);
}

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (to, contents, (gssize) length, NULL));
}

/* The stored annotations (a second connection: the window's stays open). */
static GPtrArray *
stored_annotations (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) project = rm_project_open (path, &error);
  RmStoreAnnotationFilter filter = { .with_masks = TRUE };
  GPtrArray *annotations;

  g_assert_no_error (error);
  annotations = rm_project_list_annotations (project, &filter, &error);
  g_assert_no_error (error);

  return annotations;
}

static RmImageItem *
image_item (RmWindow *window, guint position)
{
  return g_list_model_get_item (rm_window_get_images (window), position);
}

static RmAnnotation *
first_annotation (RmWindow *window)
{
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), >=, 1);

  return g_list_model_get_item (rm_window_get_annotations (window), 0);
}

/* Rows the image list shows. */
static guint
n_listed (RmWindow *window)
{
  return g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (window->image_list)));
}

/* ---- make, annotate, close, reopen --------------------------------------------------------- */

static double saved_zoom, saved_cx, saved_cy;
static gint64 saved_id, saved_area;
static guint8 *saved_mask;

static gboolean
annotation_stored (gpointer data)
{
  RmWindow *window = data;
  g_autoptr (RmAnnotation) a = first_annotation (window);

  return rm_annotation_get_id (a) != 0 &&
         !rm_project_session_get_busy (rm_window_get_project (window));
}

static gboolean
second_reviewed (gpointer data)
{
  g_autoptr (RmImageItem) second = image_item (data, 1);

  return rm_image_item_get_status (second) == RM_IMAGE_STATUS_REVIEWED;
}

static void
test_create_and_reopen (void)
{
  g_autoptr (GFile) file = NULL;
  RmWindow *window;
  RmCanvas *canvas;
  GtkWindow *dialog;
  g_autoptr (RmAnnotation) a = NULL;
  g_autoptr (GPtrArray) stored = NULL;
  double w, h;

  if (model_dir == NULL)
    {
      g_test_skip ("no golden set or refmask binary: no model folder");
      return;
    }

  project_path = g_build_filename (scratch_dir, "work.refmask", NULL);
  file = g_file_new_for_path (project_path);
  window = new_window ();
  g_assert_false (gtk_widget_activate_action (GTK_WIDGET (window), "win.import", NULL) &&
                  rm_window_get_import_dialog (window) != NULL); /* no project yet */
  rm_window_new_project (window, file);
  g_assert_true (wait_for (project_open, window, "the new project"));
  g_assert_true (g_file_test (project_path, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "work — Refmask Studio");

  /* import the sample images with the dialog */
  activate (window, "win.import", NULL);
  dialog = rm_window_get_import_dialog (window);
  g_assert_nonnull (dialog);
  rm_import_dialog_set_source (RM_IMPORT_DIALOG (dialog), RM_IMPORT_IMAGES, images_dir);
  rm_import_dialog_start (RM_IMPORT_DIALOG (dialog));
  g_assert_true (rm_import_dialog_get_running (RM_IMPORT_DIALOG (dialog)));
  g_assert_true (wait_for (import_finished, dialog, "the import"));
  g_test_message ("import: %s", rm_import_dialog_get_result (RM_IMPORT_DIALOG (dialog)));
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-import.png");
  g_assert_nonnull (
      strstr (rm_import_dialog_get_result (RM_IMPORT_DIALOG (dialog)), "Imported 4 images"));
  gtk_window_close (dialog);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, N_SAMPLE_IMAGES);
  g_assert_true (wait_for (window_idle, window, "the first image"));

  /* a query on the second image, accepted */
  rm_window_load_model (window, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model"));
  g_assert_true (window->model_loaded);
  activate (window, "win.next-image", NULL);
  g_assert_true (wait_for (window_idle, window, "the second image"));
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), "the large building");
  activate (window, "win.run-query", NULL);
  g_assert_true (wait_for (query_finished, window, "the query"));
  g_assert_nonnull (rm_window_get_candidate (window));
  activate (window, "win.accept", NULL);
  g_assert_true (wait_for (annotation_stored, window, "the annotation to be stored"));
  a = first_annotation (window);
  saved_id = rm_annotation_get_id (a);
  saved_area = rm_annotation_get_area (a);
  saved_mask = g_memdup2 (g_bytes_get_data (rm_annotation_get_mask (a), NULL),
                          (gsize) rm_annotation_get_width (a) * rm_annotation_get_height (a));
  g_assert_cmpint (saved_area, >, 0);

  /* the sidebar's badges and the status filter */
  g_assert_true (wait_for (banner_is_hidden, window, "no banner"));
  g_assert_true (wait_for (second_reviewed, window, "the badge"));
  {
    g_autoptr (RmImageItem) first = image_item (window, 0);
    g_autoptr (RmImageItem) second = image_item (window, 1);

    g_assert_cmpint (rm_image_item_get_status (first), ==, RM_IMAGE_STATUS_UNLABELLED);
    g_assert_cmpint (rm_image_item_get_status (second), ==, RM_IMAGE_STATUS_REVIEWED);
  }
  {
    GtkDropDown *filter = GTK_DROP_DOWN (
        gtk_widget_get_template_child (GTK_WIDGET (window), RM_TYPE_WINDOW, "image_status_filter"));

    gtk_drop_down_set_selected (filter, 3); /* reviewed */
    g_assert_cmpuint (n_listed (window), ==, 1);
    gtk_drop_down_set_selected (filter, 1); /* unlabelled */
    g_assert_cmpuint (n_listed (window), ==, 3);
    g_assert_cmpuint (rm_window_get_selected (window), ==, 1); /* unchanged */
    gtk_drop_down_set_selected (filter, 0);
    g_assert_cmpuint (n_listed (window), ==, N_SAMPLE_IMAGES);
  }

  /* the store has it, at full resolution, with the model version */
  stored = stored_annotations (project_path);
  g_assert_cmpuint (stored->len, ==, 1);
  {
    RmStoreAnnotation *s = stored->pdata[0];
    g_autofree guint8 *mask = g_malloc ((gsize) s->mask->w * s->mask->h);
    g_autoptr (GError) error = NULL;
    g_autoptr (RmProject) project = rm_project_open (project_path, &error);
    g_autoptr (RmStoreModelVersion) version = NULL;
    g_autofree char *canonical = g_canonicalize_filename (model_dir, NULL);

    g_assert_cmpint (s->id, ==, saved_id);
    g_assert_cmpstr (s->expression, ==, "the large building");
    g_assert_cmpint (s->status, ==, RM_STATUS_ACCEPTED);
    g_assert_cmpint (s->source, ==, RM_SOURCE_MODEL);
    g_assert_cmpuint (s->mask->w, ==, 510); /* tile2_part005.jpg, at full resolution */
    g_assert_cmpuint (s->mask->h, ==, 544);
    g_assert_cmpuint (s->area, ==, (guint64) saved_area);
    rm_rle_decode (s->mask, mask, s->mask->w, 1);
    g_assert_true (memcmp (mask, saved_mask, (gsize) s->mask->w * s->mask->h) == 0);
    g_assert_cmpint (s->prior_kind, ==, RM_PRIOR_F32);
    g_assert_cmpint (s->model_version_id, !=, 0);
    version = rm_project_get_model_version (project, s->model_version_id, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (version->weights_path, ==, canonical);
  }

  /* zoom in off-centre; the view is saved with the project */
  canvas = rm_window_get_canvas (window);
  w = gtk_widget_get_width (GTK_WIDGET (canvas));
  h = gtk_widget_get_height (GTK_WIDGET (canvas));
  rm_canvas_zoom_at (canvas, 2.0, w * 0.3, h * 0.4, FALSE);
  saved_zoom = rm_canvas_get_zoom (canvas);
  rm_canvas_widget_to_image (canvas, w / 2, h / 2, &saved_cx, &saved_cy);
  g_test_message ("view: zoom %.3f, centre %.1f, %.1f", saved_zoom, saved_cx, saved_cy);
  close_window (window);

  /* reopened: the same annotation, image and view */
  window = open_project_window (project_path);
  canvas = rm_window_get_canvas (window);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, N_SAMPLE_IMAGES);
  g_assert_cmpuint (rm_window_get_selected (window), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);
  {
    g_autoptr (RmAnnotation) b = first_annotation (window);

    g_assert_cmpint (rm_annotation_get_id (b), ==, saved_id);
    g_assert_cmpstr (rm_annotation_get_expression (b), ==, "the large building");
    g_assert_cmpint (rm_annotation_get_status (b), ==, RM_ANNOTATION_STATUS_ACCEPTED);
    g_assert_cmpint (rm_annotation_get_source (b), ==, RM_ANNOTATION_SOURCE_MODEL);
    g_assert_cmpint (rm_annotation_get_area (b), ==, saved_area);
    g_assert_true (memcmp (g_bytes_get_data (rm_annotation_get_mask (b), NULL), saved_mask,
                           g_bytes_get_size (rm_annotation_get_mask (b))) == 0);
    g_assert_nonnull (rm_annotation_get_prior (b, NULL));
    g_assert_nonnull (rm_annotation_get_model (b));
  }
  g_assert_cmpstr (gtk_label_get_label (window->annotation_count_label), ==, "1 annotation");
  {
    /* the model version is back in the switcher, though no model is loaded */
    GListModel *versions = rm_window_get_model_versions (window);
    g_autofree char *canonical = g_canonicalize_filename (model_dir, NULL);
    gboolean found = FALSE;

    for (guint i = 0; i < g_list_model_get_n_items (versions); i++)
      {
        g_autoptr (RmModelVersion) version = g_list_model_get_item (versions, i);

        found = found || g_strcmp0 (rm_model_version_get_dir (version), canonical) == 0;
      }
    g_assert_true (found);
  }
  g_assert_false (rm_canvas_get_fit (canvas));
  g_assert_cmpfloat_with_epsilon (rm_canvas_get_zoom (canvas), saved_zoom, 1e-4);
  {
    double cx, cy;

    w = gtk_widget_get_width (GTK_WIDGET (canvas));
    h = gtk_widget_get_height (GTK_WIDGET (canvas));
    rm_canvas_widget_to_image (canvas, w / 2, h / 2, &cx, &cy);
    g_test_message ("restored: zoom %.3f, centre %.1f, %.1f", rm_canvas_get_zoom (canvas), cx, cy);
    g_assert_cmpfloat_with_epsilon (cx, saved_cx, 0.5);
    g_assert_cmpfloat_with_epsilon (cy, saved_cy, 0.5);
  }
  {
    g_autoptr (RmImageItem) second = image_item (window, 1);

    g_assert_cmpint (rm_image_item_get_status (second), ==, RM_IMAGE_STATUS_REVIEWED);
  }
  activate (window, "win.zoom-fit", NULL);
  g_assert_true (wait_for (window_idle, window, "fit"));
  wait_for_frame (GTK_WIDGET (window));
  save_window (window, "refmask-studio-project.png");
  close_window (window);
}

/* ---- export ------------------------------------------------------------------------------- */

static void
check_coco (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "instances.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stored = stored_annotations (project_path);
  g_autofree char *counts = NULL;
  JsonObject *root, *ann, *segmentation;
  JsonArray *annotations, *images, *size;
  RmStoreAnnotation *s;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  images = json_object_get_array_member (root, "images");
  annotations = json_object_get_array_member (root, "annotations");
  g_assert_cmpuint (json_array_get_length (images), ==, 1);
  g_assert_cmpuint (json_array_get_length (annotations), ==, 1);
  ann = json_array_get_object_element (annotations, 0);
  s = stored->pdata[0];
  counts = rm_rle_to_string (s->mask);
  segmentation = json_object_get_object_member (ann, "segmentation");
  size = json_object_get_array_member (segmentation, "size");
  g_assert_cmpint (json_array_get_int_element (size, 0), ==, 544);
  g_assert_cmpint (json_array_get_int_element (size, 1), ==, 510);
  g_assert_cmpstr (json_object_get_string_member (segmentation, "counts"), ==, counts);
  g_assert_cmpint (json_object_get_int_member (ann, "area"), ==, saved_area);
  g_assert_cmpint (json_object_get_int_member (ann, "iscrowd"), ==, 0);
  {
    g_autofree char *refs = g_build_filename (dir, "refs.json", NULL);
    g_autofree char *text = NULL;

    g_assert_true (g_file_get_contents (refs, &text, NULL, NULL));
    g_assert_nonnull (strstr (text, "the large building"));
  }
}

static void
test_export (void)
{
  g_autofree char *out = g_build_filename (scratch_dir, "out", NULL);
  g_autofree char *coco = g_build_filename (out, "work-coco", NULL);
  g_autofree char *instances = g_build_filename (coco, "instances.json", NULL);
  g_autofree char *before = NULL;
  RmWindow *window;
  RmExportDialog *dialog;
  GStatBuf st;
  ino_t inode;

  if (project_path == NULL)
    {
      g_test_skip ("needs /project/create-and-reopen");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (out, 0700), ==, 0);
  window = open_project_window (project_path);
  activate (window, "win.export", NULL);
  dialog = RM_EXPORT_DIALOG (rm_window_get_export_dialog (window));
  g_assert_nonnull (dialog);
  rm_export_dialog_set_destination (dialog, out);
  rm_export_dialog_set_formats (dialog, RM_PROJECT_EXPORT_COCO, FALSE);
  rm_export_dialog_start (dialog);
  g_assert_null (rm_export_dialog_get_confirmation (dialog));
  g_assert_true (wait_for (export_finished, dialog, "the export"));
  g_test_message ("export: %s", rm_export_dialog_get_result (dialog));
  g_assert_nonnull (strstr (rm_export_dialog_get_result (dialog), "Exported 1 annotation"));
  check_coco (coco);
  wait_for_frame (GTK_WIDGET (dialog));
  save_window (dialog, "refmask-studio-export.png");

  /* again: it asks first, and "Cancel" leaves the folder as it was */
  before = file_checksum (instances);
  g_assert_cmpint (g_stat (coco, &st), ==, 0);
  inode = st.st_ino;
  rm_export_dialog_start (dialog);
  g_assert_nonnull (rm_export_dialog_get_confirmation (dialog));
  g_assert_false (rm_export_dialog_get_running (dialog));
  gtk_dialog_response (GTK_DIALOG (rm_export_dialog_get_confirmation (dialog)),
                       GTK_RESPONSE_CANCEL);
  spin (100);
  g_assert_false (rm_export_dialog_get_running (dialog));
  g_assert_cmpint (g_stat (coco, &st), ==, 0);
  g_assert_cmpuint (st.st_ino, ==, inode);
  {
    g_autofree char *after = file_checksum (instances);

    g_assert_cmpstr (after, ==, before);
  }

  /* "Replace" writes a new folder in its place */
  rm_export_dialog_start (dialog);
  gtk_dialog_response (GTK_DIALOG (rm_export_dialog_get_confirmation (dialog)),
                       GTK_RESPONSE_ACCEPT);
  g_assert_true (wait_for (export_finished, dialog, "the second export"));
  g_assert_nonnull (strstr (rm_export_dialog_get_result (dialog), "Exported 1 annotation"));
  g_assert_cmpint (g_stat (coco, &st), ==, 0);
  g_assert_cmpuint (st.st_ino, !=, inode);
  check_coco (coco);

  /* candidates only: there are none, and nothing is written */
  {
    g_autofree char *png = g_build_filename (out, "work-png", NULL);
    GtkCheckButton *accepted = GTK_CHECK_BUTTON (gtk_widget_get_template_child (
        GTK_WIDGET (dialog), RM_TYPE_EXPORT_DIALOG, "accepted_check"));
    GtkCheckButton *candidates = GTK_CHECK_BUTTON (gtk_widget_get_template_child (
        GTK_WIDGET (dialog), RM_TYPE_EXPORT_DIALOG, "candidate_check"));

    if (accepted != NULL && candidates != NULL)
      {
        gtk_check_button_set_active (accepted, FALSE);
        gtk_check_button_set_active (candidates, TRUE);
        rm_export_dialog_set_formats (dialog, RM_PROJECT_EXPORT_PNG, FALSE);
        rm_export_dialog_start (dialog);
        g_assert_true (wait_for (export_finished, dialog, "the empty export"));
        g_test_message ("empty export: %s", rm_export_dialog_get_result (dialog));
        g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
      }
  }
  gtk_window_close (GTK_WINDOW (dialog));
  close_window (window);
}

/* ---- a cancelled import -------------------------------------------------------------------- */

static void
cancel_on_progress (GtkProgressBar *bar, GParamSpec *pspec, RmImportDialog *dialog)
{
  if (gtk_progress_bar_get_fraction (bar) > 0)
    rm_import_dialog_cancel (dialog);
}

static void
test_import_cancel (void)
{
  g_autofree char *path = g_build_filename (scratch_dir, "cancel.refmask", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autofree char *dubai = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) project = NULL;
  g_autoptr (GPtrArray) images = NULL;
  g_autoptr (GPtrArray) annotations = NULL;
  RmStoreAnnotationFilter filter = { 0 };
  RmWindow *window = new_window ();
  RmImportDialog *dialog;
  const char *result;

  rm_window_new_project (window, file);
  g_assert_true (wait_for (project_open, window, "the new project"));
  activate (window, "win.import", NULL);
  dialog = RM_IMPORT_DIALOG (rm_window_get_import_dialog (window));

  /* a dataset large enough to stop halfway (548 masks), else the sample images at once */
  if (g_getenv ("REFMASK_SHARED_DIR") != NULL)
    dubai = g_build_filename (g_getenv ("REFMASK_SHARED_DIR"), "data", "dubai-aerial", "refs.jsonl",
                              NULL);
  if (dubai != NULL && g_file_test (dubai, G_FILE_TEST_IS_REGULAR))
    {
      GtkProgressBar *bar = GTK_PROGRESS_BAR (gtk_widget_get_template_child (
          GTK_WIDGET (dialog), RM_TYPE_IMPORT_DIALOG, "progress_bar"));

      rm_import_dialog_set_source (dialog, RM_IMPORT_REFS_JSONL, dubai);
      g_signal_connect (bar, "notify::fraction", G_CALLBACK (cancel_on_progress), dialog);
      rm_import_dialog_start (dialog);
    }
  else
    {
      rm_import_dialog_set_source (dialog, RM_IMPORT_IMAGES, images_dir);
      rm_import_dialog_start (dialog);
      rm_import_dialog_cancel (dialog);
    }
  g_assert_true (wait_for (import_finished, dialog, "the cancelled import"));
  result = rm_import_dialog_get_result (dialog);
  g_test_message ("cancelled import: %s", result);
  g_assert_cmpstr (result, ==, "Stopped. Nothing was imported.");
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 0);

  project = rm_project_open (path, &error);
  g_assert_no_error (error);
  images = rm_project_list_images (project, &error);
  g_assert_no_error (error);
  annotations = rm_project_list_annotations (project, &filter, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (images->len, ==, 0);
  g_assert_cmpuint (annotations->len, ==, 0);
  g_assert_true (rm_project_check (project, &error));
  g_assert_no_error (error);

  gtk_window_close (GTK_WINDOW (dialog));
  close_window (window);
}

/* ---- files that cannot be opened ------------------------------------------------------------ */

static void
check_refused (RmWindow *window, const char *path, const char *expected)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autofree char *before = file_checksum (path);
  RmProjectSession *session = rm_window_get_project (window);

  rm_window_open_project (window, file);
  g_assert_true (rm_window_get_project_loading (window));
  g_assert_true (wait_for (project_settled, window, "the refused project"));
  g_assert_true (wait_for (banner_is_shown, window, "the banner"));
  g_test_message ("banner: %s", banner_text (window));
  g_assert_nonnull (strstr (banner_text (window), "Cannot open"));
  g_assert_nonnull (strstr (banner_text (window), expected));
  /* the window keeps its project, and the file is as it was */
  g_assert_true (rm_window_get_project (window) == session);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, N_SAMPLE_IMAGES);
  {
    g_autofree char *after = file_checksum (path);

    g_assert_cmpstr (after, ==, before);
  }
}

static void
test_bad_files (void)
{
  g_autofree char *corrupt = g_build_filename (scratch_dir, "corrupt.refmask", NULL);
  g_autofree char *readonly = g_build_filename (scratch_dir, "readonly.refmask", NULL);
  g_autofree char *truncated = g_build_filename (scratch_dir, "truncated.refmask", NULL);
  RmWindow *window;

  if (project_path == NULL)
    {
      g_test_skip ("needs /project/create-and-reopen");
      return;
    }
  g_assert_true (
      g_file_set_contents (corrupt, "This is not a Refmask project, nor SQLite.\n", -1, NULL));
  copy_file (project_path, readonly); /* closed: no WAL left beside it */
  g_assert_cmpint (g_chmod (readonly, 0444), ==, 0);
  {
    g_autofree char *contents = NULL;
    gsize length = 0;

    g_assert_true (g_file_get_contents (project_path, &contents, &length, NULL));
    g_assert_true (g_file_set_contents (truncated, contents, (gssize) MIN (length, 3000), NULL));
  }

  window = open_project_window (project_path);
  check_refused (window, corrupt, "not a Refmask project");
  check_refused (window, readonly, "read-only");
  check_refused (window, truncated, "truncated.refmask");

  /* the window still saves into its own project */
  {
    g_autoptr (RmAnnotation) a = first_annotation (window);
    g_autoptr (GPtrArray) stored = NULL;

    rm_annotation_set_expression (a, "the large white building");
    g_assert_true (wait_for (project_open, window, "the write"));
    stored = stored_annotations (project_path);
    g_assert_cmpstr (((RmStoreAnnotation *) stored->pdata[0])->expression, ==,
                     "the large white building");
    rm_annotation_set_expression (a, "the large building");
  }
  close_window (window);
  g_chmod (readonly, 0644);
}

/* ---- another writer ------------------------------------------------------------------------ */

static gboolean
release_lock (gpointer data)
{
  RmProject *other = data;
  g_autoptr (GError) error = NULL;

  g_assert_true (rm_project_commit (other, &error));
  g_assert_no_error (error);

  return G_SOURCE_REMOVE;
}

static void
test_busy (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) other = NULL;
  g_autoptr (RmAnnotation) a = NULL;
  RmProjectSession *session;
  RmWindow *window;
  gint64 start;

  if (project_path == NULL)
    {
      g_test_skip ("needs /project/create-and-reopen");
      return;
    }
  window = open_project_window (project_path);
  session = rm_window_get_project (window);
  a = first_annotation (window);
  other = rm_project_open (project_path, &error);
  g_assert_no_error (error);

  /* another program writes for a while: the change waits for it, and the window keeps running */
  g_assert_true (rm_project_begin (other, &error));
  g_assert_no_error (error);
  rm_annotation_set_status (a, RM_ANNOTATION_STATUS_REJECTED);
  g_timeout_add (400, release_lock, other);
  start = g_get_monotonic_time ();
  spin (100);
  g_assert_true (rm_project_session_get_busy (session)); /* waiting, the main loop turns */
  g_assert_true (wait_for (project_open, window, "the waiting write"));
  g_test_message ("the write waited %.0f ms", (g_get_monotonic_time () - start) / 1000.0);
  g_assert_false (banner_shown (window));
  {
    g_autoptr (GPtrArray) stored = stored_annotations (project_path);

    g_assert_cmpint (((RmStoreAnnotation *) stored->pdata[0])->status, ==, RM_STATUS_REJECTED);
  }

  /* longer than the session waits: the banner says so, the change stays, Retry saves it */
  rm_project_session_set_busy_budget (session, 200);
  g_assert_true (rm_project_begin (other, &error));
  g_assert_no_error (error);
  rm_annotation_set_status (a, RM_ANNOTATION_STATUS_ACCEPTED);
  g_assert_true (wait_for (banner_is_shown, window, "the save error"));
  g_test_message ("banner: %s", banner_text (window));
  g_assert_nonnull (strstr (banner_text (window), "could not be saved"));
  g_assert_cmpuint (rm_project_session_get_n_failed (session), ==, 1);
  g_assert_true (rm_project_commit (other, &error));
  g_assert_no_error (error);
  g_signal_emit_by_name (
      gtk_widget_get_template_child (GTK_WIDGET (window), RM_TYPE_WINDOW, "project_banner_button"),
      "clicked");
  g_assert_true (wait_for (project_open, window, "the retried write"));
  g_assert_cmpuint (rm_project_session_get_n_failed (session), ==, 0);
  g_assert_false (banner_shown (window));
  {
    g_autoptr (GPtrArray) stored = stored_annotations (project_path);

    g_assert_cmpint (((RmStoreAnnotation *) stored->pdata[0])->status, ==, RM_STATUS_ACCEPTED);
  }
  close_window (window);
}

/* ---- a browsed folder becomes a project ------------------------------------------------------ */

static gboolean
browsed (gpointer data)
{
  return window_idle (data) &&
         g_list_model_get_n_items (rm_window_get_images (data)) == N_SAMPLE_IMAGES;
}

static gboolean
all_saved (gpointer data)
{
  RmWindow *window = data;
  GListModel *annotations = rm_window_get_annotations (window);

  if (!project_open (window))
    return FALSE;
  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) a = g_list_model_get_item (annotations, i);

      if (rm_annotation_get_id (a) == 0)
        return FALSE;
    }

  return TRUE;
}

static gboolean
five_images (gpointer data)
{
  return g_list_model_get_n_items (rm_window_get_images (data)) == N_SAMPLE_IMAGES + 1;
}

static void
test_adopt_folder (void)
{
  g_autofree char *folder_path = g_build_filename (scratch_dir, "browse", NULL);
  g_autofree char *project = g_build_filename (folder_path, "browse.refmask", NULL);
  g_autoptr (GFile) folder = g_file_new_for_path (folder_path);
  g_autoptr (GFile) project_file = g_file_new_for_path (project);
  g_autoptr (GPtrArray) stored = NULL;
  RmWindow *window;

  if (model_dir == NULL)
    {
      g_test_skip ("no golden set or refmask binary: no model folder");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (folder_path, 0700), ==, 0);
  for (guint i = 0; i < 4; i++)
    {
      const char *names[] = { "tile1_part005.jpg", "tile2_part005.jpg", "tile3_part004.jpg",
                              "tile6_part005.jpg" };
      g_autofree char *from = g_build_filename (images_dir, names[i], NULL);
      g_autofree char *to = g_build_filename (folder_path, names[i], NULL);

      copy_file (from, to);
    }

  /* browsing the folder: no project, and the banner offers one */
  window = new_window ();
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (wait_for (browsed, window, "the folder"));
  g_assert_null (rm_window_get_project (window));
  g_assert_true (banner_shown (window));
  g_test_message ("banner: %s", banner_text (window));

  /* an annotation made while browsing is kept when the project is made */
  rm_window_load_model (window, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model"));
  gtk_editable_set_text (GTK_EDITABLE (window->query_entry), "the water");
  activate (window, "win.run-query", NULL);
  g_assert_true (wait_for (query_finished, window, "the query"));
  activate (window, "win.reject", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);

  g_signal_emit_by_name (
      gtk_widget_get_template_child (GTK_WIDGET (window), RM_TYPE_WINDOW, "project_banner_button"),
      "clicked");
  g_assert_true (wait_for (all_saved, window, "the new project"));
  g_assert_nonnull (rm_window_get_project (window));
  g_assert_cmpstr (rm_project_session_get_path (rm_window_get_project (window)), ==, project);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, N_SAMPLE_IMAGES);
  g_assert_false (banner_shown (window));
  stored = stored_annotations (project);
  g_assert_cmpuint (stored->len, ==, 1);
  g_assert_cmpint (((RmStoreAnnotation *) stored->pdata[0])->status, ==, RM_STATUS_REJECTED);
  close_window (window);

  /* refmask-studio browse.refmask */
  g_application_open (G_APPLICATION (app), &project_file, 1, "");
  window = rm_application_get_window (app);
  g_assert_nonnull (window);
  g_assert_true (wait_for (project_open, window, "the project from the command line"));
  g_assert_true (wait_for (window_idle, window, "its image"));
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, N_SAMPLE_IMAGES);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 1);

  /* an image dropped on the window joins the project */
  {
    g_autofree char *extra_path = g_build_filename (scratch_dir, "extra.png", NULL);
    g_autoptr (GFile) extra = g_file_new_for_path (extra_path);
    g_autoptr (GBytes) pixels = g_bytes_new_take (g_malloc0 (40 * 30 * 4), 40 * 30 * 4);
    g_autoptr (GdkTexture) texture =
        gdk_memory_texture_new (40, 30, GDK_MEMORY_R8G8B8A8, pixels, 40 * 4);
    g_autoptr (RmProject) store = NULL;
    g_autoptr (GPtrArray) images = NULL;

    g_assert_true (gdk_texture_save_to_png (texture, extra_path));
    rm_window_add_files (window, &extra, 1, FALSE);
    g_assert_true (wait_for (five_images, window, "the dropped image"));
    g_assert_true (wait_for (project_open, window, "its write"));
    store = rm_project_open (project, NULL);
    images = rm_project_list_images (store, NULL);
    g_assert_cmpuint (images->len, ==, N_SAMPLE_IMAGES + 1);
  }

  /* a new project while one is open: an empty window for it */
  {
    g_autofree char *empty_path = g_build_filename (scratch_dir, "empty.refmask", NULL);
    g_autoptr (GFile) empty = g_file_new_for_path (empty_path);

    rm_window_new_project (window, empty);
    g_assert_true (wait_for (project_open, window, "the empty project"));
    g_assert_cmpstr (rm_project_session_get_path (rm_window_get_project (window)), ==, empty_path);
    g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_images (window)), ==, 0);
    g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==, 0);
    g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "empty — Refmask Studio");
  }
  close_window (window);

  /* the first project kept its annotation through all this */
  g_clear_pointer (&stored, g_ptr_array_unref);
  stored = stored_annotations (project);
  g_assert_cmpuint (stored->len, ==, 1);
}

/* ---- masks stay compressed ----------------------------------------------------------------- */

#define LAZY_ACCEPTED   20
#define LAZY_CANDIDATES 3

/* How many annotations of the window are decoded now, and whether they all are on the selected
 * image's; @accepted_decoded: whether every accepted annotation of that image is (the canvas drew
 * them). */
static guint
n_decoded_masks (RmWindow *window, gboolean *only_selected, gboolean *accepted_decoded)
{
  GListModel *annotations = rm_window_get_annotations (window);
  g_autoptr (RmImageItem) item = image_item (window, rm_window_get_selected (window));
  GFile *selected = rm_image_item_get_file (item);
  guint n = 0;

  *only_selected = *accepted_decoded = TRUE;
  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) a = g_list_model_get_item (annotations, i);
      gboolean on_selected = g_file_equal (rm_annotation_get_image (a), selected);

      if (rm_annotation_get_mask_decoded (a))
        {
          n++;
          *only_selected = *only_selected && on_selected;
        }
      else if (on_selected && rm_annotation_get_status (a) == RM_ANNOTATION_STATUS_ACCEPTED)
        *accepted_decoded = FALSE;
    }

  return n;
}

/* A project of many annotations opens without decoding them: the window holds decoded only the
 * masks of the image it shows, and lets them go when another image is selected. */
static void
test_lazy_masks (void)
{
  g_autofree char *path = g_build_filename (scratch_dir, "lazy.refmask", NULL);
  g_autoptr (GError) error = NULL;
  guint n_images = 0, n0, n, per_image = LAZY_ACCEPTED + LAZY_CANDIDATES;
  gboolean only_selected, accepted_decoded;
  RmWindow *window;

  {
    g_autoptr (RmProject) project = rm_project_create (path, &error);
    g_autoptr (GDir) dir = g_dir_open (images_dir, 0, NULL);
    const char *name;

    g_assert_no_error (error);
    g_assert_nonnull (dir);
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *image = g_build_filename (images_dir, name, NULL);
        g_autofree char *sha256 = file_checksum (image);
        int width = 0, height = 0;
        gint64 id = 0;

        g_assert_nonnull (gdk_pixbuf_get_file_info (image, &width, &height));
        g_assert_true (rm_project_add_image (project, image, sha256, (guint32) width,
                                             (guint32) height, NULL, &id, NULL, &error));
        g_assert_no_error (error);
        add_rect_annotations (project, id, (guint32) width, (guint32) height, LAZY_ACCEPTED,
                              RM_STATUS_ACCEPTED);
        add_rect_annotations (project, id, (guint32) width, (guint32) height, LAZY_CANDIDATES,
                              RM_STATUS_CANDIDATE);
        n_images++;
      }
  }
  g_assert_cmpuint (n_images, ==, N_SAMPLE_IMAGES);

  n0 = rm_annotation_get_n_decodes ();
  window = open_project_window (path);
  g_assert_cmpuint (g_list_model_get_n_items (rm_window_get_annotations (window)), ==,
                    n_images * per_image);
  wait_for_frame (GTK_WIDGET (window));
  n = n_decoded_masks (window, &only_selected, &accepted_decoded);
  g_test_message ("opened: %u masks decoded, %u decodes", n, rm_annotation_get_n_decodes () - n0);
  g_assert_true (only_selected);
  g_assert_true (accepted_decoded);
  g_assert_cmpuint (n, >=, LAZY_ACCEPTED);
  g_assert_cmpuint (rm_annotation_get_n_decodes () - n0, ==, n); /* nothing else, nothing twice */

  for (guint i = 1; i < n_images; i++)
    {
      n0 = rm_annotation_get_n_decodes ();
      rm_window_select_image (window, i);
      g_assert_true (wait_for (window_idle, window, "the next image"));
      wait_for_frame (GTK_WIDGET (window));
      n = n_decoded_masks (window, &only_selected, &accepted_decoded);
      g_assert_true (only_selected); /* the last image's masks were let go */
      g_assert_true (accepted_decoded);
      g_assert_cmpuint (n, <=, per_image);
      g_assert_cmpuint (rm_annotation_get_n_decodes () - n0, ==, n);
    }
  close_window (window);
}

/* ---- setup ------------------------------------------------------------------------------- */

static char *
copy_samples (void)
{
  g_autofree char *from =
      g_build_filename (g_getenv ("REFMASK_SOURCE_DIR"), "data", "sample", NULL);
  char *to = g_build_filename (scratch_dir, "images", NULL);
  g_autoptr (GDir) dir = g_dir_open (from, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  g_assert_cmpint (g_mkdir_with_parents (to, 0700), ==, 0);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".jpg"))
      {
        g_autofree char *a = g_build_filename (from, name, NULL);
        g_autofree char *b = g_build_filename (to, name, NULL);

        copy_file (a, b);
      }

  return to;
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  scratch_dir = gui_test_scratch_dir ("project");
  model_dir = make_model_dir (scratch_dir);
  images_dir = copy_samples ();

  app = gui_test_app_new ();

  g_test_add_func ("/project/create-and-reopen", test_create_and_reopen);
  g_test_add_func ("/project/export", test_export);
  g_test_add_func ("/project/import-cancel", test_import_cancel);
  g_test_add_func ("/project/bad-files", test_bad_files);
  g_test_add_func ("/project/busy", test_busy);
  g_test_add_func ("/project/adopt-folder", test_adopt_folder);
  g_test_add_func ("/project/lazy-masks", test_lazy_masks);

  status = g_test_run ();

  g_clear_pointer (&app, gui_test_app_free);
  rm_remove_tree (scratch_dir);
  g_free (scratch_dir);
  g_free (model_dir);
  g_free (images_dir);
  g_free (project_path);
  g_free (saved_mask);

  return status;
}
