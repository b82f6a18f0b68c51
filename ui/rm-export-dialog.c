/* rm-export-dialog.c: export the project's annotations (PNG masks, COCO JSON, refs.jsonl)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each format is written into its own new folder in the destination, "<project>-coco" and so
 * on (see rm_project_session_export_folder ()), built under a temporary name and renamed into
 * place. A folder that is there already is replaced only after the user said so, and only if
 * an earlier export made it. Accepted annotations only, unless asked otherwise. The export
 * runs after the session's pending writes, so it has everything the user did.
 */

#include "rm-export-dialog.h"

#include "rm-dialog-util.h"

#include <glib/gi18n.h>

struct _RmExportDialog
{
  GtkWindow parent_instance;

  RmProjectSession *session;
  GSettings *settings;
  char *destination;
  GCancellable *cancellable; /* while exporting */
  gboolean close_when_done;
  GtkWindow *confirmation; /* weak */

  GtkLabel *heading_label;
  GtkWidget *form;
  GtkCheckButton *coco_check;
  GtkDropDown *coco_masks_dropdown;
  GtkCheckButton *png_check;
  GtkCheckButton *refs_check;
  GtkCheckButton *accepted_check;
  GtkCheckButton *candidate_check;
  GtkCheckButton *rejected_check;
  GtkCheckButton *images_check;
  GtkLabel *destination_label;
  GtkButton *destination_button;
  GtkLabel *targets_label;
  GtkProgressBar *progress_bar;
  GtkLabel *result_label;
  GtkButton *cancel_button;
  GtkButton *export_button;
};

G_DEFINE_FINAL_TYPE (RmExportDialog, rm_export_dialog, GTK_TYPE_WINDOW)

static const RmProjectExportFormats all_formats[] = {
  RM_PROJECT_EXPORT_COCO,
  RM_PROJECT_EXPORT_PNG,
  RM_PROJECT_EXPORT_REFS,
};

static RmProjectExportFormats
get_formats (RmExportDialog *self)
{
  RmProjectExportFormats formats = 0;

  if (gtk_check_button_get_active (self->coco_check))
    formats |= RM_PROJECT_EXPORT_COCO;
  if (gtk_check_button_get_active (self->png_check))
    formats |= RM_PROJECT_EXPORT_PNG;
  if (gtk_check_button_get_active (self->refs_check))
    formats |= RM_PROJECT_EXPORT_REFS;

  return formats;
}

static guint
get_status_mask (RmExportDialog *self)
{
  guint mask = 0;

  if (gtk_check_button_get_active (self->accepted_check))
    mask |= 1u << RM_STATUS_ACCEPTED;
  if (gtk_check_button_get_active (self->candidate_check))
    mask |= 1u << RM_STATUS_CANDIDATE;
  if (gtk_check_button_get_active (self->rejected_check))
    mask |= 1u << RM_STATUS_REJECTED;

  return mask;
}

/* The folders the export would write, by their names. */
static char *
describe_targets (RmExportDialog *self)
{
  RmProjectExportFormats formats = get_formats (self);
  g_autoptr (GString) names = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (all_formats); i++)
    if (formats & all_formats[i])
      {
        g_autofree char *folder =
            rm_project_session_export_folder (self->session, self->destination, all_formats[i]);
        g_autofree char *base = g_path_get_basename (folder);

        if (names->len > 0)
          g_string_append (names, ", ");
        g_string_append (names, base);
      }
  if (names->len == 0)
    return g_strdup (_ ("Choose at least one format."));

  /* Translators: %s is a list of folder names */
  return g_strdup_printf (_ ("Writes the new folders %s there."), names->str);
}

