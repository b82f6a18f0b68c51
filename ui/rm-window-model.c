/* rm-window-model.c: the main window's model, queries, candidate and annotations
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model folder comes from --model or the "model-dir" setting and is loaded in the
 * background; until it is, the query bar is off, and a failure shows in a banner above the
 * image. A query runs on the selected image in the background, with the engine's stage and
 * progress under the query bar; Esc or Cancel stops it. Its result becomes the candidate:
 * drawn over the image with its prior, corrected with the brush and the eraser, then accepted
 * or rejected into the annotations list. A candidate that was corrected and then left (another
 * query, another image) is kept in the list as a candidate, so no work is lost. A candidate made
 * from an annotation (to correct it, e.g. while reviewing) updates that annotation instead.
 *
 * Every model folder loaded in the session is a model version in the header bar's switcher, and
 * so is every model that fine-tuning made (rm_window_add_model_version): choosing one loads it,
 * and "Roll Back" goes back to the model a fine-tuned one came from.
 */

#include "rm-annotation.h"
#include "rm-application.h"
#include "rm-candidate.h"
#include "rm-image-item.h"
#include "rm-image-pyramid.h"
#include "rm-model-version.h"
#include "rm-segmenter.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>

static void
set_status (RmWindow *self, const char *text)
{
  gtk_label_set_label (self->query_status_label, text);
}

static void
show_progress (RmWindow *self, gboolean visible)
{
  gtk_widget_set_visible (GTK_WIDGET (self->query_progress), visible);
  if (visible)
    {
      gtk_progress_bar_set_fraction (self->query_progress, 0);
      gtk_progress_bar_set_text (self->query_progress, "");
    }
}

static void
update_query_buttons (RmWindow *self)
{
  gboolean running = self->query_cancellable != NULL;

  gtk_widget_set_visible (self->cancel_button, running);
  gtk_widget_set_visible (self->segment_button, !running);
}

static void
on_segmenter_progress (RmSegmenter *segmenter, const char *stage, double fraction, RmWindow *self)
{
  double overall = 0;
  const char *label = rm_segmenter_describe_stage (stage, fraction, &overall);

  gtk_progress_bar_set_fraction (self->query_progress, overall);
  gtk_progress_bar_set_text (self->query_progress, label);
}

/* ---- the model --------------------------------------------------------------------------- */

static char *
display_folder (const char *dir)
{
  g_autoptr (GFile) file = g_file_new_for_path (dir);

  return g_file_get_parse_name (file);
}

/* ---- model versions ---------------------------------------------------------------------- */

static RmModelVersion *
find_version (RmWindow *self, const char *dir)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->model_versions));

  for (guint i = 0; dir != NULL && i < n; i++)
    {
      g_autoptr (RmModelVersion) version =
          g_list_model_get_item (G_LIST_MODEL (self->model_versions), i);

      if (g_str_equal (rm_model_version_get_dir (version), dir))
        return version; /* the store holds a reference */
    }

  return NULL;
}

static void
rebuild_version_menu (RmWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->model_versions));
  g_autoptr (GMenu) versions = g_menu_new ();
  g_autoptr (GMenu) actions = g_menu_new ();

  g_menu_remove_all (self->version_menu);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RmModelVersion) version =
          g_list_model_get_item (G_LIST_MODEL (self->model_versions), i);
      g_autoptr (GMenuItem) item = NULL;
      g_auto (GStrv) parts = g_strsplit (rm_model_version_get_name (version), "_", -1);
      g_autofree char *label = g_strjoinv ("__", parts); /* no mnemonics */

      item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target_value (
          item, "win.model-version", g_variant_new_string (rm_model_version_get_dir (version)));
      g_menu_append_item (versions, item);
    }
  g_menu_append (actions, _ ("_Roll Back"), "win.model-rollback");
  g_menu_append (actions, _ ("_Fine-Tune…"), "win.fine-tune");
  g_menu_append (actions, _ ("Choose Model _Folder…"), "app.preferences");
  /* Translators: the heading of the model versions in the model switcher */
  g_menu_append_section (self->version_menu, n > 0 ? _ ("Model Versions") : NULL,
                         G_MENU_MODEL (versions));
  g_menu_append_section (self->version_menu, NULL, G_MENU_MODEL (actions));
}

