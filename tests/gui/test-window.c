/* test-window.c: drives the real main window under Xvfb
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Opens data/sample in a window, checks the sidebar, zooms and pans the canvas through the
 * window's actions and checks the view transform, opens the dialogs, and keeps a screenshot
 * (refmask-studio-window.png in the test build folder).
 */

#include <gtk/gtk.h>

#include "gui-test-util.h"
#include <math.h>

#include "rm-annotation.h"
#include "rm-application.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-image-item.h"
#include "rm-image-pyramid.h"
#include "rm-image-row.h"
#include "rm-preferences-window.h"
#include "rm-window-private.h"

#define N_SAMPLE_IMAGES 4

static RmApplication *app;

/* ---- helpers ----------------------------------------------------------------------------- */

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, const char *what)
{
  return gui_wait_for (done, data, what, 20);
}

/* the window settled, with or without an image shown */
static gboolean
window_idle_any (gpointer data)
{
  RmWindow *window = data;
  RmCanvas *canvas = rm_window_get_canvas (window);

  return !rm_window_get_busy (window) && gtk_widget_get_width (GTK_WIDGET (canvas)) > 0 &&
         !rm_canvas_is_animating (canvas) && gtk_widget_get_mapped (GTK_WIDGET (window));
}

static gboolean
thumbnails_done (gpointer data)
{
  GListModel *images = rm_window_get_images (data);

  if (g_list_model_get_n_items (images) == 0)
    return FALSE;
  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      if (rm_image_item_get_state (item) != RM_IMAGE_ITEM_STATE_READY)
        return FALSE;
    }

  return TRUE;
}

static GFile *
sample_folder (void)
{
  const char *root = g_getenv ("REFMASK_SOURCE_DIR");

  g_assert_nonnull (root);

  return g_file_new_build_filename (root, "data", "sample", NULL);
}

static RmWindow *
open_sample_window (void)
{
  g_autoptr (GFile) folder = sample_folder ();
  RmWindow *window = rm_window_new (app);

  gtk_window_set_default_size (GTK_WINDOW (window), 1100, 720);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_add_files (window, &folder, 1, FALSE);
  g_assert_true (rm_window_get_busy (window));
  g_assert_true (wait_for (window_idle_any, window, "the sample images"));

  return window;
}

static void
close_window (RmWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void
test_sidebar (void)
{
  RmWindow *window = open_sample_window ();
  GListModel *images = rm_window_get_images (window);
  RmCanvas *canvas = rm_window_get_canvas (window);
  const char *names[] = { "tile1_part005.jpg", "tile2_part005.jpg", "tile3_part004.jpg",
                          "tile6_part005.jpg" };
  guint n_rows = 0;

  g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_SAMPLE_IMAGES);
  g_assert_cmpuint (
      g_list_model_get_n_items (G_LIST_MODEL (gtk_list_view_get_model (window->image_list))), ==,
      N_SAMPLE_IMAGES);
  for (guint i = 0; i < N_SAMPLE_IMAGES; i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      g_assert_cmpstr (rm_image_item_get_display_name (item), ==, names[i]);
    }
  g_assert_cmpstr (gtk_label_get_label (window->image_count_label), ==, "4 images");

  /* Every image has a row on screen with its thumbnail. */
  g_assert_true (wait_for (thumbnails_done, window, "the thumbnails"));
  wait_for_frame (GTK_WIDGET (window));
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (window->image_list));
       child != NULL; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *row = gtk_widget_get_first_child (child);

      if (RM_IS_IMAGE_ROW (row) && rm_image_row_get_item (RM_IMAGE_ROW (row)) != NULL &&
          gtk_widget_get_mapped (row))
        n_rows++;
    }
  g_assert_cmpuint (n_rows, ==, N_SAMPLE_IMAGES);

  /* The first image is selected and shown; adding the same folder again adds nothing. */
  g_assert_cmpuint (rm_window_get_selected (window), ==, 0);
  g_assert_nonnull (rm_canvas_get_image (canvas));
  g_assert_cmpint (rm_image_pyramid_get_width (rm_canvas_get_image (canvas)), ==, 797);
  g_assert_cmpint (rm_image_pyramid_get_height (rm_canvas_get_image (canvas)), ==, 643);
  g_assert_cmpstr (gtk_label_get_label (window->subtitle_label), ==,
                   "tile1_part005.jpg — 797 × 643");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->content_stack), ==, "canvas");
  {
    g_autoptr (GFile) folder = sample_folder ();

    rm_window_add_files (window, &folder, 1, FALSE);
    g_assert_true (wait_for (window_idle_any, window, "the second scan"));
    g_assert_cmpuint (g_list_model_get_n_items (images), ==, N_SAMPLE_IMAGES);
  }

  close_window (window);
}

