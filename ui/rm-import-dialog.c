/* rm-import-dialog.c: import a folder of images or a dataset into the project
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The import runs in the project session's worker with progress; Stop cancels it, and since an
 * import is one transaction, a cancelled or failed import adds nothing. "imported" hands what
 * was added (RmProjectContents) to the window.
 */

#include "rm-import-dialog.h"

#include "rm-dialog-util.h"

#include <glib/gi18n.h>

/* The order of the format drop-down. */
static const RmImportFormat formats[] = {
  RM_IMPORT_IMAGES, RM_IMPORT_REFS_JSONL, RM_IMPORT_COCO, RM_IMPORT_REFSEGRS, RM_IMPORT_RRSISD,
};

struct _RmImportDialog
{
  GtkWindow parent_instance;

  RmProjectSession *session;
  GSettings *settings;
  char *source;
  char *refs_path;
  char *images_dir;
  GCancellable *cancellable; /* while importing */
  gboolean close_when_done;

  GtkLabel *heading_label;
  GtkWidget *form;
  GtkDropDown *format_dropdown;
  GtkLabel *description_label;
  GtkLabel *source_label;
  GtkButton *source_button;
  GtkWidget *refs_title;
  GtkWidget *refs_box;
  GtkLabel *refs_label;
  GtkButton *refs_button;
  GtkWidget *images_title;
  GtkWidget *images_box;
  GtkLabel *images_label;
  GtkButton *images_button;
  GtkWidget *status_title;
  GtkDropDown *status_dropdown;
  GtkProgressBar *progress_bar;
  GtkLabel *result_label;
  GtkButton *cancel_button;
  GtkButton *import_button;
};

G_DEFINE_FINAL_TYPE (RmImportDialog, rm_import_dialog, GTK_TYPE_WINDOW)

enum
{
  IMPORTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static RmImportFormat
get_format (RmImportDialog *self)
{
  guint i = gtk_drop_down_get_selected (self->format_dropdown);

  return i < G_N_ELEMENTS (formats) ? formats[i] : RM_IMPORT_IMAGES;
}

static gboolean
format_is_folder (RmImportFormat format)
{
  return format == RM_IMPORT_IMAGES || format == RM_IMPORT_REFSEGRS || format == RM_IMPORT_RRSISD;
}

static const char *
describe_format (RmImportFormat format)
{
  switch (format)
    {
    case RM_IMPORT_IMAGES:
      return _ (
          "Every PNG, JPEG, BMP or TGA image in the folder and its subfolders. Images already "
          "in the project (same content) are skipped.");
    case RM_IMPORT_REFS_JSONL:
      return _ ("One sample a line: an image, a mask PNG and a referring expression, as Refmask "
                "exports them.");
    case RM_IMPORT_COCO:
      return _ ("Images, categories and masks (polygons or RLE) of a COCO instances file, with the "
                "expressions of a refer-style refs file.");
    case RM_IMPORT_REFSEGRS:
      return _ ("A RefSegRS folder: images/, masks/ and output_phrase_*.txt.");
    case RM_IMPORT_RRSISD:
      return _ ("An RRSIS-D folder: instances.json, refs(unc).p and the JPEG images.");
    case RM_IMPORT_AUTO:
    default:
      return "";
    }
}

static void
set_path_label (GtkLabel *label, const char *path, const char *none)
{
  g_autofree char *display = NULL;

  if (path != NULL)
    {
      g_autoptr (GFile) file = g_file_new_for_path (path);

      display = g_file_get_parse_name (file);
    }
  gtk_label_set_label (label, display != NULL ? display : none);
  gtk_widget_set_tooltip_text (GTK_WIDGET (label), display);
}

static void
update (RmImportDialog *self)
{
  RmImportFormat format = get_format (self);
  gboolean running = self->cancellable != NULL;
  gboolean coco = format == RM_IMPORT_COCO;

  gtk_label_set_label (self->description_label, describe_format (format));
  set_path_label (self->source_label, self->source, _ ("(none)"));
  set_path_label (self->refs_label, self->refs_path, _ ("(category names)"));
  set_path_label (self->images_label, self->images_dir, _ ("(next to the JSON)"));
  gtk_widget_set_visible (self->refs_title, coco);
  gtk_widget_set_visible (self->refs_box, coco);
  gtk_widget_set_visible (self->images_title, coco);
  gtk_widget_set_visible (self->images_box, coco);
  gtk_widget_set_visible (self->status_title, format != RM_IMPORT_IMAGES);
  gtk_widget_set_visible (GTK_WIDGET (self->status_dropdown), format != RM_IMPORT_IMAGES);

  gtk_widget_set_sensitive (self->form, !running);
  gtk_widget_set_sensitive (GTK_WIDGET (self->import_button), !running && self->source != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), running);
  gtk_button_set_label (self->cancel_button, running ? _ ("_Stop") : _ ("_Close"));
}