static void
update_model_button (RmWindow *self)
{
  const char *dir = rm_segmenter_get_model_dir (self->segmenter);
  RmModelVersion *version = find_version (self, dir);
  g_autofree char *tooltip = NULL;
  g_autofree char *name = NULL;

  if (version != NULL)
    {
      name = g_strdup (rm_model_version_get_name (version));
      tooltip = rm_model_version_describe (version);
    }
  else if (dir != NULL && rm_segmenter_get_state (self->segmenter) == RM_SEGMENTER_STATE_LOADING)
    name = g_path_get_basename (dir);
  else
    name = g_strdup (_ ("No Model"));

  gtk_menu_button_set_label (self->model_button, name);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_button),
                               tooltip != NULL ? tooltip
                                               : _ ("Model versions: switch and roll back"));
  _rm_window_notify_model_version (self);
}

/* A folder that loaded becomes a version (named after the folder) if it is not one. */
static void
ensure_version (RmWindow *self, const char *dir)
{
  g_autoptr (RmModelVersion) version = NULL;

  if (dir == NULL || find_version (self, dir) != NULL)
    return;
  version = rm_model_version_new (dir, NULL, NULL);
  g_list_store_append (self->model_versions, version);
  rebuild_version_menu (self);
}

/* Adds @version to the model switcher (replacing one of the same folder); it is not loaded. */
void
rm_window_add_model_version (RmWindow *self, RmModelVersion *version)
{
  RmModelVersion *old;
  guint position;

  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (RM_IS_MODEL_VERSION (version));

  old = find_version (self, rm_model_version_get_dir (version));
  if (old != NULL && g_list_store_find (self->model_versions, old, &position))
    g_list_store_splice (self->model_versions, position, 1, (gpointer *) &version, 1);
  else
    g_list_store_append (self->model_versions, version);
  rebuild_version_menu (self);
  update_model_button (self);
  _rm_window_actions_update (self);
}

/* The model versions of this session (a GListModel of RmModelVersion). */
GListModel *
rm_window_get_model_versions (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return G_LIST_MODEL (self->model_versions);
}

/* The version of the model that is loaded (or loading), or NULL. */
RmModelVersion *
rm_window_get_model_version (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return find_version (self, rm_segmenter_get_model_dir (self->segmenter));
}

/* The folder a rollback would load: the parent of the current version, if it is a version. */
const char *
_rm_window_get_rollback_dir (RmWindow *self)
{
  RmModelVersion *version = rm_window_get_model_version (self);
  const char *parent = version != NULL ? rm_model_version_get_parent_dir (version) : NULL;

  return parent != NULL && find_version (self, parent) != NULL ? parent : NULL;
}

static void
model_load_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmWindow) self = user_data;
  RmSegmenter *segmenter = RM_SEGMENTER (object);
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *text = NULL;

  if (!rm_segmenter_load_finish (segmenter, result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* replaced by a newer load, or the window is gone */
  if (self->segmenter == NULL)
    return;

  g_clear_object (&self->model_cancellable);
  show_progress (self, FALSE);
  folder = display_folder (rm_segmenter_get_model_dir (segmenter));

  if (error != NULL)
    {
      self->model_loaded = FALSE;
      /* Translators: %s is a folder, then the reason */
      text = g_strdup_printf (_ ("Cannot load the model in “%s”: %s"), folder, error->message);
      gtk_label_set_label (self->model_banner_label, text);
      gtk_revealer_set_reveal_child (self->model_banner, TRUE);
      set_status (self, _ ("No model is loaded. Choose a model folder in the preferences."));
    }
  else
    {
      self->model_loaded = TRUE;
      gtk_revealer_set_reveal_child (self->model_banner, FALSE);
      /* Translators: %s is the model's folder */
      text = g_strdup_printf (_ ("Model ready: %s. Type what to segment and press Enter."), folder);
      set_status (self, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->query_status_label),
                                   rm_segmenter_get_description (segmenter));
      ensure_version (self, rm_segmenter_get_model_dir (segmenter));
    }

  update_model_button (self);
  _rm_window_actions_update (self);
}