static void
test_zoom_and_pan (void)
{
  RmWindow *window = open_sample_window ();
  RmCanvas *canvas = rm_window_get_canvas (window);
  const RmView *view = rm_canvas_get_view (canvas);
  double w = gtk_widget_get_width (GTK_WIDGET (canvas));
  double h = gtk_widget_get_height (GTK_WIDGET (canvas));
  double fit, ix0, iy0, ix1, iy1;

  /* Fitted and centred */
  fit = MIN (w / 797.0, h / 643.0);
  g_assert_true (rm_canvas_get_fit (canvas));
  g_assert_cmpfloat_with_epsilon (view->scale, fit, 1e-9);
  g_assert_cmpfloat_with_epsilon (view->x, (w - 797 * fit) / 2, 1e-6);
  g_assert_cmpfloat_with_epsilon (view->y, (h - 643 * fit) / 2, 1e-6);

  /* 1:1 keeps the image point at the centre of the view */
  rm_canvas_widget_to_image (canvas, w / 2, h / 2, &ix0, &iy0);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.zoom-1to1", NULL));
  g_assert_cmpfloat_with_epsilon (rm_canvas_get_zoom (canvas), 1.0, 1e-9);
  g_assert_false (rm_canvas_get_fit (canvas));
  rm_canvas_widget_to_image (canvas, w / 2, h / 2, &ix1, &iy1);
  g_assert_cmpfloat_with_epsilon (ix1, ix0, 1e-6);
  g_assert_cmpfloat_with_epsilon (iy1, iy0, 1e-6);

  /* zoom in and out by one step each */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.zoom-in", NULL));
  g_assert_cmpfloat_with_epsilon (rm_canvas_get_zoom (canvas), RM_CANVAS_ZOOM_STEP, 1e-9);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.zoom-out", NULL));
  g_assert_cmpfloat_with_epsilon (rm_canvas_get_zoom (canvas), 1.0, 1e-9);
  g_assert_true (wait_for (window_idle_any, window, "the zoom animation"));
  g_assert_cmpstr (gtk_label_get_label (window->zoom_label), ==, "100 %");

  /* zoom about a point: that image point stays under it */
  rm_canvas_widget_to_image (canvas, 100, 120, &ix0, &iy0);
  rm_canvas_zoom_at (canvas, 4.0, 100, 120, FALSE);
  g_assert_cmpfloat_with_epsilon (rm_canvas_get_zoom (canvas), 4.0, 1e-9);
  rm_canvas_widget_to_image (canvas, 100, 120, &ix1, &iy1);
  g_assert_cmpfloat_with_epsilon (ix1, ix0, 1e-6);
  g_assert_cmpfloat_with_epsilon (iy1, iy0, 1e-6);

  /* pan moves the image with the pointer, and stops at the image's edge */
  {
    double x0 = view->x, y0 = view->y;

    rm_canvas_pan (canvas, -50, -30);
    g_assert_cmpfloat_with_epsilon (view->x, x0 - 50, 1e-6);
    g_assert_cmpfloat_with_epsilon (view->y, y0 - 30, 1e-6);
    rm_canvas_pan (canvas, 1e6, 1e6);
    g_assert_cmpfloat_with_epsilon (view->x, 0, 1e-6);
    g_assert_cmpfloat_with_epsilon (view->y, 0, 1e-6);
  }

  /* at 4:1 the full-resolution level is drawn, a few tiles only */
  wait_for_frame (GTK_WIDGET (canvas));
  g_assert_cmpuint (rm_canvas_get_drawn_level (canvas), ==, 0);
  g_assert_cmpuint (rm_canvas_get_n_drawn_tiles (canvas), >=, 1);
  g_assert_cmpuint (rm_canvas_get_n_drawn_tiles (canvas), <=, 4);

  /* back to fit; the fit action is then disabled, zoom-out too (nothing to gain) */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.zoom-fit", NULL));
  g_assert_true (rm_canvas_get_fit (canvas));
  g_assert_cmpfloat_with_epsilon (view->scale, fit, 1e-9);
  g_assert_false (action_enabled (window, "win.zoom-fit"));
  g_assert_false (action_enabled (window, "win.zoom-out"));
  g_assert_true (action_enabled (window, "win.zoom-in"));
  g_assert_true (action_enabled (window, "win.zoom-1to1"));

  close_window (window);
}