static void
update (RmExportDialog *self)
{
  gboolean running = self->cancellable != NULL;
  g_autoptr (GFile) destination = g_file_new_for_path (self->destination);
  g_autofree char *display = g_file_get_parse_name (destination);
  g_autofree char *targets = describe_targets (self);

  gtk_label_set_label (self->destination_label, display);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->destination_label), display);
  gtk_label_set_label (self->targets_label, targets);
  gtk_widget_set_sensitive (GTK_WIDGET (self->coco_masks_dropdown),
                            gtk_check_button_get_active (self->coco_check));
  gtk_widget_set_sensitive (self->form, !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->export_button),
                            !running && get_formats (self) != 0 && get_status_mask (self) != 0);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), running);
  gtk_button_set_label (self->cancel_button, running ? _ ("_Stop") : _ ("_Close"));
}

static void
on_option_changed (RmExportDialog *self)
{
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  update (self);
}

/* ---- the destination ----------------------------------------------------------------------- */

static void
destination_response (GtkNativeDialog *chooser, int response, RmExportDialog *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        rm_export_dialog_set_destination (self, path);
    }
  g_object_unref (chooser);
}

static void
on_destination_clicked (RmExportDialog *self)
{
  g_autoptr (GFile) folder = g_file_new_for_path (self->destination);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_ ("Export Into"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Choose"),
                                         _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
  g_signal_connect (chooser, "response", G_CALLBACK (destination_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---- exporting ----------------------------------------------------------------------------- */

static void
on_progress (double fraction, gpointer user_data)
{
  RmExportDialog *self = user_data;

  if (self->cancellable == NULL)
    return;
  rm_dialog_show_percent (self->progress_bar, fraction);
}

static void
export_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmExportDialog) self = user_data;
  g_autoptr (RmProjectExportResult) exported = NULL;
  g_autoptr (GError) error = NULL;

  exported = rm_project_session_export_finish (RM_PROJECT_SESSION (object), result, &error);
  g_clear_object (&self->cancellable);

  if (exported == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    rm_dialog_show_result (self->result_label, _ ("Stopped. The folder being written was removed."),
                           FALSE);
  else if (exported == NULL && g_error_matches (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EMPTY))
    rm_dialog_show_result (self->result_label,
                           _ ("No annotation has the chosen status, so nothing was written."),
                           TRUE);
  else if (exported == NULL)
    {
      /* Translators: the reason an export failed */
      g_autofree char *text = g_strdup_printf (_ ("The export failed: %s"), error->message);

      rm_dialog_show_result (self->result_label, text, TRUE);
    }
  else
    {
      GString *text = g_string_new (NULL);
      guint n_warnings = exported->warnings != NULL ? exported->warnings->len : 0;

      g_string_append_printf (
          text,
          ngettext ("Exported %u annotation", "Exported %u annotations", exported->annotations),
          exported->annotations);
      g_string_append_printf (
          text, ngettext (" of %u image into:", " of %u images into:", exported->images),
          exported->images);
      for (guint i = 0; i < exported->folders->len; i++)
        g_string_append_printf (text, "\n%s", (const char *) exported->folders->pdata[i]);
      for (guint i = 0; i < n_warnings && i < 5; i++)
        g_string_append_printf (text, "\n• %s", (const char *) exported->warnings->pdata[i]);
      if (n_warnings > 5)
        {
          g_string_append_c (text, '\n');
          g_string_append_printf (
              text, ngettext ("and %u more warning", "and %u more warnings", n_warnings - 5),
              n_warnings - 5);
        }
      rm_dialog_show_result (self->result_label, text->str, FALSE);
      g_string_free (text, TRUE);
    }
  update (self);
  if (self->close_when_done)
    gtk_window_destroy (GTK_WINDOW (self));
}

static void
run_export (RmExportDialog *self, gboolean replace)
{
  RmExportOptions options;

  rm_export_options_init (&options);
  options.status_mask = get_status_mask (self);
  options.force = replace;
  options.polygons = gtk_drop_down_get_selected (self->coco_masks_dropdown) == 1;
  options.no_images = !gtk_check_button_get_active (self->images_check);
  self->cancellable = g_cancellable_new ();
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, _ ("Waiting for the project…"));
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  rm_project_session_export_async (self->session, self->destination, get_formats (self), &options,
                                   on_progress, self, self->cancellable, export_done,
                                   g_object_ref (self));
  update (self);
}

static void
confirm_response (GtkDialog *dialog, int response, RmExportDialog *self)
{
  gtk_window_destroy (GTK_WINDOW (dialog));
  if (response == GTK_RESPONSE_ACCEPT)
    run_export (self, TRUE);
  else
    rm_dialog_show_result (self->result_label, _ ("Nothing was written."), FALSE);
}

/* Starts the export (Export); a folder that is there already is replaced only when the user
 * confirms (see rm_export_dialog_get_confirmation ()). */
void
rm_export_dialog_start (RmExportDialog *self)
{
  RmProjectExportFormats formats;
  g_autoptr (GPtrArray) existing = g_ptr_array_new_with_free_func (g_free);
  GtkWidget *dialog;
  g_autoptr (GString) names = g_string_new (NULL);

  g_return_if_fail (RM_IS_EXPORT_DIALOG (self));

  formats = get_formats (self);
  if (self->cancellable != NULL || formats == 0 || get_status_mask (self) == 0)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (all_formats); i++)
    if (formats & all_formats[i])
      {
        char *folder =
            rm_project_session_export_folder (self->session, self->destination, all_formats[i]);

        if (g_file_test (folder, G_FILE_TEST_EXISTS))
          g_ptr_array_add (existing, folder);
        else
          g_free (folder);
      }
  if (existing->len == 0)
    {
      run_export (self, FALSE);
      return;
    }

  for (guint i = 0; i < existing->len; i++)
    {
      g_autofree char *base = g_path_get_basename (existing->pdata[i]);

      g_string_append_printf (names, "%s“%s”", i > 0 ? ", " : "", base);
    }
  dialog =
      gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                              GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
                              /* Translators: %s is one or more folder names */
                              ngettext ("Replace %s?", "Replace %s?", existing->len), names->str);
  gtk_message_dialog_format_secondary_text (
      GTK_MESSAGE_DIALOG (dialog), "%s",
      _ ("The destination has a folder of that name. Replacing deletes what it holds; a folder "
         "that Refmask did not export is never replaced."));
  gtk_dialog_add_buttons (GTK_DIALOG (dialog), _ ("_Cancel"), GTK_RESPONSE_CANCEL, _ ("_Replace"),
                          GTK_RESPONSE_ACCEPT, NULL);
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_CANCEL);
  g_signal_connect_object (dialog, "response", G_CALLBACK (confirm_response), self, 0);
  g_set_weak_pointer (&self->confirmation, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_cancel_clicked (RmExportDialog *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  else
    gtk_window_close (GTK_WINDOW (self));
}

static gboolean
rm_export_dialog_close_request (GtkWindow *window)
{
  RmExportDialog *self = RM_EXPORT_DIALOG (window);

  if (self->cancellable != NULL)
    {
      self->close_when_done = TRUE;
      g_cancellable_cancel (self->cancellable);
      return TRUE;
    }

  return GTK_WINDOW_CLASS (rm_export_dialog_parent_class)->close_request (window);
}

/* ---- GObject ------------------------------------------------------------------------------- */

static void
rm_export_dialog_dispose (GObject *object)
{
  RmExportDialog *self = (RmExportDialog *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->confirmation != NULL)
    gtk_window_destroy (self->confirmation);
  g_clear_weak_pointer (&self->confirmation);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_EXPORT_DIALOG);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (rm_export_dialog_parent_class)->dispose (object);
}