/* Loads the model in @dir in the background (NULL or "": no model); a load in progress is
 * abandoned. */
void
rm_window_load_model (RmWindow *self, const char *dir)
{
  g_autofree char *folder = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (RM_IS_WINDOW (self));

  g_cancellable_cancel (self->model_cancellable);
  g_clear_object (&self->model_cancellable);
  gtk_revealer_set_reveal_child (self->model_banner, FALSE);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->query_status_label), NULL);
  self->model_loaded = FALSE;

  if (dir == NULL || dir[0] == '\0')
    {
      rm_segmenter_unload (self->segmenter);
      show_progress (self, FALSE);
      set_status (self, _ ("A model is required to run queries. No model is loaded."));
      update_model_button (self);
      _rm_window_actions_update (self);
      return;
    }

  self->model_cancellable = g_cancellable_new ();
  rm_segmenter_load_async (self->segmenter, dir, self->model_cancellable, model_load_done,
                           g_object_ref (self));

  folder = display_folder (dir);
  /* Translators: %s is a folder */
  text = g_strdup_printf (_ ("Loading the model in “%s”…"), folder);
  set_status (self, text);
  show_progress (self, self->query_cancellable == NULL);
  update_model_button (self);
  _rm_window_actions_update (self);
}

void
_rm_window_reload_model (RmWindow *self)
{
  g_autofree char *dir = g_strdup (rm_segmenter_get_model_dir (self->segmenter));

  rm_window_load_model (self, dir);
}

static void
on_model_dir_changed (RmWindow *self)
{
  g_autofree char *dir = g_settings_get_string (self->settings, "model-dir");

  rm_window_load_model (self, dir);
}

/* ---- recent expressions ------------------------------------------------------------------ */

static void
rebuild_recent_menu (RmWindow *self)
{
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-expressions");

  g_menu_remove_all (self->recent_menu);
  for (guint i = 0; recent[i] != NULL && i < RM_WINDOW_MAX_RECENT; i++)
    {
      g_autoptr (GMenuItem) item = NULL;
      g_auto (GStrv) parts = g_strsplit (recent[i], "_", -1);
      g_autofree char *label = g_strjoinv ("__", parts); /* no mnemonics */

      item = g_menu_item_new (label, NULL);
      g_menu_item_set_action_and_target_value (item, "win.use-recent",
                                               g_variant_new_string (recent[i]));
      g_menu_append_item (self->recent_menu, item);
    }
  _rm_window_actions_update (self);
}

static void
add_recent (RmWindow *self, const char *expression)
{
  g_auto (GStrv) old = g_settings_get_strv (self->settings, "recent-expressions");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) recent = NULL;
  guint n = 1;

  g_strv_builder_add (builder, expression);
  for (guint i = 0; old[i] != NULL && n < RM_WINDOW_MAX_RECENT; i++)
    if (!g_str_equal (old[i], expression))
      {
        g_strv_builder_add (builder, old[i]);
        n++;
      }
  recent = g_strv_builder_end (builder);
  g_settings_set_strv (self->settings, "recent-expressions", (const char *const *) recent);
}

/* Runs @expression again (from the recent expressions menu). */
void
_rm_window_use_recent (RmWindow *self, const char *expression)
{
  gtk_editable_set_text (GTK_EDITABLE (self->query_entry), expression);
  gtk_editable_set_position (GTK_EDITABLE (self->query_entry), -1);
  _rm_window_start_query (self);
}

/* ---- the candidate ----------------------------------------------------------------------- */

static void
update_candidate (RmWindow *self)
{
  RmCandidate *candidate = self->candidate;
  g_autofree char *area = NULL;
  g_autofree char *text = NULL;

  gtk_widget_set_visible (self->edit_bar, candidate != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->candidate_label), candidate != NULL);
  if (candidate != NULL)
    {
      area = rm_annotation_format_area (rm_candidate_get_area (candidate));
      if (rm_candidate_get_corrected (candidate))
        /* Translators: the candidate: its expression, then its area */
        text = g_strdup_printf (_ ("“%s” · %s · corrected"),
                                rm_candidate_get_expression (candidate), area);
      else
        /* Translators: the candidate: its expression, then its area */
        text = g_strdup_printf (_ ("“%s” · %s"), rm_candidate_get_expression (candidate), area);
    }
  gtk_label_set_label (self->candidate_label, text);
  _rm_window_actions_update (self);
}

