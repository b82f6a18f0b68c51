/* rm-batch-dialog.c: batch labelling: one expression over many images
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The user types one expression and runs it over all the project's images or the chosen ones.
 * The window's model runs it in a worker (rm_segmenter_segment_batch_async), one image after the
 * other, with the image's number and the engine's stage on the progress bar; Stop cancels at the
 * engine's next block. Each image's result becomes a candidate annotation of that image as soon
 * as it is ready (so what was done before a stop stays), for the review queue: "Review
 * Candidates" starts the window's review when the batch is over. An image that cannot be read
 * is reported and the batch goes on.
 */

#include "rm-batch-dialog.h"
#include "rm-annotation.h"
#include "rm-image-item.h"
#include "rm-segmenter.h"
#include "rm-window.h"

#include <glib/gi18n.h>

struct _RmBatchDialog
{
  GtkWindow parent_instance;

  RmWindow *window;
  RmSegmenter *segmenter;
  GPtrArray *checks; /* of GtkCheckButton, one per image of the window, in order */

  /* the run */
  GCancellable *cancellable;
  GPtrArray *files; /* of GFile: the images of the run */
  char *expression;
  char *model;
  gulong progress_id;
  guint n_made;
  guint n_failed;
  char *first_error;
  gboolean cancelled;
  gboolean close_when_done;

  GtkButton *close_button;
  GtkWidget *start_button;
  GtkWidget *cancel_button;
  GtkWidget *review_button;
  GtkWidget *settings_box;
  GtkEntry *expression_entry;
  GtkCheckButton *all_radio;
  GtkCheckButton *chosen_radio;
  GtkListBox *image_listbox;
  GtkProgressBar *progress_bar;
  GtkLabel *status_label;
};

G_DEFINE_FINAL_TYPE (RmBatchDialog, rm_batch_dialog, GTK_TYPE_WINDOW)

static gboolean
running (RmBatchDialog *self)
{
  return self->cancellable != NULL;
}

static char *
get_expression (RmBatchDialog *self)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->expression_entry))));
}

guint
rm_batch_dialog_get_n_chosen (RmBatchDialog *self)
{
  guint n = 0;

  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), 0);

  if (gtk_check_button_get_active (self->all_radio))
    return self->checks->len;
  for (guint i = 0; i < self->checks->len; i++)
    n += gtk_check_button_get_active (self->checks->pdata[i]);

  return n;
}

static void
update (RmBatchDialog *self)
{
  g_autofree char *expression = NULL;
  gboolean ready;

  if (self->segmenter == NULL)
    return; /* being built, or gone */

  expression = get_expression (self);
  ready = rm_segmenter_get_state (self->segmenter) == RM_SEGMENTER_STATE_READY;

  gtk_widget_set_visible (self->start_button, !running (self));
  gtk_widget_set_visible (self->cancel_button, running (self));
  gtk_widget_set_sensitive (self->cancel_button, running (self) && !self->cancelled);
  gtk_widget_set_visible (self->review_button, !running (self) && self->n_made > 0);
  /* once there are results, reviewing them is what comes next */
  if (!running (self) && self->n_made > 0)
    gtk_widget_remove_css_class (self->start_button, "suggested-action");
  else
    gtk_widget_add_css_class (self->start_button, "suggested-action");
  gtk_widget_set_sensitive (self->settings_box, !running (self));
  gtk_widget_set_sensitive (GTK_WIDGET (self->image_listbox),
                            gtk_check_button_get_active (self->chosen_radio));
  gtk_widget_set_sensitive (self->start_button, ready && expression[0] != '\0' &&
                                                    rm_batch_dialog_get_n_chosen (self) > 0);
  gtk_button_set_label (self->close_button, running (self) ? _ ("_Cancel") : _ ("_Close"));
}

/* ---- the run ----------------------------------------------------------------------------- */

static void
on_batch_progress (RmSegmenter *segmenter, guint index, guint n_images, const char *stage,
                   double fraction, RmBatchDialog *self)
{
  double overall = 0;
  const char *label = rm_segmenter_describe_stage (stage, fraction, &overall);
  g_autofree char *text = NULL;

  if (n_images == 0 || !running (self))
    return;
  gtk_progress_bar_set_fraction (self->progress_bar, (index + overall) / n_images);
  /* Translators: batch progress: image i of n, then the engine's stage */
  text = g_strdup_printf (_ ("Image %u of %u · %s"), index + 1, n_images, label);
  gtk_progress_bar_set_text (self->progress_bar, text);
}