static gboolean
mask_is_empty (RmCandidate *candidate)
{
  const guint8 *mask = rm_candidate_get_mask (candidate);
  gsize n = (gsize) rm_candidate_get_width (candidate) * rm_candidate_get_height (candidate);

  for (gsize i = 0; i < n; i++)
    if (mask[i] != 0)
      return FALSE;

  return TRUE;
}

/* Space+drag pans whatever the tool (brush, eraser, polygon), and releasing Space gives the
 * tool back. */
static void
test_space_pan (void)
{
  RmWindow *window = open_sample_window ();
  RmCanvas *canvas = rm_window_get_canvas (window);
  const RmView *view = rm_canvas_get_view (canvas);
  RmImagePyramid *image = rm_canvas_get_image (canvas);
  int width = rm_image_pyramid_get_width (image), height = rm_image_pyramid_get_height (image);
  g_autoptr (GFile) folder = sample_folder ();
  g_autoptr (GFile) file = g_file_get_child (folder, "space-pan.png");
  g_autoptr (GBytes) mask =
      g_bytes_new_take (g_malloc0 ((gsize) width * height), (gsize) width * height);
  g_autoptr (RmAnnotation) annotation =
      rm_annotation_new (file, "nothing", width, height, mask, RM_ANNOTATION_STATUS_CANDIDATE,
                         RM_ANNOTATION_SOURCE_MODEL);
  g_autoptr (RmCandidate) candidate = rm_candidate_new_for_annotation (annotation);
  const RmCanvasTool tools[] = { RM_CANVAS_TOOL_BRUSH, RM_CANVAS_TOOL_ERASER,
                                 RM_CANVAS_TOOL_POLYGON, RM_CANVAS_TOOL_POLYGON_ERASE };
  double w = gtk_widget_get_width (GTK_WIDGET (canvas));
  double h = gtk_widget_get_height (GTK_WIDGET (canvas));
  double x0, y0;

  rm_canvas_set_candidate (canvas, candidate);
  rm_canvas_zoom_at (canvas, 4.0, w / 2, h / 2, FALSE);
  g_assert_false (rm_canvas_get_space_held (canvas));

  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      rm_canvas_set_tool (canvas, tools[i]);
      rm_canvas_set_space_held (canvas, TRUE);
      x0 = view->x;
      y0 = view->y;
      g_assert_true (rm_canvas_drag_begin (canvas, GDK_BUTTON_PRIMARY, w / 2, h / 2));
      rm_canvas_drag_update (canvas, -20, -10);
      rm_canvas_drag_update (canvas, -40, -25);
      rm_canvas_drag_end (canvas, -40, -25, 1000 * (i + 1), 0);
      g_assert_cmpfloat_with_epsilon (view->x, x0 - 40, 1e-6);
      g_assert_cmpfloat_with_epsilon (view->y, y0 - 25, 1e-6);
      /* a Space click with a polygon tool adds no vertex either */
      g_assert_true (rm_canvas_drag_begin (canvas, GDK_BUTTON_PRIMARY, w / 2, h / 2));
      rm_canvas_drag_end (canvas, 0, 0, 1000 * (i + 1) + 500, 0);
      g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 0);
      g_assert_true (mask_is_empty (candidate));
      g_assert_false (rm_candidate_can_undo (candidate));
      rm_canvas_set_space_held (canvas, FALSE);
      g_assert_cmpint (rm_canvas_get_tool (canvas), ==, tools[i]);
    }

  /* Space released: the polygon tool takes vertices again… */
  x0 = view->x;
  y0 = view->y;
  g_assert_true (rm_canvas_drag_begin (canvas, GDK_BUTTON_PRIMARY, w / 2, h / 2));
  rm_canvas_drag_end (canvas, 0, 0, 9000, 0);
  g_assert_cmpuint (rm_canvas_get_polygon_n_points (canvas), ==, 1);
  rm_canvas_polygon_cancel (canvas);

  /* … and the brush paints, without panning */
  rm_canvas_set_tool (canvas, RM_CANVAS_TOOL_BRUSH);
  g_assert_true (rm_canvas_drag_begin (canvas, GDK_BUTTON_PRIMARY, w / 2, h / 2));
  rm_canvas_drag_update (canvas, 30, 0);
  rm_canvas_drag_end (canvas, 30, 0, 10000, 0);
  g_assert_cmpfloat_with_epsilon (view->x, x0, 1e-6);
  g_assert_cmpfloat_with_epsilon (view->y, y0, 1e-6);
  g_assert_false (mask_is_empty (candidate));
  g_assert_true (rm_candidate_can_undo (candidate));

  /* the middle button still pans with the brush */
  g_assert_true (rm_canvas_drag_begin (canvas, GDK_BUTTON_MIDDLE, w / 2, h / 2));
  rm_canvas_drag_update (canvas, 15, 12);
  rm_canvas_drag_end (canvas, 15, 12, 11000, 0);
  g_assert_cmpfloat_with_epsilon (view->x, x0 + 15, 1e-6);
  g_assert_cmpfloat_with_epsilon (view->y, y0 + 12, 1e-6);

  rm_canvas_set_candidate (canvas, NULL);
  rm_canvas_set_tool (canvas, RM_CANVAS_TOOL_PAN);
  close_window (window);
}