static void
add_annotation (RmWindow *self, RmAnnotation *annotation)
{
  g_list_store_append (self->annotations, annotation);
  _rm_window_annotation_added (self, annotation);
  _rm_window_emit_annotation_added (self, annotation);
}

/* Adds @annotation to the session's annotations ("annotation-added" is emitted); a candidate
 * joins the review, if one is going on. Batch labelling adds its results this way. */
void
rm_window_add_annotation (RmWindow *self, RmAnnotation *annotation)
{
  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (RM_IS_ANNOTATION (annotation));

  add_annotation (self, annotation);
}

static void
on_candidate_edited (RmWindow *self, RmCandidate *candidate)
{
  rm_history_record_candidate_step (self->history, candidate);
  _rm_window_actions_update (self);
}

/* The source of an annotation corrected by hand. */
static RmAnnotationSource
corrected_source (RmAnnotation *annotation)
{
  return rm_annotation_get_source (annotation) == RM_ANNOTATION_SOURCE_MANUAL
             ? RM_ANNOTATION_SOURCE_MANUAL
             : RM_ANNOTATION_SOURCE_MODEL_CORRECTED;
}

/* Writes a candidate's corrected mask back into the annotation it came from (one undo step),
 * with @status. */
static void
update_origin (RmWindow *self, RmCandidate *candidate, RmAnnotationStatus status)
{
  RmAnnotation *origin = rm_candidate_get_origin (candidate);
  g_autoptr (GBytes) rle = NULL;
  gboolean corrected = rm_candidate_get_corrected (candidate);

  /* the edit is committed: encoded once, shared by the annotation and the undo step */
  if (corrected)
    rle = rm_annotation_encode_mask (rm_candidate_get_mask (candidate),
                                     rm_candidate_get_width (candidate),
                                     rm_candidate_get_height (candidate));
  rm_history_update (self->history, origin, status,
                     corrected ? corrected_source (origin) : rm_annotation_get_source (origin),
                     rle);
}

/* Replaces the candidate. With @keep_corrected, a corrected candidate that is replaced is kept
 * in the annotations as a candidate. */
static void
replace_candidate (RmWindow *self, RmCandidate *candidate, gboolean keep_corrected)
{
  g_autoptr (RmCandidate) old = NULL;

  if (self->candidate == candidate)
    return;

  rm_canvas_set_candidate (self->canvas, candidate);
  old = g_steal_pointer (&self->candidate);
  if (old != NULL)
    {
      g_signal_handlers_disconnect_by_func (old, update_candidate, self);
      g_signal_handlers_disconnect_by_func (old, on_candidate_edited, self);
      rm_history_forget_candidate (self->history, old);
      if (keep_corrected && rm_candidate_get_corrected (old))
        {
          if (rm_candidate_get_origin (old) != NULL)
            update_origin (self, old, rm_annotation_get_status (rm_candidate_get_origin (old)));
          else
            {
              g_autoptr (RmAnnotation) annotation =
                  rm_candidate_to_annotation (old, RM_ANNOTATION_STATUS_CANDIDATE);

              add_annotation (self, annotation);
            }
        }
    }

  if (candidate != NULL)
    {
      self->candidate = g_object_ref (candidate);
      g_signal_connect_swapped (candidate, "notify", G_CALLBACK (update_candidate), self);
      g_signal_connect_swapped (candidate, "edited", G_CALLBACK (on_candidate_edited), self);
    }
  _rm_window_candidate_replaced (self, old, candidate);
  update_candidate (self);
}

void
_rm_window_set_candidate (RmWindow *self, RmCandidate *candidate)
{
  replace_candidate (self, candidate, TRUE);
}

/* Drops the candidate without keeping its corrections. */
void
_rm_window_drop_candidate (RmWindow *self)
{
  replace_candidate (self, NULL, FALSE);
}

