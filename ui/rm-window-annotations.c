/* rm-window-annotations.c: the annotations panel, the undo history and the review
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The panel lists the selected image's annotations; selecting one draws its mask highlighted
 * over the image. Its expression is edited in place (F2, a double click or Enter on the row, or
 * the row's menu), its status is changed from the row's menu or with the candidate's keys
 * (Ctrl+Enter accepts, Delete rejects), it is deleted with Shift+Delete, and its mask is
 * corrected by making it the candidate again (Ctrl+M). Every one of these changes is one step of
 * the window's undo history (rm-history.c), which also holds the candidate's mask edits: Ctrl+Z
 * undoes the last thing done, and an undone change shows its annotation (going to its image).
 *
 * The review (Ctrl+R, Alt+Right, Alt+Left) steps through the candidates of every image in
 * sidebar order (rm-review-queue.c): each is shown on its image and selected in the panel, so
 * accepting, rejecting and correcting are the panel's own keys; after a decision the review goes
 * on to the next candidate still to decide.
 */

#include "rm-annotation-row.h"
#include "rm-image-item.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>

static void
set_status_text (RmWindow *self, const char *text)
{
  gtk_label_set_label (self->query_status_label, text);
}

RmAnnotation *
_rm_window_get_selected_annotation (RmWindow *self)
{
  if (self->annotation_selection == NULL)
    return NULL;

  return gtk_single_selection_get_selected_item (self->annotation_selection);
}

/* Selects @annotation in the panel (NULL: none); FALSE if it is not on the selected image. */
static gboolean
select_annotation (RmWindow *self, RmAnnotation *annotation)
{
  GListModel *model = G_LIST_MODEL (self->image_annotations);
  guint n = g_list_model_get_n_items (model);

  if (annotation != NULL)
    for (guint i = 0; i < n; i++)
      {
        g_autoptr (RmAnnotation) item = g_list_model_get_item (model, i);

        if (item == annotation)
          {
            gtk_single_selection_set_selected (self->annotation_selection, i);
            gtk_widget_activate_action (GTK_WIDGET (self->annotation_list), "list.scroll-to-item",
                                        "u", i);
            return TRUE;
          }
      }

  gtk_single_selection_set_selected (self->annotation_selection, GTK_INVALID_LIST_POSITION);

  return annotation == NULL;
}

static guint
find_image (RmWindow *self, GFile *file)
{
  GListModel *images = G_LIST_MODEL (self->images);
  guint n = g_list_model_get_n_items (images);

  for (guint i = 0; file != NULL && i < n; i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      if (g_file_equal (rm_image_item_get_file (item), file))
        return i;
    }

  return GTK_INVALID_LIST_POSITION;
}

/* Shows @annotation: its image is selected in the sidebar (and loads), and the annotation in
 * the panel. FALSE if its image is not in the project or it is not in the list. */
static gboolean
show_annotation (RmWindow *self, RmAnnotation *annotation)
{
  guint position = find_image (self, rm_annotation_get_image (annotation));

  if (position == GTK_INVALID_LIST_POSITION ||
      !g_list_store_find (self->annotations, annotation, NULL))
    return FALSE;
  if (position != rm_window_get_selected (self))
    rm_window_select_image (self, position);

  return select_annotation (self, annotation);
}

static char *
describe (RmAnnotation *annotation)
{
  const char *expression = rm_annotation_get_expression (annotation);

  return g_strdup (expression[0] != '\0' ? expression : _ ("(no expression)"));
}

/* ---- the review -------------------------------------------------------------------------- */

static void
update_review_bar (RmWindow *self)
{
  RmAnnotation *current = self->reviewing ? rm_review_queue_get_current (self->review) : NULL;
  g_autofree char *counter = NULL;
  g_autofree char *text = NULL;

  gtk_revealer_set_reveal_child (self->review_bar, self->reviewing);
  if (current != NULL)
    {
      g_autofree char *expression = describe (current);
      g_autofree char *image = g_file_get_basename (rm_annotation_get_image (current));

      counter = rm_review_queue_format_counter (self->review);
      /* Translators: the annotation under review: expression · image file · status */
      text = g_strdup_printf (_ ("“%s” · %s · %s"), expression, image,
                              rm_annotation_status_get_label (rm_annotation_get_status (current)));
    }
  gtk_label_set_label (self->review_counter_label, counter);
  gtk_label_set_label (self->review_label, text);
}