static gboolean
canvas_shows_width (gpointer data)
{
  RmWindow *window = data;
  RmImagePyramid *image = rm_canvas_get_image (rm_window_get_canvas (window));

  return !rm_window_get_busy (window) && image != NULL &&
         rm_image_pyramid_get_width (image) ==
             GPOINTER_TO_INT (g_object_get_data (G_OBJECT (window), "expected-width"));
}

static void
test_navigation (void)
{
  RmWindow *window = open_sample_window ();
  RmCanvas *canvas = rm_window_get_canvas (window);
  const int widths[] = { 797, 510, 682, 859 };

  g_assert_false (action_enabled (window, "win.prev-image"));
  g_assert_true (action_enabled (window, "win.next-image"));

  for (guint i = 1; i < N_SAMPLE_IMAGES; i++)
    {
      rm_canvas_zoom_at (canvas, 2.0, 10, 10, FALSE);
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.next-image", NULL));
      g_assert_cmpuint (rm_window_get_selected (window), ==, i);
      g_object_set_data (G_OBJECT (window), "expected-width", GINT_TO_POINTER (widths[i]));
      g_assert_true (wait_for (canvas_shows_width, window, "the next image"));
      g_assert_true (rm_canvas_get_fit (canvas)); /* a new image starts fitted */
    }

  /* at the end, next is off */
  g_assert_false (action_enabled (window, "win.next-image"));
  g_assert_true (action_enabled (window, "win.prev-image"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.prev-image", NULL));
  g_assert_cmpuint (rm_window_get_selected (window), ==, N_SAMPLE_IMAGES - 2);
  g_object_set_data (G_OBJECT (window), "expected-width", GINT_TO_POINTER (widths[2]));
  g_assert_true (wait_for (canvas_shows_width, window, "the previous image"));

  close_window (window);
}

static void
test_query_bar_needs_model (void)
{
  RmWindow *window = open_sample_window ();

  /* No model engine yet: the bar is there, says so, and runs nothing. */
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->query_entry)));
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (window->query_entry)));
  g_assert_nonnull (strstr (gtk_label_get_label (window->query_status_label), "model is required"));
  g_assert_false (window->model_loaded);
  g_assert_false (action_enabled (window, "win.run-query"));
  g_assert_false (action_enabled (window, "win.focus-query"));

  close_window (window);
}