static void
rm_export_dialog_finalize (GObject *object)
{
  RmExportDialog *self = (RmExportDialog *) object;

  g_free (self->destination);

  G_OBJECT_CLASS (rm_export_dialog_parent_class)->finalize (object);
}

static void
rm_export_dialog_class_init (RmExportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = rm_export_dialog_dispose;
  object_class->finalize = rm_export_dialog_finalize;
  window_class->close_request = rm_export_dialog_close_request;

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-export-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, heading_label);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, form);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, coco_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, coco_masks_dropdown);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, png_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, refs_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, accepted_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, candidate_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, rejected_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, images_check);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, destination_label);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, destination_button);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, targets_label);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, result_label);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RmExportDialog, export_button);
}

static void
rm_export_dialog_init (RmExportDialog *self)
{
  GtkCheckButton *checks[6];

  gtk_widget_init_template (GTK_WIDGET (self));

  checks[0] = self->coco_check;
  checks[1] = self->png_check;
  checks[2] = self->refs_check;
  checks[3] = self->accepted_check;
  checks[4] = self->candidate_check;
  checks[5] = self->rejected_check;
  for (guint i = 0; i < G_N_ELEMENTS (checks); i++)
    g_signal_connect_swapped (checks[i], "notify::active", G_CALLBACK (on_option_changed), self);
  g_signal_connect_swapped (self->coco_masks_dropdown, "notify::selected",
                            G_CALLBACK (on_option_changed), self);
  g_signal_connect_swapped (self->destination_button, "clicked",
                            G_CALLBACK (on_destination_clicked), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (on_cancel_clicked), self);
  g_signal_connect_swapped (self->export_button, "clicked", G_CALLBACK (rm_export_dialog_start),
                            self);
}