static void
on_format_changed (RmImportDialog *self)
{
  /* a folder is not a file of the new format, nor the other way round */
  if (self->source != NULL &&
      format_is_folder (get_format (self)) != g_file_test (self->source, G_FILE_TEST_IS_DIR))
    g_clear_pointer (&self->source, g_free);
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  update (self);
}

/* ---- choosing files ---------------------------------------------------------------------- */

typedef enum
{
  CHOOSE_SOURCE,
  CHOOSE_REFS,
  CHOOSE_IMAGES,
} ChooseWhat;

static void
chooser_response (GtkNativeDialog *chooser, int response, RmImportDialog *self)
{
  ChooseWhat what = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (chooser), "what"));

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL)
        switch (what)
          {
          case CHOOSE_SOURCE:
            {
              g_autoptr (GFile) parent = g_file_get_parent (file);
              g_autofree char *folder = parent != NULL ? g_file_get_path (parent) : NULL;

              rm_import_dialog_set_source (self, get_format (self), path);
              if (folder != NULL)
                g_settings_set_string (self->settings, "last-folder", folder);
            }
            break;
          case CHOOSE_REFS:
            g_free (self->refs_path);
            self->refs_path = g_steal_pointer (&path);
            break;
          case CHOOSE_IMAGES:
          default:
            g_free (self->images_dir);
            self->images_dir = g_steal_pointer (&path);
            break;
          }
    }
  update (self);
  g_object_unref (chooser);
}