/* Accepts or rejects the candidate: it joins the annotations with @status. */
void
_rm_window_finish_candidate (RmWindow *self, RmAnnotationStatus status)
{
  g_autoptr (RmAnnotation) annotation = NULL;
  g_autofree char *area = NULL;
  g_autofree char *text = NULL;

  if (self->candidate == NULL)
    return;

  rm_canvas_stroke_end (self->canvas);
  rm_canvas_polygon_close (self->canvas);
  if (rm_candidate_get_origin (self->candidate) != NULL)
    {
      g_autoptr (RmCandidate) candidate = g_object_ref (self->candidate);

      annotation = g_object_ref (rm_candidate_get_origin (candidate));
      update_origin (self, candidate, status);
      replace_candidate (self, NULL, FALSE);
      _rm_window_review_after_decision (self, annotation);
    }
  else
    {
      g_autoptr (RmCandidate) candidate = g_object_ref (self->candidate);

      annotation = rm_candidate_to_annotation (candidate, status);
      replace_candidate (self, NULL, FALSE);
      add_annotation (self, annotation);
      /* Ctrl+Z takes the annotation back out and shows the candidate again */
      rm_history_record_add (self->history, annotation, candidate);
    }

  area = rm_annotation_format_area (rm_annotation_get_area (annotation));
  if (status == RM_ANNOTATION_STATUS_ACCEPTED)
    /* Translators: %s is the expression, then its area */
    text = g_strdup_printf (_ ("Accepted “%s” (%s)."), rm_annotation_get_expression (annotation),
                            area);
  else
    /* Translators: %s is the expression */
    text = g_strdup_printf (_ ("Rejected “%s”; it stays in the annotations as rejected."),
                            rm_annotation_get_expression (annotation));
  set_status (self, text);
}

/* ---- queries ----------------------------------------------------------------------------- */

static RmImageItem *
selected_item (RmWindow *self)
{
  return gtk_single_selection_get_selected_item (self->selection);
}

static void
query_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *expression = NULL;
  g_autoptr (GFile) image = NULL;
  g_autofree char *text = NULL;
  RmSegmentResult *segmentation;
  RmImagePyramid *pyramid;
  RmImageItem *item;

  segmentation = rm_segmenter_segment_finish (RM_SEGMENTER (object), result, &error);
  if (self->segmenter == NULL)
    {
      /* the window was closed meanwhile */
      g_clear_pointer (&segmentation, rm_segment_result_free);
      return;
    }

  g_clear_object (&self->query_cancellable);
  self->query_cancelling = FALSE;
  expression = g_steal_pointer (&self->query_expression);
  image = g_steal_pointer (&self->query_image);
  update_query_buttons (self);
  show_progress (self, FALSE);

  item = selected_item (self);
  pyramid = rm_canvas_get_image (self->canvas);

  if (segmentation == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        set_status (self, _ ("Query cancelled."));
      else
        {
          /* Translators: %s is the reason */
          text = g_strdup_printf (_ ("The query failed: %s"), error->message);
          set_status (self, text);
          _rm_window_show_message (self, text);
        }
    }
  else if (item == NULL || pyramid == NULL || !g_file_equal (image, rm_image_item_get_file (item)))
    set_status (self, _ ("The image changed while the query ran; its result was dropped."));
  else if (segmentation->width != rm_image_pyramid_get_width (pyramid) ||
           segmentation->height != rm_image_pyramid_get_height (pyramid))
    {
      text = g_strdup_printf (
          _ ("The model read this image as %d × %d pixels, but it is shown as %d × %d: the result "
             "cannot be shown."),
          segmentation->width, segmentation->height, rm_image_pyramid_get_width (pyramid),
          rm_image_pyramid_get_height (pyramid));
      set_status (self, text);
      _rm_window_show_message (self, text);
    }
  else
    {
      g_autoptr (RmCandidate) candidate = rm_candidate_new (image, expression, segmentation);
      g_autofree char *area = rm_annotation_format_area (segmentation->area);
      double percent = 100.0 * (double) segmentation->area /
                       ((double) segmentation->width * segmentation->height);

      rm_candidate_set_model (candidate, rm_segmenter_get_model_dir (self->segmenter));
      _rm_window_set_candidate (self, candidate);
      text = g_strdup_printf (
          /* Translators: the expression, its area, the percentage of the image, the time */
          _ ("“%s”: %s (%.1f %% of the image) in %.2f s. Correct it, then accept (Ctrl+Enter) "
             "or reject (Delete)."),
          expression, area, percent, segmentation->ms_total / 1000.0);
      set_status (self, text);
    }

  g_clear_pointer (&segmentation, rm_segment_result_free);
  _rm_window_actions_update (self);
}