static void
test_accelerators (void)
{
  static const char *actions[] = {
    "app.quit",         "app.about",      "app.shortcuts",   "app.preferences", "win.open",
    "win.import",       "win.zoom-in",    "win.zoom-out",    "win.zoom-fit",    "win.zoom-1to1",
    "win.next-image",   "win.prev-image", "win.focus-query", "window.close",    "win.cancel-query",
    "win.toggle-prior", "win.undo",       "win.redo",        "win.accept",      "win.reject",
  };
  static const struct
  {
    const char *action;
    const char *accel;
  } expected[] = {
    { "app.quit", "<Control>q" },        { "app.shortcuts", "<Control>question" },
    { "win.zoom-in", "<Control>plus" },  { "win.zoom-out", "<Control>minus" },
    { "win.zoom-fit", "<Control>0" },    { "win.zoom-1to1", "<Control>1" },
    { "win.next-image", "Page_Down" },   { "win.prev-image", "Page_Up" },
    { "win.open", "<Control>o" },        { "win.import", "<Control>i" },
    { "win.cancel-query", "Escape" },    { "win.toggle-prior", "<Control>p" },
    { "win.undo", "<Control>z" },        { "win.redo", "<Shift><Control>z" },
    { "win.accept", "<Control>Return" }, { "win.reject", "Delete" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    {
      g_auto (GStrv) accels =
          gtk_application_get_accels_for_action (GTK_APPLICATION (app), actions[i]);

      g_test_message ("%s: %s", actions[i], accels[0] != NULL ? accels[0] : "(none)");
      g_assert_nonnull (accels[0]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_auto (GStrv) accels =
          gtk_application_get_accels_for_action (GTK_APPLICATION (app), expected[i].action);

      g_assert_true (g_strv_contains ((const char *const *) accels, expected[i].accel));
    }
}

/* Checks each GtkShortcutsShortcut under @widget; returns how many name an action. */
static guint
check_shortcuts (GtkWidget *widget)
{
  guint n = 0;

  if (GTK_IS_SHORTCUTS_SHORTCUT (widget))
    {
      g_autofree char *action = NULL;
      g_autofree char *accelerator = NULL;

      g_object_get (widget, "action-name", &action, "accelerator", &accelerator, NULL);
      if (action == NULL)
        return 0;
      g_test_message ("shortcuts window: %s = %s", action, accelerator);
      g_assert_nonnull (accelerator);
      g_assert_cmpstr (accelerator, !=, "");
      if (g_str_equal (action, "win.zoom-fit"))
        g_assert_cmpstr (accelerator, ==, "<Control>0 <Control>KP_0");
      return 1;
    }

  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n += check_shortcuts (child);

  return n;
}

static void
test_dialogs (void)
{
  RmWindow *window = open_sample_window ();
  GSettings *settings = rm_application_get_settings (app);
  GtkWindow *dialog;

  /* Every shortcut that names an action shows the accelerators the application registered. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.shortcuts", NULL));
  dialog = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_nonnull (dialog);
  g_assert_cmpuint (check_shortcuts (GTK_WIDGET (dialog)), >=, 14);
  gtk_window_close (dialog);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (dialog)));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.about", NULL));
  dialog = find_toplevel (GTK_TYPE_ABOUT_DIALOG);
  g_assert_nonnull (dialog);
  g_assert_cmpstr (gtk_about_dialog_get_program_name (GTK_ABOUT_DIALOG (dialog)), ==,
                   "Refmask Studio");
  gtk_window_destroy (dialog);

  /* Preferences write through to GSettings, and follow it. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.preferences", NULL));
  dialog = find_toplevel (RM_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (dialog);
  {
    GtkWidget *spin = NULL;
    GtkWidget *dropdown = NULL;
    GtkWidget *scale = NULL;
    GtkWidget *color = NULL;
    GdkRGBA rgba;

    for (GtkWidget *w = gtk_widget_get_first_child (gtk_window_get_child (dialog)); w != NULL;
         w = gtk_widget_get_next_sibling (w))
      {
        if (GTK_IS_SPIN_BUTTON (w))
          spin = w;
        else if (GTK_IS_DROP_DOWN (w))
          dropdown = w;
        else if (GTK_IS_SCALE (w))
          scale = w;
        else if (GTK_IS_COLOR_BUTTON (w))
          color = w;
      }
    g_assert_nonnull (spin);
    g_assert_nonnull (dropdown);
    g_assert_nonnull (scale);
    g_assert_nonnull (color);

    gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 3);
    g_assert_cmpint (g_settings_get_int (settings, "threads"), ==, 3);
    gtk_drop_down_set_selected (GTK_DROP_DOWN (dropdown), 1);
    g_assert_cmpint (g_settings_get_enum (settings, "device"), ==, 1); /* cpu */
    gtk_range_set_value (GTK_RANGE (scale), 0.25);
    g_assert_cmpfloat_with_epsilon (g_settings_get_double (settings, "overlay-opacity"), 0.25,
                                    1e-9);

    g_settings_set_string (settings, "device", "cuda");
    g_assert_cmpuint (gtk_drop_down_get_selected (GTK_DROP_DOWN (dropdown)), ==, 2);
    g_settings_reset (settings, "device");
    g_settings_reset (settings, "threads");
    g_settings_reset (settings, "overlay-opacity");

    /* the candidate colour: the button shows the setting and writes it; the canvas follows */
    gtk_color_chooser_get_rgba (GTK_COLOR_CHOOSER (color), &rgba);
    g_assert_cmpfloat_with_epsilon (rgba.blue, 1.0, 1e-6); /* #33d9ff */
    gtk_color_chooser_set_rgba (GTK_COLOR_CHOOSER (color), &(GdkRGBA){ 1.0f, 0.5f, 0.0f, 1.0f });
    {
      g_autofree char *value = g_settings_get_string (settings, "candidate-color");

      g_assert_cmpstr (value, ==, "#ff8000");
    }
    g_assert_cmpstr (rm_canvas_get_candidate_color (rm_window_get_canvas (window)), ==, "#ff8000");
    g_settings_set_string (settings, "candidate-color", "#102030");
    gtk_color_chooser_get_rgba (GTK_COLOR_CHOOSER (color), &rgba);
    g_assert_cmpfloat_with_epsilon (rgba.red, 0x10 / 255.0, 1e-6);
    g_assert_cmpfloat_with_epsilon (rgba.blue, 0x30 / 255.0, 1e-6);
    g_settings_reset (settings, "candidate-color");
    g_assert_cmpstr (rm_canvas_get_candidate_color (rm_window_get_canvas (window)), ==, "#33d9ff");
  }
  gtk_window_destroy (dialog);

  close_window (window);
}

/* A 6000 x 4000 image: the canvas draws a coarse level when zoomed out and a handful of tiles
 * at 1:1, so a frame costs the same as for a small image. */
static void
test_large_image (void)
{
  RmWindow *window = open_sample_window ();
  RmCanvas *canvas = rm_window_get_canvas (window);
  g_autoptr (RmImagePyramid) pyramid = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const int width = 6000, height = 4000;
  guint8 *data = g_malloc ((gsize) width * height * 4);
  double w = gtk_widget_get_width (GTK_WIDGET (canvas));
  double h = gtk_widget_get_height (GTK_WIDGET (canvas));
  guint max_tiles;
  gint64 start;

  /* the same panning on a small image, for comparison */
  rm_canvas_zoom_at (canvas, 2.0, w / 2, h / 2, FALSE);
  wait_for_frame (GTK_WIDGET (canvas));
  start = g_get_monotonic_time ();
  for (int i = 0; i < 10; i++)
    {
      rm_canvas_pan (canvas, -7, -5);
      wait_for_frame (GTK_WIDGET (canvas));
    }
  g_test_message ("10 panned frames, 797 x 643 image at 2:1: %.1f ms each",
                  (g_get_monotonic_time () - start) / 10000.0);

  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      data[i * 4 + 0] = (guint8) (i * 7);
      data[i * 4 + 1] = (guint8) (i / width);
      data[i * 4 + 2] = 128;
      data[i * 4 + 3] = 255;
    }
  bytes = g_bytes_new_take (data, (gsize) width * height * 4);
  texture = gdk_memory_texture_new (width, height, GDK_MEMORY_DEFAULT, bytes, (gsize) width * 4);
  pyramid = rm_image_pyramid_new_for_texture (texture, RM_IMAGE_PYRAMID_TILE_SIZE);
  rm_canvas_set_image (canvas, pyramid);

  max_tiles = (guint) ((ceil (w / RM_IMAGE_PYRAMID_TILE_SIZE) + 1) *
                       (ceil (h / RM_IMAGE_PYRAMID_TILE_SIZE) + 1));

  start = g_get_monotonic_time ();
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("fit: level %u, %u tiles, first frame %.1f ms",
                  rm_canvas_get_drawn_level (canvas), rm_canvas_get_n_drawn_tiles (canvas),
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpuint (rm_canvas_get_drawn_level (canvas), >=, 2);
  g_assert_cmpuint (rm_canvas_get_n_drawn_tiles (canvas), <=, max_tiles);

  rm_canvas_zoom_at (canvas, 1.0, w / 2, h / 2, FALSE);
  start = g_get_monotonic_time ();
  wait_for_frame (GTK_WIDGET (canvas));
  g_test_message ("1:1: level %u, %u tiles, first frame %.1f ms",
                  rm_canvas_get_drawn_level (canvas), rm_canvas_get_n_drawn_tiles (canvas),
                  (g_get_monotonic_time () - start) / 1000.0);
  g_assert_cmpuint (rm_canvas_get_drawn_level (canvas), ==, 0);
  g_assert_cmpuint (rm_canvas_get_n_drawn_tiles (canvas), <=, max_tiles);

  /* panning redraws from the same tiles */
  start = g_get_monotonic_time ();
  for (int i = 0; i < 10; i++)
    {
      rm_canvas_pan (canvas, -37, -23);
      wait_for_frame (GTK_WIDGET (canvas));
    }
  g_test_message ("10 panned frames, 6000 x 4000 image at 1:1: %.1f ms each",
                  (g_get_monotonic_time () - start) / 10000.0);
  g_assert_cmpuint (rm_canvas_get_n_drawn_tiles (canvas), <=, max_tiles);

  close_window (window);
}

/* Renders the window to a PNG next to the test binary and checks that the image is drawn. */
static void
test_screenshot (void)
{
  RmWindow *window = open_sample_window ();
  RmCanvas *canvas = rm_window_get_canvas (window);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autoptr (GskRenderNode) node = NULL;
  g_autofree char *path = NULL;
  g_autofree guint8 *pixels = NULL;
  GtkSnapshot *snapshot;
  graphene_point_t centre;
  int width, height;
  const guint8 *p;

  g_assert_true (wait_for (thumbnails_done, window, "the thumbnails"));
  wait_for_frame (GTK_WIDGET (window));
  g_test_message ("renderer: %s",
                  G_OBJECT_TYPE_NAME (gtk_native_get_renderer (GTK_NATIVE (window))));

  width = gtk_widget_get_width (GTK_WIDGET (window));
  height = gtk_widget_get_height (GTK_WIDGET (window));
  paintable = gtk_widget_paintable_new (GTK_WIDGET (window));
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  path = g_test_build_filename (G_TEST_BUILT, "refmask-studio-window.png", NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s (%d x %d)", path, width, height);

  /* The centre of the canvas shows the image: compare with the decoded pixel there. */
  {
    RmImagePyramid *image = rm_canvas_get_image (canvas);
    const RmImageTile *tile;
    g_autofree guint8 *tile_pixels = NULL;
    graphene_point_t local;
    const guint8 *q;
    double ix, iy;
    int column, row;

    local = GRAPHENE_POINT_INIT (gtk_widget_get_width (GTK_WIDGET (canvas)) / 2.f,
                                 gtk_widget_get_height (GTK_WIDGET (canvas)) / 2.f);
    g_assert_true (
        gtk_widget_compute_point (GTK_WIDGET (canvas), GTK_WIDGET (window), &local, &centre));
    rm_canvas_widget_to_image (canvas, local.x, local.y, &ix, &iy);
    column = (int) ix / RM_IMAGE_PYRAMID_TILE_SIZE;
    row = (int) iy / RM_IMAGE_PYRAMID_TILE_SIZE;
    tile = rm_image_pyramid_get_tile (image, 0, column, row);
    tile_pixels = g_malloc ((gsize) tile->width * tile->height * 4);
    gdk_texture_download (tile->texture, tile_pixels, (gsize) tile->width * 4);
    q = tile_pixels +
        ((gsize) ((int) iy - tile->y) * tile->width + (gsize) ((int) ix - tile->x)) * 4;

    width = gdk_texture_get_width (texture);
    height = gdk_texture_get_height (texture);
    pixels = g_malloc ((gsize) width * height * 4);
    gdk_texture_download (texture, pixels, (gsize) width * 4);
    p = pixels + ((gsize) centre.y * width + (gsize) centre.x) * 4;
    g_test_message ("centre: drawn %d %d %d, image %d %d %d", p[2], p[1], p[0], q[2], q[1], q[0]);
    for (int c = 0; c < 3; c++)
      g_assert_cmpint (ABS ((int) p[c] - (int) q[c]), <=, 48);
  }

  close_window (window);
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  app = gui_test_app_new ();

  g_test_add_func ("/window/sidebar", test_sidebar);
  g_test_add_func ("/window/zoom-and-pan", test_zoom_and_pan);
  g_test_add_func ("/window/space-pan", test_space_pan);
  g_test_add_func ("/window/navigation", test_navigation);
  g_test_add_func ("/window/query-bar-needs-model", test_query_bar_needs_model);
  g_test_add_func ("/window/accelerators", test_accelerators);
  g_test_add_func ("/window/dialogs", test_dialogs);
  g_test_add_func ("/window/large-image", test_large_image);
  g_test_add_func ("/window/screenshot", test_screenshot);

  status = g_test_run ();

  g_clear_pointer (&app, gui_test_app_free);

  return status;
}