static void
choose (RmImportDialog *self, ChooseWhat what)
{
  RmImportFormat format = get_format (self);
  gboolean folder = what == CHOOSE_IMAGES || (what == CHOOSE_SOURCE && format_is_folder (format));
  g_autofree char *last = g_settings_get_string (self->settings, "last-folder");
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (
      folder ? _ ("Choose a Folder") : _ ("Choose a File"), GTK_WINDOW (self),
      folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Choose"),
      _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (last[0] != '\0' && g_file_test (last, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GFile) start = g_file_new_for_path (last);

      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), start, NULL);
    }
  if (!folder)
    {
      g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

      if (what == CHOOSE_REFS)
        {
          gtk_file_filter_set_name (filter, _ ("Refer-style refs (refs.json, refs(unc).p)"));
          gtk_file_filter_add_pattern (filter, "*.json");
          gtk_file_filter_add_pattern (filter, "*.p");
        }
      else if (format == RM_IMPORT_COCO)
        {
          gtk_file_filter_set_name (filter, _ ("COCO JSON"));
          gtk_file_filter_add_pattern (filter, "*.json");
        }
      else
        {
          gtk_file_filter_set_name (filter, _ ("refs.jsonl"));
          gtk_file_filter_add_pattern (filter, "*.jsonl");
        }
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  g_object_set_data (G_OBJECT (chooser), "what", GINT_TO_POINTER (what));
  g_signal_connect (chooser, "response", G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_source_clicked (RmImportDialog *self)
{
  choose (self, CHOOSE_SOURCE);
}

static void
on_refs_clicked (RmImportDialog *self)
{
  choose (self, CHOOSE_REFS);
}

static void
on_images_clicked (RmImportDialog *self)
{
  choose (self, CHOOSE_IMAGES);
}

/* ---- importing --------------------------------------------------------------------------- */

static void
on_progress (double fraction, gpointer user_data)
{
  RmImportDialog *self = user_data;

  if (self->cancellable == NULL)
    return;
  rm_dialog_show_percent (self->progress_bar, fraction);
}

static char *
describe_report (const RmImportReport *report)
{
  GString *text = g_string_new (NULL);
  guint n_warnings = report->warnings != NULL ? report->warnings->len : 0;

  g_string_append_printf (
      text, ngettext ("Imported %u image", "Imported %u images", report->images_added),
      report->images_added);
  if (report->images_existing > 0)
    g_string_append_printf (text,
                            ngettext (" (%u was in the project already)",
                                      " (%u were in the project already)", report->images_existing),
                            report->images_existing);
  g_string_append_printf (
      text, ngettext (" and %u annotation.", " and %u annotations.", report->annotations_added),
      report->annotations_added);
  if (report->annotations_skipped > 0)
    {
      g_string_append_c (text, ' ');
      g_string_append_printf (text,
                              ngettext ("%u annotation was in the project already.",
                                        "%u annotations were in the project already.",
                                        report->annotations_skipped),
                              report->annotations_skipped);
    }
  for (guint i = 0; i < n_warnings && i < 5; i++)
    g_string_append_printf (text, "\n• %s", (const char *) report->warnings->pdata[i]);
  if (n_warnings > 5)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (
          text, ngettext ("and %u more warning", "and %u more warnings", n_warnings - 5),
          n_warnings - 5);
    }

  return g_string_free (text, FALSE);
}

static void
import_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmImportDialog) self = user_data;
  g_autoptr (RmProjectContents) contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  contents = rm_project_session_import_finish (RM_PROJECT_SESSION (object), result, &error);
  g_clear_object (&self->cancellable);

  if (contents == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    rm_dialog_show_result (self->result_label, _ ("Stopped. Nothing was imported."), FALSE);
  else if (contents == NULL)
    {
      /* Translators: the reason an import failed */
      text = g_strdup_printf (_ ("Nothing was imported: %s"), error->message);
      rm_dialog_show_result (self->result_label, text, TRUE);
    }
  else
    {
      text = describe_report (&contents->report);
      rm_dialog_show_result (self->result_label, text, FALSE);
      g_signal_emit (self, signals[IMPORTED], 0, contents);
    }
  update (self);
  if (self->close_when_done)
    gtk_window_destroy (GTK_WINDOW (self));
}

/* Starts the import (Import). */
void
rm_import_dialog_start (RmImportDialog *self)
{
  RmImportOptions options;

  g_return_if_fail (RM_IS_IMPORT_DIALOG (self));

  if (self->cancellable != NULL || self->source == NULL)
    return;

  rm_import_options_init (&options);
  options.status = gtk_drop_down_get_selected (self->status_dropdown) == 1 ? RM_STATUS_CANDIDATE
                                                                           : RM_STATUS_ACCEPTED;
  options.refs_path = self->refs_path;
  options.images_dir = self->images_dir;
  self->cancellable = g_cancellable_new ();
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, _ ("Waiting for the project…"));
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  rm_project_session_import_async (self->session, get_format (self), self->source, &options,
                                   on_progress, self, self->cancellable, import_done,
                                   g_object_ref (self));
  update (self);
}

/* Stops a running import; nothing of it is kept. */
void
rm_import_dialog_cancel (RmImportDialog *self)
{
  g_return_if_fail (RM_IS_IMPORT_DIALOG (self));

  g_cancellable_cancel (self->cancellable);
}

static void
on_cancel_clicked (RmImportDialog *self)
{
  if (self->cancellable != NULL)
    rm_import_dialog_cancel (self);
  else
    gtk_window_close (GTK_WINDOW (self));
}

static gboolean
rm_import_dialog_close_request (GtkWindow *window)
{
  RmImportDialog *self = RM_IMPORT_DIALOG (window);

  if (self->cancellable != NULL)
    {
      /* closes when the worker has let go */
      self->close_when_done = TRUE;
      rm_import_dialog_cancel (self);
      return TRUE;
    }

  return GTK_WINDOW_CLASS (rm_import_dialog_parent_class)->close_request (window);
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
rm_import_dialog_dispose (GObject *object)
{
  RmImportDialog *self = (RmImportDialog *) object;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_IMPORT_DIALOG);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (rm_import_dialog_parent_class)->dispose (object);
}