static void
show_counts (RmBatchDialog *self)
{
  g_autofree char *text = NULL;

  text = g_strdup_printf (
      ngettext ("%u candidate made so far.", "%u candidates made so far.", self->n_made),
      self->n_made);
  gtk_label_set_label (self->status_label, text);
}

/* One image is done: its result becomes a candidate annotation of that image. */
static void
on_item (RmSegmenter *segmenter, guint index, RmSegmentResult *result, const GError *error,
         gpointer user_data)
{
  RmBatchDialog *self = user_data;
  GFile *file;

  if (self->window == NULL || self->files == NULL || index >= self->files->len)
    {
      g_clear_pointer (&result, rm_segment_result_free);
      return;
    }
  file = self->files->pdata[index];

  if (result == NULL)
    {
      g_autofree char *name = g_file_get_basename (file);

      self->n_failed++;
      if (self->first_error == NULL)
        /* Translators: a file name, then the reason */
        self->first_error = g_strdup_printf (_ ("%s: %s"), name, error->message);
      return;
    }

  {
    g_autoptr (GBytes) mask =
        g_bytes_new (result->mask, (gsize) result->width * (gsize) result->height);
    g_autoptr (RmAnnotation) annotation =
        rm_annotation_new (file, self->expression, result->width, result->height, mask,
                           RM_ANNOTATION_STATUS_CANDIDATE, RM_ANNOTATION_SOURCE_MODEL);

    rm_annotation_set_model (annotation, self->model);
    if (result->prior != NULL && result->prior_size > 0)
      {
        g_autoptr (GBytes) prior = g_bytes_new (
            result->prior, sizeof (float) * (gsize) result->prior_size * result->prior_size);

        rm_annotation_set_prior (annotation, prior, result->prior_size);
      }
    rm_window_add_annotation (self->window, annotation);
    self->n_made++;
  }
  rm_segment_result_free (result);
  show_counts (self);
}

static void
batch_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmBatchDialog) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  guint n_done, n_images;

  n_done = rm_segmenter_segment_batch_finish (RM_SEGMENTER (object), result, &error);
  n_images = self->files != NULL ? self->files->len : 0;
  g_clear_object (&self->cancellable);
  g_clear_signal_handler (&self->progress_id, self->segmenter);
  if (self->window == NULL)
    return; /* closed meanwhile */

  self->cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (self->cancelled)
    {
      g_string_append_printf (
          text,
          ngettext ("Stopped after %u of %u image.", "Stopped after %u of %u images.", n_images),
          n_done, n_images);
    }
  else if (error != NULL)
    g_string_append (text, error->message);
  else
    g_string_append_printf (
        text, ngettext ("Done: %u image labelled.", "Done: %u images labelled.", n_done), n_done);
  g_string_append (text, " ");
  g_string_append_printf (
      text, ngettext ("%u candidate was made.", "%u candidates were made.", self->n_made),
      self->n_made);
  if (self->n_failed > 0)
    {
      g_string_append (text, " ");
      g_string_append_printf (text,
                              ngettext ("%u image could not be read (%s).",
                                        "%u images could not be read (first: %s).", self->n_failed),
                              self->n_failed, self->first_error);
    }
  if (self->n_made > 0)
    {
      g_string_append (text, " ");
      g_string_append (text, _ ("Review them now, or later with Ctrl+R."));
    }
  gtk_label_set_label (self->status_label, text->str);
  gtk_progress_bar_set_fraction (self->progress_bar,
                                 n_images > 0 ? (double) n_done / n_images : 0.0);
  gtk_progress_bar_set_text (self->progress_bar, self->cancelled ? _ ("Stopped") : _ ("Done"));
  update (self);

  if (self->close_when_done)
    gtk_window_destroy (GTK_WINDOW (self));
}

/* Starts the run over the chosen images; FALSE if it cannot start (no expression, no images, no
 * model, or a run going on). */