static void
review_show_current (RmWindow *self)
{
  RmAnnotation *current = rm_review_queue_get_current (self->review);

  /* a correction of another annotation stops here (what was corrected is kept), so that the
   * keys act on the annotation shown */
  if (self->candidate != NULL && rm_candidate_get_origin (self->candidate) != NULL &&
      rm_candidate_get_origin (self->candidate) != current)
    _rm_window_set_candidate (self, NULL);
  if (current != NULL)
    show_annotation (self, current);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

static gboolean
has_candidates (RmWindow *self)
{
  GListModel *annotations = G_LIST_MODEL (self->annotations);
  guint n = g_list_model_get_n_items (annotations);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);

      if (rm_annotation_get_status (annotation) == RM_ANNOTATION_STATUS_CANDIDATE)
        return TRUE;
    }

  return FALSE;
}

/* Starts a review of every candidate, in sidebar order, at the first one. */
void
_rm_window_review_start (RmWindow *self)
{
  GListModel *images = G_LIST_MODEL (self->images);
  guint n_images = g_list_model_get_n_items (images);
  g_autoptr (GPtrArray) files = g_ptr_array_new_full (n_images, g_object_unref);
  g_autofree char *text = NULL;
  guint n;

  for (guint i = 0; i < n_images; i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      g_ptr_array_add (files, g_object_ref (rm_image_item_get_file (item)));
    }
  rm_review_queue_reset (self->review, G_LIST_MODEL (self->annotations),
                         (GFile *const *) files->pdata, files->len);

  n = rm_review_queue_get_n_items (self->review);
  self->reviewing = n > 0;
  if (n == 0)
    {
      _rm_window_show_message (
          self, _ ("There are no candidates to review. Batch labelling (Ctrl+B) makes some."));
      update_review_bar (self);
      _rm_window_actions_update (self);
      return;
    }

  text = g_strdup_printf (ngettext ("Reviewing %u candidate: accept (Ctrl+Enter), reject (Delete) "
                                    "or correct (Ctrl+M) it.",
                                    "Reviewing %u candidates: accept (Ctrl+Enter), reject (Delete) "
                                    "or correct (Ctrl+M) each; Alt+Right and Alt+Left move on and "
                                    "back.",
                                    n),
                          n);
  set_status_text (self, text);
  review_show_current (self);
}

/* The next (or previous) annotation of the review; starts one if none is going on. */
void
_rm_window_review_step (RmWindow *self, gboolean forwards)
{
  if (!self->reviewing)
    {
      _rm_window_review_start (self);
      return;
    }

  if (forwards ? rm_review_queue_next (self->review) : rm_review_queue_previous (self->review))
    review_show_current (self);
  else
    _rm_window_show_message (self, forwards ? _ ("This is the last candidate of the review.")
                                            : _ ("This is the first candidate of the review."));
}