static void
rm_import_dialog_finalize (GObject *object)
{
  RmImportDialog *self = (RmImportDialog *) object;

  g_free (self->source);
  g_free (self->refs_path);
  g_free (self->images_dir);

  G_OBJECT_CLASS (rm_import_dialog_parent_class)->finalize (object);
}

static void
rm_import_dialog_class_init (RmImportDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = rm_import_dialog_dispose;
  object_class->finalize = rm_import_dialog_finalize;
  window_class->close_request = rm_import_dialog_close_request;

  /* imported (RmProjectContents *): what the import added (borrowed). */
  signals[IMPORTED] = g_signal_new ("imported", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-import-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, heading_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, form);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, format_dropdown);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, description_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, source_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, source_button);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, refs_title);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, refs_box);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, refs_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, refs_button);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, images_title);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, images_box);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, images_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, images_button);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, status_title);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, status_dropdown);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, result_label);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RmImportDialog, import_button);
}

static void
rm_import_dialog_init (RmImportDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  g_signal_connect_swapped (self->format_dropdown, "notify::selected",
                            G_CALLBACK (on_format_changed), self);
  g_signal_connect_swapped (self->source_button, "clicked", G_CALLBACK (on_source_clicked), self);
  g_signal_connect_swapped (self->refs_button, "clicked", G_CALLBACK (on_refs_clicked), self);
  g_signal_connect_swapped (self->images_button, "clicked", G_CALLBACK (on_images_clicked), self);
  g_signal_connect_swapped (self->cancel_button, "clicked", G_CALLBACK (on_cancel_clicked), self);
  g_signal_connect_swapped (self->import_button, "clicked", G_CALLBACK (rm_import_dialog_start),
                            self);
  update (self);
}

/* An import dialog for the project of @session, over @parent. */
GtkWindow *
rm_import_dialog_new (GtkWindow *parent, RmProjectSession *session, GSettings *settings)
{
  RmImportDialog *self;
  g_autofree char *name = NULL;
  g_autofree char *heading = NULL;

  g_return_val_if_fail (RM_IS_PROJECT_SESSION (session), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = g_object_new (RM_TYPE_IMPORT_DIALOG, "transient-for", parent, NULL);
  self->session = g_object_ref (session);
  self->settings = g_object_ref (settings);
  name = rm_project_session_dup_name (session);
  /* Translators: %s is the project's name */
  heading = g_strdup_printf (_ ("Import into “%s”"), name);
  gtk_label_set_label (self->heading_label, heading);

  return GTK_WINDOW (self);
}

/* Sets what to import; a folder that holds a dataset is recognised as one. */
void
rm_import_dialog_set_source (RmImportDialog *self, RmImportFormat format, const char *path)
{
  g_return_if_fail (RM_IS_IMPORT_DIALOG (self));
  g_return_if_fail (path != NULL);

  if (format == RM_IMPORT_AUTO || format == RM_IMPORT_IMAGES)
    {
      RmImportFormat detected = rm_import_detect (path, NULL);

      if (detected != RM_IMPORT_AUTO)
        format = detected;
    }
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    if (formats[i] == format)
      gtk_drop_down_set_selected (self->format_dropdown, i);
  g_free (self->source);
  self->source = g_strdup (path);
  rm_dialog_show_result (self->result_label, NULL, FALSE);
  update (self);
}

gboolean
rm_import_dialog_get_running (RmImportDialog *self)
{
  g_return_val_if_fail (RM_IS_IMPORT_DIALOG (self), FALSE);

  return self->cancellable != NULL;
}

/* What the last import did, as shown; NULL before one ends. */
const char *
rm_import_dialog_get_result (RmImportDialog *self)
{
  g_return_val_if_fail (RM_IS_IMPORT_DIALOG (self), NULL);

  return gtk_widget_get_visible (GTK_WIDGET (self->result_label))
             ? gtk_label_get_label (self->result_label)
             : NULL;
}