gboolean
rm_batch_dialog_start (RmBatchDialog *self)
{
  g_autoptr (GSettings) settings = NULL;
  g_autofree char *expression = NULL;
  GListModel *images;
  gboolean all;

  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), FALSE);

  expression = get_expression (self);
  if (running (self) || self->window == NULL || expression[0] == '\0' ||
      rm_batch_dialog_get_n_chosen (self) == 0 ||
      rm_segmenter_get_state (self->segmenter) != RM_SEGMENTER_STATE_READY)
    return FALSE;

  images = rm_window_get_images (self->window);
  all = gtk_check_button_get_active (self->all_radio);
  g_clear_pointer (&self->files, g_ptr_array_unref);
  self->files = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->checks->len && i < g_list_model_get_n_items (images); i++)
    if (all || gtk_check_button_get_active (self->checks->pdata[i]))
      {
        g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

        g_ptr_array_add (self->files, g_object_ref (rm_image_item_get_file (item)));
      }

  g_free (self->expression);
  self->expression = g_steal_pointer (&expression);
  g_free (self->model);
  self->model = g_strdup (rm_segmenter_get_model_dir (self->segmenter));
  g_clear_pointer (&self->first_error, g_free);
  self->n_made = 0;
  self->n_failed = 0;
  self->cancelled = FALSE;
  self->cancellable = g_cancellable_new ();

  g_object_get (self->window, "settings", &settings, NULL);
  self->progress_id =
      g_signal_connect (self->segmenter, "batch-progress", G_CALLBACK (on_batch_progress), self);
  rm_segmenter_segment_batch_async (
      self->segmenter, (GFile *const *) self->files->pdata, self->files->len, self->expression,
      settings != NULL ? g_settings_get_int (settings, "threads") : 0, self->cancellable, on_item,
      g_object_ref (self), g_object_unref, batch_done, g_object_ref (self));

  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, _ ("Starting…"));
  show_counts (self);
  update (self);

  return TRUE;
}

/* Stops the run at the engine's next block; the candidates made so far stay. */
void
rm_batch_dialog_cancel (RmBatchDialog *self)
{
  g_return_if_fail (RM_IS_BATCH_DIALOG (self));

  if (!running (self) || self->cancelled)
    return;
  self->cancelled = TRUE;
  g_cancellable_cancel (self->cancellable);
  gtk_progress_bar_set_text (self->progress_bar, _ ("Stopping…"));
  update (self);
}

/* ---- signals ----------------------------------------------------------------------------- */

static void
on_start_clicked (RmBatchDialog *self)
{
  rm_batch_dialog_start (self);
}

static void
on_cancel_clicked (RmBatchDialog *self)
{
  rm_batch_dialog_cancel (self);
}

static void
on_close_clicked (RmBatchDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
on_review_clicked (RmBatchDialog *self)
{
  rm_batch_dialog_review (self);
}

/* Closing while the batch runs stops it; the dialog goes when it has stopped. */
static gboolean
rm_batch_dialog_close_request (GtkWindow *window)
{
  RmBatchDialog *self = RM_BATCH_DIALOG (window);

  if (running (self))
    {
      self->close_when_done = TRUE;
      rm_batch_dialog_cancel (self);
      return TRUE;
    }

  return GTK_WINDOW_CLASS (rm_batch_dialog_parent_class)->close_request (window);
}

static void
rm_batch_dialog_dispose (GObject *object)
{
  RmBatchDialog *self = (RmBatchDialog *) object;

  g_cancellable_cancel (self->cancellable);
  if (self->segmenter != NULL)
    g_clear_signal_handler (&self->progress_id, self->segmenter);
  g_clear_object (&self->segmenter);
  g_clear_object (&self->window);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_BATCH_DIALOG);

  G_OBJECT_CLASS (rm_batch_dialog_parent_class)->dispose (object);
}

static void
rm_batch_dialog_finalize (GObject *object)
{
  RmBatchDialog *self = (RmBatchDialog *) object;

  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->checks, g_ptr_array_unref);
  g_clear_pointer (&self->files, g_ptr_array_unref);
  g_free (self->expression);
  g_free (self->model);
  g_free (self->first_error);

  G_OBJECT_CLASS (rm_batch_dialog_parent_class)->finalize (object);
}