void
_rm_window_review_stop (RmWindow *self)
{
  self->reviewing = FALSE;
  rm_review_queue_clear (self->review);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

/* After @annotation was accepted or rejected: if it is the one under review, the review moves
 * on to the next candidate still to decide. */
void
_rm_window_review_after_decision (RmWindow *self, RmAnnotation *annotation)
{
  g_autofree char *text = NULL;
  guint n;

  if (!self->reviewing || rm_review_queue_get_current (self->review) != annotation)
    {
      update_review_bar (self);
      _rm_window_actions_update (self);
      return;
    }

  if (rm_review_queue_next_pending (self->review))
    {
      review_show_current (self);
      return;
    }

  n = rm_review_queue_get_n_items (self->review);
  text = g_strdup_printf (
      ngettext ("The candidate is reviewed.", "All %u candidates are reviewed.", n), n);
  set_status_text (self, text);
  _rm_window_show_message (self, text);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

/* ---- panel operations -------------------------------------------------------------------- */

/* Accepts or rejects the annotation selected in the panel (the one under review). */
void
_rm_window_decide (RmWindow *self, RmAnnotationStatus status)
{
  g_autoptr (RmAnnotation) annotation = NULL;
  g_autofree char *expression = NULL;
  g_autofree char *text = NULL;

  if (_rm_window_get_selected_annotation (self) == NULL)
    return;

  annotation = g_object_ref (_rm_window_get_selected_annotation (self));
  expression = describe (annotation);
  rm_history_set_status (self->history, annotation, status);
  if (status == RM_ANNOTATION_STATUS_ACCEPTED)
    /* Translators: %s is the expression */
    text = g_strdup_printf (_ ("Accepted “%s”."), expression);
  else
    /* Translators: %s is the expression */
    text = g_strdup_printf (_ ("Rejected “%s”."), expression);
  set_status_text (self, text);
  _rm_window_review_after_decision (self, annotation);
}

static RmAnnotationRow *
find_row (RmWindow *self, RmAnnotation *annotation)
{
  return g_hash_table_lookup (self->annotation_rows, annotation);
}

static void
delete_annotation (RmWindow *self, RmAnnotation *annotation)
{
  g_autofree char *expression = describe (annotation);
  g_autofree char *text = NULL;

  /* its correction goes with it */
  if (self->candidate != NULL && rm_candidate_get_origin (self->candidate) == annotation)
    _rm_window_drop_candidate (self);
  if (!rm_history_delete (self->history, annotation))
    return;
  /* Translators: %s is the expression */
  text = g_strdup_printf (_ ("Deleted “%s”. Ctrl+Z brings it back."), expression);
  set_status_text (self, text);
  _rm_window_actions_update (self);
}

/* Deletes the annotation selected in the panel (undoable). */
void
_rm_window_delete_annotation (RmWindow *self)
{
  RmAnnotation *annotation = _rm_window_get_selected_annotation (self);

  if (annotation != NULL)
    delete_annotation (self, annotation);
}

/* Starts editing the selected annotation's expression in its row. */
void
_rm_window_edit_expression (RmWindow *self)
{
  RmAnnotation *annotation = _rm_window_get_selected_annotation (self);
  RmAnnotationRow *row;

  if (annotation == NULL)
    return;
  row = find_row (self, annotation);
  if (row == NULL)
    {
      /* not on screen: scroll to it, and its row is made */
      select_annotation (self, annotation);
      row = find_row (self, annotation);
    }
  if (row != NULL)
    rm_annotation_row_start_editing (row);
}

/* Makes the selected annotation the candidate, to correct its mask; accepting the candidate
 * updates the annotation. */
void
_rm_window_edit_annotation (RmWindow *self)
{
  RmAnnotation *annotation = _rm_window_get_selected_annotation (self);
  g_autoptr (RmCandidate) candidate = NULL;

  if (annotation == NULL)
    return;
  if (self->candidate != NULL && rm_candidate_get_origin (self->candidate) == annotation)
    return;

  candidate = rm_candidate_new_for_annotation (annotation);
  if (candidate == NULL)
    return;
  _rm_window_set_candidate (self, candidate);
  if (g_str_equal (self->tool, "pan"))
    gtk_widget_activate_action (GTK_WIDGET (self), "win.tool", "s", "brush");
  set_status_text (self, _ ("Correct the mask with the brush, the eraser or polygons, then accept "
                            "(Ctrl+Enter) or reject (Delete)."));
}

/* Undo (or redo) for Ctrl+Z (Ctrl+Shift+Z): a corner of the polygon being drawn, else the last
 * step of the history; an annotation that changes is shown. */
void
_rm_window_undo (RmWindow *self, gboolean redo)
{
  RmAnnotation *touched = NULL;
  gboolean done;

  if (!redo && rm_canvas_polygon_remove_point (self->canvas))
    {
      _rm_window_actions_update (self);
      return;
    }

  done =
      redo ? rm_history_redo (self->history, &touched) : rm_history_undo (self->history, &touched);
  if (done && touched != NULL)
    {
      g_autoptr (RmAnnotation) annotation = g_object_ref (touched);

      if (show_annotation (self, annotation) && self->reviewing)
        rm_review_queue_set_current (self->review, annotation);
    }
  update_review_bar (self);
  _rm_window_actions_update (self);
}

/* ---- the panel's rows -------------------------------------------------------------------- */

static void
on_row_status_requested (RmAnnotationRow *row, int status, RmWindow *self)
{
  RmAnnotation *annotation = rm_annotation_row_get_annotation (row);

  if (annotation == NULL)
    return;
  rm_history_set_status (self->history, annotation, (RmAnnotationStatus) status);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

static void
on_row_expression_edited (RmAnnotationRow *row, const char *expression, RmWindow *self)
{
  RmAnnotation *annotation = rm_annotation_row_get_annotation (row);

  if (annotation == NULL)
    return;
  rm_history_set_expression (self->history, annotation, expression);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

static void
on_row_delete_requested (RmAnnotationRow *row, RmWindow *self)
{
  RmAnnotation *annotation = rm_annotation_row_get_annotation (row);

  if (annotation != NULL)
    {
      g_autoptr (RmAnnotation) keep = g_object_ref (annotation); /* the row lets go of it */

      delete_annotation (self, keep);
    }
}

void
_rm_window_annotation_row_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                 RmWindow *self)
{
  GtkWidget *row = rm_annotation_row_new ();

  g_signal_connect (row, "status-requested", G_CALLBACK (on_row_status_requested), self);
  g_signal_connect (row, "expression-edited", G_CALLBACK (on_row_expression_edited), self);
  g_signal_connect (row, "delete-requested", G_CALLBACK (on_row_delete_requested), self);
  gtk_list_item_set_child (list_item, row);
}

void
_rm_window_annotation_row_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                RmWindow *self)
{
  RmAnnotationRow *row = RM_ANNOTATION_ROW (gtk_list_item_get_child (list_item));
  RmAnnotation *annotation = gtk_list_item_get_item (list_item);

  rm_annotation_row_set_annotation (row, annotation);
  if (self->annotation_rows != NULL)
    g_hash_table_insert (self->annotation_rows, annotation, row);
}

void
_rm_window_annotation_row_unbind (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                  RmWindow *self)
{
  RmAnnotationRow *row = RM_ANNOTATION_ROW (gtk_list_item_get_child (list_item));
  RmAnnotation *annotation = rm_annotation_row_get_annotation (row);

  if (self->annotation_rows != NULL && annotation != NULL &&
      g_hash_table_lookup (self->annotation_rows, annotation) == row)
    g_hash_table_remove (self->annotation_rows, annotation);
  rm_annotation_row_set_annotation (row, NULL);
}

/* A double click or Enter on a row: edit its expression. */
void
_rm_window_annotation_activate (RmWindow *self, guint position)
{
  g_autoptr (RmAnnotation) annotation =
      g_list_model_get_item (G_LIST_MODEL (self->image_annotations), position);
  RmAnnotationRow *row = annotation != NULL ? find_row (self, annotation) : NULL;

  if (row != NULL)
    rm_annotation_row_start_editing (row);
}

static void
on_annotation_selection_changed (RmWindow *self)
{
  RmAnnotation *annotation = _rm_window_get_selected_annotation (self);

  rm_canvas_set_highlight (self->canvas, annotation);
  if (self->reviewing && annotation != NULL &&
      rm_review_queue_set_current (self->review, annotation))
    update_review_bar (self);
  _rm_window_actions_update (self);
}

/* ---- the history's signals --------------------------------------------------------------- */

/* When an annotation's row goes with the focus in it, GTK leaves the focus on the removed
 * widget until the next frame, and a key pressed meanwhile (Ctrl+Z!) reaches no accelerator:
 * the focus goes to the list, or to the image when the list has nothing left to focus. */
static void
keep_focus_in_window (RmWindow *self)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));

  if (focus == NULL || gtk_widget_get_root (focus) != NULL)
    return;
  if (!gtk_widget_grab_focus (GTK_WIDGET (self->annotation_list)) ||
      gtk_widget_get_root (gtk_root_get_focus (GTK_ROOT (self))) == NULL)
    gtk_widget_grab_focus (GTK_WIDGET (self->canvas));
}

