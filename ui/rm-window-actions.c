/* rm-window-actions.c: the win.* actions
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-image-pyramid.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>

static GFile *
get_last_folder (RmWindow *self)
{
  g_autofree char *path = g_settings_get_string (self->settings, "last-folder");

  if (path[0] == '\0' || !g_file_test (path, G_FILE_TEST_IS_DIR))
    return NULL;

  return g_file_new_for_path (path);
}

static void
set_last_folder (RmWindow *self, GFile *folder)
{
  g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

  if (path != NULL)
    g_settings_set_string (self->settings, "last-folder", path);
}

static GtkFileChooserNative *
new_chooser (RmWindow *self, const char *title, GtkFileChooserAction action, const char *accept)
{
  GtkFileChooserNative *chooser;
  g_autoptr (GFile) folder = get_last_folder (self);

  chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), action, accept, _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (folder != NULL)
    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);

  return chooser;
}

static void
open_response (GtkNativeDialog *dialog, int response, RmWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      set_last_folder (self, folder);
      rm_window_add_files (self, &folder, 1, TRUE);
    }
  g_object_unref (dialog);
}

/* A project is a folder of images until the project store lands. */
static void
open_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkFileChooserNative *chooser;

  chooser =
      new_chooser (self, _ ("Open Project"), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Open"));
  g_signal_connect (chooser, "response", G_CALLBACK (open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
import_response (GtkNativeDialog *dialog, int response, RmWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GListModel) list = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < g_list_model_get_n_items (list); i++)
        g_ptr_array_add (files, g_list_model_get_item (list, i));
      if (files->len > 0)
        {
          g_autoptr (GFile) parent = g_file_get_parent (files->pdata[0]);

          set_last_folder (self, parent);
        }
      rm_window_add_files (self, (GFile **) files->pdata, files->len, FALSE);
    }
  g_object_unref (dialog);
}

static void
import_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkFileChooserNative *chooser;
  g_autoptr (GtkFileFilter) images = gtk_file_filter_new ();
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();

  chooser = new_chooser (self, _ ("Import Images"), GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Import"));
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), TRUE);

  gtk_file_filter_set_name (images, _ ("Images"));
  gtk_file_filter_add_mime_type (images, "image/png");
  gtk_file_filter_add_mime_type (images, "image/jpeg");
  gtk_file_filter_add_mime_type (images, "image/tiff");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
  gtk_file_filter_set_name (all, _ ("All Files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all);

  g_signal_connect (chooser, "response", G_CALLBACK (import_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
zoom_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  if (g_str_equal (action_name, "win.zoom-in"))
    rm_canvas_zoom_in (self->canvas);
  else if (g_str_equal (action_name, "win.zoom-out"))
    rm_canvas_zoom_out (self->canvas);
  else if (g_str_equal (action_name, "win.zoom-fit"))
    rm_canvas_zoom_fit (self->canvas);
  else if (g_str_equal (action_name, "win.zoom-1to1"))
    rm_canvas_zoom_1to1 (self->canvas);
  else
    g_assert_not_reached ();
}

static void
navigate_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  guint n = g_list_model_get_n_items (rm_window_get_images (self));
  guint position = rm_window_get_selected (self);

  if (position == GTK_INVALID_LIST_POSITION)
    return;

  if (g_str_equal (action_name, "win.next-image") && position + 1 < n)
    rm_window_select_image (self, position + 1);
  else if (g_str_equal (action_name, "win.prev-image") && position > 0)
    rm_window_select_image (self, position - 1);
}

static void
focus_query_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  gtk_widget_grab_focus (GTK_WIDGET (self->query_entry));
}

/* Disabled until the model engine is wired in: there is nothing honest to run yet. */
static void
run_query_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  _rm_window_show_message (self, _ ("A model is required to run queries. No model is loaded."));
}

void
_rm_window_class_actions_init (GtkWidgetClass *widget_class)
{
  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "win.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.zoom-1to1", NULL, zoom_action);
  gtk_widget_class_install_action (widget_class, "win.next-image", NULL, navigate_action);
  gtk_widget_class_install_action (widget_class, "win.prev-image", NULL, navigate_action);
  gtk_widget_class_install_action (widget_class, "win.focus-query", NULL, focus_query_action);
  gtk_widget_class_install_action (widget_class, "win.run-query", NULL, run_query_action);
}

void
_rm_window_actions_update (RmWindow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  const RmView *view = rm_canvas_get_view (self->canvas);
  gboolean has_image = rm_canvas_get_image (self->canvas) != NULL;
  guint n = g_list_model_get_n_items (rm_window_get_images (self));
  guint position = rm_window_get_selected (self);
  gboolean selected = position != GTK_INVALID_LIST_POSITION;

  gtk_widget_action_set_enabled (
      widget, "win.zoom-in", has_image && view->scale < rm_view_get_max_scale (view) * (1 - 1e-9));
  gtk_widget_action_set_enabled (
      widget, "win.zoom-out", has_image && view->scale > rm_view_get_min_scale (view) * (1 + 1e-9));
  gtk_widget_action_set_enabled (widget, "win.zoom-fit",
                                 has_image && !rm_canvas_get_fit (self->canvas));
  gtk_widget_action_set_enabled (widget, "win.zoom-1to1", has_image);
  gtk_widget_action_set_enabled (widget, "win.next-image", selected && position + 1 < n);
  gtk_widget_action_set_enabled (widget, "win.prev-image", selected && position > 0);
  gtk_widget_action_set_enabled (widget, "win.focus-query", self->model_loaded);
  gtk_widget_action_set_enabled (widget, "win.run-query", self->model_loaded && has_image);

  gtk_widget_set_sensitive (GTK_WIDGET (self->query_entry), self->model_loaded);
}