/* An export dialog for the project of @session, over @parent; the destination starts as the
 * project's folder. */
GtkWindow *
rm_export_dialog_new (GtkWindow *parent, RmProjectSession *session, GSettings *settings)
{
  RmExportDialog *self;
  g_autofree char *name = NULL;
  g_autofree char *heading = NULL;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (session), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (RM_TYPE_EXPORT_DIALOG, "transient-for", parent, NULL);
  self->session = g_object_ref (session);
  self->settings = g_object_ref (settings);
  self->destination = g_path_get_dirname (rm_project_session_get_path (session));
  name = rm_project_session_dup_name (session);
  /* Translators: %s is the project's name */
  heading = g_strdup_printf (_ ("Export “%s”"), name);
  gtk_label_set_label (self->heading_label, heading);
  update (self);

  return GTK_WINDOW (self);
}

void
rm_export_dialog_set_destination (RmExportDialog *self, const char *dir)
{
  g_return_if_fail (RM_IS_EXPORT_DIALOG (self));
  g_return_if_fail (dir != NULL);

  g_free (self->destination);
  self->destination = g_strdup (dir);
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  update (self);
}

void
rm_export_dialog_set_formats (RmExportDialog *self, RmProjectExportFormats formats,
                              gboolean polygons)
{
  g_return_if_fail (RM_IS_EXPORT_DIALOG (self));

  gtk_check_button_set_active (self->coco_check, (formats & RM_PROJECT_EXPORT_COCO) != 0);
  gtk_check_button_set_active (self->png_check, (formats & RM_PROJECT_EXPORT_PNG) != 0);
  gtk_check_button_set_active (self->refs_check, (formats & RM_PROJECT_EXPORT_REFS) != 0);
  gtk_drop_down_set_selected (self->coco_masks_dropdown, polygons ? 1 : 0);
}

/* The "Replace?" question, while it is asked. */
GtkWindow *
rm_export_dialog_get_confirmation (RmExportDialog *self)
{
  g_return_val_if_fail (RM_IS_EXPORT_DIALOG (self), NULL);

  return self->confirmation;
}

gboolean
rm_export_dialog_get_running (RmExportDialog *self)
{
  g_return_val_if_fail (RM_IS_EXPORT_DIALOG (self), FALSE);

  return self->cancellable != NULL;
}

/* What the last export did, as shown; NULL before one ends. */
const char *
rm_export_dialog_get_result (RmExportDialog *self)
{
  g_return_val_if_fail (RM_IS_EXPORT_DIALOG (self), NULL);

  return gtk_widget_get_visible (GTK_WIDGET (self->result_label))
             ? gtk_label_get_label (self->result_label)
             : NULL;
}
