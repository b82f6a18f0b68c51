/* rm-window-actions.c: the win.* actions
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-image-pyramid.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

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

static void
run_query_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _rm_window_start_query (RM_WINDOW (widget));
}

static void
cancel_query_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _rm_window_cancel_query (RM_WINDOW (widget));
}

static void
use_recent_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _rm_window_use_recent (RM_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
reload_model_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  _rm_window_reload_model (RM_WINDOW (widget));
}

/* The text field with the keyboard focus, if any: Ctrl+Z and Delete are its own there. */
static GtkWidget *
focused_text (RmWindow *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  return GTK_IS_TEXT (focus) ? focus : NULL;
}

static void
edit_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkWidget *text = focused_text (self);
  RmCandidate *candidate = self->candidate;

  if (candidate == NULL)
    return;

  if (g_str_equal (action_name, "win.undo"))
    {
      if (text != NULL)
        gtk_widget_activate_action (text, "text.undo", NULL);
      else
        rm_candidate_undo (candidate);
    }
  else if (g_str_equal (action_name, "win.redo"))
    {
      if (text != NULL)
        gtk_widget_activate_action (text, "text.redo", NULL);
      else
        rm_candidate_redo (candidate);
    }
  else if (g_str_equal (action_name, "win.fill-holes"))
    {
      if (!rm_candidate_fill_holes (candidate))
        _rm_window_show_message (self, _ ("The mask has no holes."));
    }
  else
    g_assert_not_reached ();
}

static void
finish_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkWidget *text = focused_text (self);

  if (g_str_equal (action_name, "win.accept"))
    _rm_window_finish_candidate (self, RM_ANNOTATION_STATUS_ACCEPTED);
  else if (text != NULL)
    /* Delete in the query bar deletes text */
    g_signal_emit_by_name (text, "delete-from-cursor", GTK_DELETE_CHARS, 1);
  else
    _rm_window_finish_candidate (self, RM_ANNOTATION_STATUS_REJECTED);
}

static void
brush_size_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  double size = gtk_adjustment_get_value (self->brush_adjustment);

  if (g_str_equal (action_name, "win.brush-larger"))
    size = MAX (size + 1, round (size * 1.25));
  else
    size = MIN (size - 1, round (size / 1.25));
  gtk_adjustment_set_value (self->brush_adjustment, size);
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
  gtk_widget_class_install_action (widget_class, "win.cancel-query", NULL, cancel_query_action);
  gtk_widget_class_install_action (widget_class, "win.use-recent", "s", use_recent_action);
  gtk_widget_class_install_action (widget_class, "win.reload-model", NULL, reload_model_action);
  gtk_widget_class_install_property_action (widget_class, "win.toggle-prior", "show-prior");
  gtk_widget_class_install_property_action (widget_class, "win.tool", "tool");
  gtk_widget_class_install_action (widget_class, "win.brush-smaller", NULL, brush_size_action);
  gtk_widget_class_install_action (widget_class, "win.brush-larger", NULL, brush_size_action);
  gtk_widget_class_install_action (widget_class, "win.fill-holes", NULL, edit_action);
  gtk_widget_class_install_action (widget_class, "win.undo", NULL, edit_action);
  gtk_widget_class_install_action (widget_class, "win.redo", NULL, edit_action);
  gtk_widget_class_install_action (widget_class, "win.accept", NULL, finish_action);
  gtk_widget_class_install_action (widget_class, "win.reject", NULL, finish_action);
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
  gboolean running = self->query_cancellable != NULL;
  gboolean has_candidate = self->candidate != NULL;
  gboolean has_recent =
      self->recent_menu != NULL && g_menu_model_get_n_items (G_MENU_MODEL (self->recent_menu)) > 0;
  gboolean can_reload = self->segmenter != NULL &&
                        rm_segmenter_get_model_dir (self->segmenter) != NULL &&
                        rm_segmenter_get_state (self->segmenter) != RM_SEGMENTER_STATE_LOADING;

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
  gtk_widget_action_set_enabled (widget, "win.run-query",
                                 self->model_loaded && has_image && !running);
  gtk_widget_action_set_enabled (widget, "win.cancel-query", running && !self->query_cancelling);
  gtk_widget_action_set_enabled (widget, "win.use-recent",
                                 self->model_loaded && has_image && !running);
  gtk_widget_action_set_enabled (widget, "win.reload-model", can_reload);

  gtk_widget_action_set_enabled (widget, "win.toggle-prior", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.tool", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.brush-smaller", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.brush-larger", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.fill-holes", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.undo",
                                 has_candidate && rm_candidate_can_undo (self->candidate));
  gtk_widget_action_set_enabled (widget, "win.redo",
                                 has_candidate && rm_candidate_can_redo (self->candidate));
  gtk_widget_action_set_enabled (widget, "win.accept", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.reject", has_candidate);

  gtk_widget_set_sensitive (GTK_WIDGET (self->query_entry), self->model_loaded);
  gtk_widget_set_sensitive (GTK_WIDGET (self->recent_button),
                            self->model_loaded && has_recent && !running);
}