/* Runs the query bar's expression on the selected image in the background. */
void
_rm_window_start_query (RmWindow *self)
{
  g_autofree char *expression = NULL;
  g_autofree char *text = NULL;
  RmImageItem *item = selected_item (self);

  if (self->query_cancellable != NULL)
    return;
  if (!self->model_loaded)
    {
      _rm_window_show_message (self, _ ("A model is required to run queries. No model is loaded."));
      return;
    }
  expression = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->query_entry))));
  if (expression[0] == '\0')
    {
      _rm_window_show_message (self,
                               _ ("Type what to segment first, e.g. “the largest building”."));
      return;
    }
  if (item == NULL || rm_canvas_get_image (self->canvas) == NULL)
    {
      _rm_window_show_message (self, _ ("Select an image first."));
      return;
    }

  self->query_cancellable = g_cancellable_new ();
  self->query_cancelling = FALSE;
  g_free (self->query_expression);
  self->query_expression = g_strdup (expression);
  g_set_object (&self->query_image, rm_image_item_get_file (item));
  rm_segmenter_segment_async (self->segmenter, self->query_image, expression,
                              g_settings_get_int (self->settings, "threads"),
                              self->query_cancellable, query_done, g_object_ref (self));
  add_recent (self, expression);

  show_progress (self, TRUE);
  update_query_buttons (self);
  /* Translators: %s is the expression */
  text = g_strdup_printf (_ ("Segmenting “%s”… Press Esc to cancel."), expression);
  set_status (self, text);
  _rm_window_actions_update (self);
}

/* Stops the running query: the engine is told to abort at its next block. */
void
_rm_window_cancel_query (RmWindow *self)
{
  if (self->query_cancellable == NULL || self->query_cancelling)
    return;

  self->query_cancelling = TRUE;
  g_cancellable_cancel (self->query_cancellable);
  set_status (self, _ ("Cancelling…"));
  _rm_window_actions_update (self);
}

/* ---- annotations ------------------------------------------------------------------------- */

static gboolean
annotation_is_on_image (gpointer item, gpointer user_data)
{
  RmWindow *self = user_data;
  RmImageItem *image = selected_item (self);
  GFile *file = rm_annotation_get_image (item);

  return image != NULL && file != NULL && g_file_equal (file, rm_image_item_get_file (image));
}

static void
update_annotation_panel (RmWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->image_annotations));
  g_autofree char *text = NULL;

  if (n == 0)
    text = g_strdup (_ ("Annotations"));
  else
    text = g_strdup_printf (ngettext ("%u annotation", "%u annotations", n), n);
  gtk_label_set_label (self->annotation_count_label, text);
  gtk_stack_set_visible_child_name (self->annotation_stack, n > 0 ? "list" : "empty");
  gtk_widget_queue_draw (GTK_WIDGET (self->canvas));
}

/* Only the selected image's masks stay decoded (the canvas and the mask editor decode them
 * when they need them): a project of large tiles would otherwise grow by every mask ever
 * shown. The others stay as RLE. */
static void
drop_other_masks (RmWindow *self)
{
  GListModel *annotations = G_LIST_MODEL (self->annotations);

  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);

      if (rm_annotation_get_mask_decoded (annotation) && !annotation_is_on_image (annotation, self))
        rm_annotation_drop_mask (annotation);
    }
}

/* Another image was selected: the query stops, the candidate goes (kept if corrected), and the
 * panel shows that image's annotations. */
