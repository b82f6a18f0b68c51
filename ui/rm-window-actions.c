/* rm-window-actions.c: the win.* actions
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-batch-dialog.h"
#include "rm-finetune-dialog.h"
#include "rm-image-pyramid.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

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

/* Esc: the polygon being drawn goes first, then the running query. */
static void
cancel_query_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  if (rm_canvas_get_polygon_n_points (self->canvas) > 0)
    rm_canvas_polygon_cancel (self->canvas);
  else
    _rm_window_cancel_query (self);
  _rm_window_actions_update (self);
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

  /* one history for the candidate's mask and the annotations (rm-window-annotations.c) */
  if (g_str_equal (action_name, "win.undo"))
    {
      if (text != NULL)
        gtk_widget_activate_action (text, "text.undo", NULL);
      else
        _rm_window_undo (self, FALSE);
    }
  else if (g_str_equal (action_name, "win.redo"))
    {
      if (text != NULL)
        gtk_widget_activate_action (text, "text.redo", NULL);
      else
        _rm_window_undo (self, TRUE);
    }
  else if (g_str_equal (action_name, "win.fill-holes"))
    {
      if (candidate != NULL && !rm_candidate_fill_holes (candidate))
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
  gboolean accept = g_str_equal (action_name, "win.accept");
  RmAnnotationStatus status =
      accept ? RM_ANNOTATION_STATUS_ACCEPTED : RM_ANNOTATION_STATUS_REJECTED;

  if (!accept && text != NULL)
    /* Delete in the query bar (or an expression being edited) deletes text */
    g_signal_emit_by_name (text, "delete-from-cursor", GTK_DELETE_CHARS, 1);
  else if (self->candidate != NULL)
    _rm_window_finish_candidate (self, status);
  else
    /* the annotation selected in the panel (the one under review) */
    _rm_window_decide (self, status);
}

static void
annotation_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  if (g_str_equal (action_name, "win.delete-annotation"))
    _rm_window_delete_annotation (self);
  else if (g_str_equal (action_name, "win.edit-expression"))
    _rm_window_edit_expression (self);
  else if (g_str_equal (action_name, "win.edit-annotation"))
    _rm_window_edit_annotation (self);
  else
    g_assert_not_reached ();
}

static void
review_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);

  if (g_str_equal (action_name, "win.review"))
    _rm_window_review_start (self);
  else if (g_str_equal (action_name, "win.review-next"))
    _rm_window_review_step (self, TRUE);
  else if (g_str_equal (action_name, "win.review-prev"))
    _rm_window_review_step (self, FALSE);
  else if (g_str_equal (action_name, "win.review-stop"))
    _rm_window_review_stop (self);
  else
    g_assert_not_reached ();
}

/* The batch labelling and fine-tune dialogs: one of each, presented again while open. */
static void
dialog_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkWindow **dialog;

  if (g_str_equal (action_name, "win.batch-label"))
    dialog = &self->batch_dialog;
  else if (g_str_equal (action_name, "win.fine-tune"))
    dialog = &self->finetune_dialog;
  else
    g_assert_not_reached ();

  if (*dialog == NULL)
    {
      *dialog = dialog == &self->batch_dialog ? GTK_WINDOW (rm_batch_dialog_new (self))
                                              : GTK_WINDOW (rm_finetune_dialog_new (self));
      /* cleared when it goes; the window lets go of it when it goes first */
      g_object_add_weak_pointer (G_OBJECT (*dialog), (gpointer *) dialog);
    }
  gtk_window_present (*dialog);
}

static void
model_rollback_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  g_autofree char *dir = g_strdup (_rm_window_get_rollback_dir (self));

  if (dir != NULL)
    rm_window_load_model (self, dir);
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
  _rm_window_project_class_init (widget_class); /* win.open, win.new-project, win.import, … */
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
  gtk_widget_class_install_action (widget_class, "win.delete-annotation", NULL, annotation_action);
  gtk_widget_class_install_action (widget_class, "win.edit-expression", NULL, annotation_action);
  gtk_widget_class_install_action (widget_class, "win.edit-annotation", NULL, annotation_action);
  gtk_widget_class_install_action (widget_class, "win.review", NULL, review_action);
  gtk_widget_class_install_action (widget_class, "win.review-next", NULL, review_action);
  gtk_widget_class_install_action (widget_class, "win.review-prev", NULL, review_action);
  gtk_widget_class_install_action (widget_class, "win.review-stop", NULL, review_action);
  gtk_widget_class_install_action (widget_class, "win.batch-label", NULL, dialog_action);
  gtk_widget_class_install_action (widget_class, "win.fine-tune", NULL, dialog_action);
  gtk_widget_class_install_property_action (widget_class, "win.model-version", "model-version");
  gtk_widget_class_install_action (widget_class, "win.model-rollback", NULL, model_rollback_action);
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
  gboolean polygon = rm_canvas_get_polygon_n_points (self->canvas) > 0;
  gboolean ready = self->segmenter != NULL &&
                   rm_segmenter_get_state (self->segmenter) == RM_SEGMENTER_STATE_READY;
  gboolean loading = self->segmenter != NULL &&
                     rm_segmenter_get_state (self->segmenter) == RM_SEGMENTER_STATE_LOADING;
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
  gtk_widget_action_set_enabled (widget, "win.cancel-query",
                                 (running && !self->query_cancelling) || polygon);
  gtk_widget_action_set_enabled (widget, "win.use-recent",
                                 self->model_loaded && has_image && !running);
  gtk_widget_action_set_enabled (widget, "win.reload-model", can_reload);

  gtk_widget_action_set_enabled (widget, "win.toggle-prior", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.tool", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.brush-smaller", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.brush-larger", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.fill-holes", has_candidate);
  gtk_widget_action_set_enabled (widget, "win.batch-label", ready && n > 0);
  gtk_widget_action_set_enabled (widget, "win.fine-tune", ready);
  gtk_widget_action_set_enabled (
      widget, "win.model-version",
      self->model_versions != NULL &&
          g_list_model_get_n_items (G_LIST_MODEL (self->model_versions)) > 0);
  gtk_widget_action_set_enabled (widget, "win.model-rollback",
                                 !loading && self->model_versions != NULL &&
                                     _rm_window_get_rollback_dir (self) != NULL);
  /* accept, reject, undo, redo, the panel and the review */
  _rm_window_annotations_update (self);

  gtk_widget_set_sensitive (GTK_WIDGET (self->query_entry), self->model_loaded);
  gtk_widget_set_sensitive (GTK_WIDGET (self->recent_button),
                            self->model_loaded && has_recent && !running);
}