static void
rm_batch_dialog_class_init (RmBatchDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = rm_batch_dialog_dispose;
  object_class->finalize = rm_batch_dialog_finalize;
  window_class->close_request = rm_batch_dialog_close_request;

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-batch-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, close_button);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, start_button);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, review_button);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, settings_box);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, expression_entry);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, all_radio);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, chosen_radio);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, image_listbox);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, RmBatchDialog, status_label);
  gtk_widget_class_bind_template_callback (widget_class, on_start_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_close_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_review_clicked);
  gtk_widget_class_bind_template_callback (widget_class, update);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
rm_batch_dialog_init (RmBatchDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->checks = g_ptr_array_new ();
}

/* The batch labelling dialog of @window: its images, its model. */
GtkWidget *
rm_batch_dialog_new (RmWindow *window)
{
  RmBatchDialog *self;
  GListModel *images;
  guint n, selected;
  g_autofree char *all = NULL;

  g_return_val_if_fail (RM_IS_WINDOW (window), NULL);

  self = g_object_new (RM_TYPE_BATCH_DIALOG, "transient-for", window, NULL);
  self->window = g_object_ref (window);
  self->segmenter = g_object_ref (rm_window_get_segmenter (window));

  images = rm_window_get_images (window);
  n = g_list_model_get_n_items (images);
  selected = rm_window_get_selected (window);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);
      GtkWidget *check = gtk_check_button_new_with_label (rm_image_item_get_display_name (item));

      gtk_check_button_set_active (GTK_CHECK_BUTTON (check), i == selected);
      g_signal_connect_swapped (check, "toggled", G_CALLBACK (update), self);
      gtk_list_box_append (self->image_listbox, check);
      g_ptr_array_add (self->checks, check);
    }
  all = g_strdup_printf (ngettext ("_All %u image", "_All %u images", n), n);
  gtk_check_button_set_label (self->all_radio, all);

  update (self);

  return GTK_WIDGET (self);
}

void
rm_batch_dialog_set_expression (RmBatchDialog *self, const char *expression)
{
  g_return_if_fail (RM_IS_BATCH_DIALOG (self));

  gtk_editable_set_text (GTK_EDITABLE (self->expression_entry), expression);
}

/* All the images (TRUE), or only the chosen ones. */
void
rm_batch_dialog_set_all_images (RmBatchDialog *self, gboolean all_images)
{
  g_return_if_fail (RM_IS_BATCH_DIALOG (self));

  gtk_check_button_set_active (all_images ? self->all_radio : self->chosen_radio, TRUE);
}

void
rm_batch_dialog_set_image_chosen (RmBatchDialog *self, guint position, gboolean chosen)
{
  g_return_if_fail (RM_IS_BATCH_DIALOG (self));
  g_return_if_fail (position < self->checks->len);

  gtk_check_button_set_active (self->checks->pdata[position], chosen);
}

gboolean
rm_batch_dialog_get_running (RmBatchDialog *self)
{
  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), FALSE);

  return running (self);
}

/* Candidates made by the last run. */
guint
rm_batch_dialog_get_n_made (RmBatchDialog *self)
{
  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), 0);

  return self->n_made;
}

guint
rm_batch_dialog_get_n_failed (RmBatchDialog *self)
{
  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), 0);

  return self->n_failed;
}

gboolean
rm_batch_dialog_get_cancelled (RmBatchDialog *self)
{
  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), FALSE);

  return self->cancelled;
}

/* "Review Candidates": starts the window's review and closes the dialog. */
void
rm_batch_dialog_review (RmBatchDialog *self)
{
  g_return_if_fail (RM_IS_BATCH_DIALOG (self));

  if (running (self))
    return;
  if (self->window != NULL)
    gtk_widget_activate_action (GTK_WIDGET (self->window), "win.review", NULL);
  gtk_window_destroy (GTK_WINDOW (self));
}

GtkWidget *
rm_batch_dialog_get_progress_bar (RmBatchDialog *self)
{
  g_return_val_if_fail (RM_IS_BATCH_DIALOG (self), NULL);

  return GTK_WIDGET (self->progress_bar);
}