void
_rm_window_image_changed (RmWindow *self)
{
  _rm_window_cancel_query (self);
  replace_candidate (self, NULL, TRUE);
  gtk_filter_changed (GTK_FILTER (self->image_filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_annotation_panel (self);
  drop_other_masks (self);
}

/* ---- setup ------------------------------------------------------------------------------- */

void
_rm_window_model_init (RmWindow *self)
{
  GApplication *app = g_application_get_default ();
  const char *override =
      RM_IS_APPLICATION (app) ? rm_application_get_model_dir (RM_APPLICATION (app)) : NULL;
  g_autofree char *dir = NULL;

  self->segmenter = rm_segmenter_new ();
  g_signal_connect (self->segmenter, "progress", G_CALLBACK (on_segmenter_progress), self);
  /* The preference applies to the next query or batch; a failure to get that device is the
   * query's error, shown like any other. */
  g_settings_bind (self->settings, "device", self->segmenter, "device", G_SETTINGS_BIND_GET);

  self->model_versions = g_list_store_new (RM_TYPE_MODEL_VERSION);
  self->version_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (self->model_button, G_MENU_MODEL (self->version_menu));
  rebuild_version_menu (self);

  self->annotations = g_list_store_new (RM_TYPE_ANNOTATION);
  self->image_filter = gtk_custom_filter_new (annotation_is_on_image, self, NULL);
  self->image_annotations =
      gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->annotations)),
                                 GTK_FILTER (g_object_ref (self->image_filter)));
  g_signal_connect_swapped (self->image_annotations, "items-changed",
                            G_CALLBACK (update_annotation_panel), self);
  rm_canvas_set_annotations (self->canvas, G_LIST_MODEL (self->image_annotations));
  _rm_window_annotations_init (self);
  update_annotation_panel (self);

  self->recent_menu = g_menu_new ();
  gtk_menu_button_set_menu_model (self->recent_button, G_MENU_MODEL (self->recent_menu));
  g_signal_connect_swapped (self->settings, "changed::recent-expressions",
                            G_CALLBACK (rebuild_recent_menu), self);
  rebuild_recent_menu (self);

  g_settings_bind (self->settings, "overlay-opacity", self->canvas, "overlay-opacity",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "candidate-color", self->canvas, "candidate-color",
                   G_SETTINGS_BIND_GET);
  g_settings_bind (self->settings, "brush-size", self->brush_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_object_bind_property (self->brush_adjustment, "value", self->canvas, "brush-size",
                          G_BINDING_SYNC_CREATE);

  g_signal_connect_swapped (self->settings, "changed::model-dir", G_CALLBACK (on_model_dir_changed),
                            self);
  dir =
      override != NULL ? g_strdup (override) : g_settings_get_string (self->settings, "model-dir");
  if (dir[0] != '\0')
    rm_window_load_model (self, dir);
}

void
_rm_window_model_dispose (RmWindow *self)
{
  g_cancellable_cancel (self->model_cancellable);
  g_cancellable_cancel (self->query_cancellable);
  g_clear_object (&self->model_cancellable);
  g_clear_object (&self->query_cancellable);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  if (self->segmenter != NULL)
    g_signal_handlers_disconnect_by_data (self->segmenter, self);
  g_clear_object (&self->segmenter);
  if (self->candidate != NULL)
    g_signal_handlers_disconnect_by_data (self->candidate, self);
  g_clear_object (&self->candidate);
  _rm_window_annotations_dispose (self);
  g_clear_object (&self->model_versions);
  g_clear_object (&self->version_menu);
  if (self->image_annotations != NULL)
    g_signal_handlers_disconnect_by_data (self->image_annotations, self);
  g_clear_object (&self->image_annotations);
  g_clear_object (&self->image_filter);
  g_clear_object (&self->annotations);
  g_clear_object (&self->recent_menu);
  g_clear_pointer (&self->query_expression, g_free);
  g_clear_object (&self->query_image);
}

RmSegmenter *
rm_window_get_segmenter (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->segmenter;
}

/* TRUE from the start of a query until its result (or its cancellation) arrives. */
gboolean
rm_window_get_query_running (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), FALSE);

  return self->query_cancellable != NULL;
}

/* The candidate being reviewed, or NULL. */
RmCandidate *
rm_window_get_candidate (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->candidate;
}

/* Every annotation made in this window (GListModel of RmAnnotation), in order. */
GListModel *
rm_window_get_annotations (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return G_LIST_MODEL (self->annotations);
}