static void
on_history_removed (RmWindow *self, RmAnnotation *annotation)
{
  keep_focus_in_window (self);
  if (self->reviewing)
    rm_review_queue_remove (self->review, annotation);
  _rm_window_emit_annotation_removed (self, annotation);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

static void
on_history_restored (RmWindow *self, RmAnnotation *annotation)
{
  _rm_window_annotation_added (self, annotation);
  _rm_window_emit_annotation_added (self, annotation);
}

/* Undoing an accept or reject gives its candidate back, on its image; redoing it lets the
 * candidate go again. */
static void
on_history_candidate_returned (RmWindow *self, RmCandidate *candidate, gboolean returned)
{
  guint position;

  if (!returned)
    {
      if (self->candidate == candidate)
        _rm_window_drop_candidate (self);
      return;
    }

  position = find_image (self, rm_candidate_get_image (candidate));
  if (position == GTK_INVALID_LIST_POSITION)
    return;
  if (position != rm_window_get_selected (self))
    rm_window_select_image (self, position);
  _rm_window_set_candidate (self, candidate);
}

static void
on_history_changed (RmWindow *self)
{
  _rm_window_actions_update (self);
}

/* ---- the window's side ------------------------------------------------------------------- */

/* An annotation joined the list: a candidate joins the review going on. */
void
_rm_window_annotation_added (RmWindow *self, RmAnnotation *annotation)
{
  if (self->reviewing && rm_annotation_get_status (annotation) == RM_ANNOTATION_STATUS_CANDIDATE)
    rm_review_queue_append (self->review, annotation);
  update_review_bar (self);
  _rm_window_actions_update (self);
}

/* The candidate changed (from @old to @candidate, either may be NULL). */
void
_rm_window_candidate_replaced (RmWindow *self, RmCandidate *old, RmCandidate *candidate)
{
  gtk_widget_queue_draw (GTK_WIDGET (self->canvas));
}

/* Called with the other actions: what the review bar and the panel show. */
void
_rm_window_annotations_update (RmWindow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  RmAnnotation *selected = _rm_window_get_selected_annotation (self);
  gboolean has_candidate = self->candidate != NULL;
  gboolean candidates = self->annotations != NULL && has_candidates (self);
  guint position = self->review != NULL ? rm_review_queue_get_position (self->review) : G_MAXUINT;
  guint n = self->review != NULL ? rm_review_queue_get_n_items (self->review) : 0;
  gboolean editing_selected =
      has_candidate && rm_candidate_get_origin (self->candidate) == selected;
  gboolean can_undo = self->history != NULL && rm_history_can_undo (self->history);
  gboolean can_redo = self->history != NULL && rm_history_can_redo (self->history);

  gtk_widget_action_set_enabled (widget, "win.accept", has_candidate || selected != NULL);
  gtk_widget_action_set_enabled (widget, "win.reject", has_candidate || selected != NULL);
  gtk_widget_action_set_enabled (widget, "win.delete-annotation", selected != NULL);
  gtk_widget_action_set_enabled (widget, "win.edit-expression", selected != NULL);
  gtk_widget_action_set_enabled (widget, "win.edit-annotation",
                                 selected != NULL && !editing_selected);
  gtk_widget_action_set_enabled (widget, "win.review", candidates);
  gtk_widget_action_set_enabled (widget, "win.review-next",
                                 self->reviewing ? position + 1 < n : candidates);
  gtk_widget_action_set_enabled (widget, "win.review-prev",
                                 self->reviewing && position != G_MAXUINT && position > 0);
  gtk_widget_action_set_enabled (widget, "win.review-stop", self->reviewing);
  gtk_widget_action_set_enabled (widget, "win.undo",
                                 rm_canvas_get_polygon_n_points (self->canvas) > 0 || can_undo);
  gtk_widget_action_set_enabled (widget, "win.redo", can_redo);
}

void
_rm_window_annotations_init (RmWindow *self)
{
  self->annotation_rows = g_hash_table_new (g_direct_hash, g_direct_equal);

  self->annotation_selection =
      gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->image_annotations)));
  gtk_single_selection_set_autoselect (self->annotation_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->annotation_selection, TRUE);
  gtk_single_selection_set_selected (self->annotation_selection, GTK_INVALID_LIST_POSITION);
  g_signal_connect_swapped (self->annotation_selection, "notify::selected-item",
                            G_CALLBACK (on_annotation_selection_changed), self);
  gtk_list_view_set_model (self->annotation_list, GTK_SELECTION_MODEL (self->annotation_selection));

  self->history = rm_history_new (self->annotations);
  g_signal_connect_swapped (self->history, "removed", G_CALLBACK (on_history_removed), self);
  g_signal_connect_swapped (self->history, "restored", G_CALLBACK (on_history_restored), self);
  g_signal_connect_swapped (self->history, "candidate-returned",
                            G_CALLBACK (on_history_candidate_returned), self);
  g_signal_connect_swapped (self->history, "notify::can-undo", G_CALLBACK (on_history_changed),
                            self);
  g_signal_connect_swapped (self->history, "notify::can-redo", G_CALLBACK (on_history_changed),
                            self);

  self->review = rm_review_queue_new ();
  update_review_bar (self);

  /* Esc and Ctrl+Z act on a polygon being drawn */
  g_signal_connect_swapped (self->canvas, "notify::polygon-points",
                            G_CALLBACK (_rm_window_actions_update), self);
}

void
_rm_window_annotations_dispose (RmWindow *self)
{
  if (self->canvas != NULL)
    g_signal_handlers_disconnect_by_func (self->canvas, _rm_window_actions_update, self);
  if (self->annotation_selection != NULL)
    g_signal_handlers_disconnect_by_data (self->annotation_selection, self);
  g_clear_object (&self->annotation_selection);
  if (self->history != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->history, self);
      g_object_run_dispose (G_OBJECT (self->history));
    }
  g_clear_object (&self->history);
  g_clear_object (&self->review);
  g_clear_pointer (&self->annotation_rows, g_hash_table_unref);
  self->reviewing = FALSE;
}
