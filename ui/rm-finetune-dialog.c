/* rm-finetune-dialog.c: fine-tune the model on the accepted annotations
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The data are the session's accepted annotations. Validation holds out whole images (so that
 * no image is both learnt and judged): none, a fraction of the images picked with a fixed seed,
 * or the images the user ticks. The defaults follow the official fine-tuning recipe: learning
 * rates 5e-5 for the encoders and 1e-4 for the adapters, fusion and prior, gradients accumulated
 * over 4 expressions (fewer when there are fewer), and about two passes over the training
 * expressions.
 *
 * Training runs the engine's rm_train () in a GTask worker, starting from the window's model and
 * writing a new model folder. The worker first writes the data as the engine reads it: a
 * temporary refs.jsonl (id, image, mask, expression, split; the format of the shared datasets)
 * with each mask as a 0/255 grey PNG, and images GDK reads but the engine does not (TIFF) as
 * PNG. Progress comes back through the main context: each step's loss goes on the live curve,
 * with the speed and the time left; the validation before the first step and after the last
 * fill a table. Stop sets the engine's abort flag: it stops after the current step and writes a
 * checkpoint, which is a model folder too. At the end the new folder becomes a model version of
 * the window (RmModelVersion), and "Use the New Model" switches to it; the model switcher rolls
 * back.
 */

#include "rm-finetune-dialog.h"

#include "rm-main-context.h"
#include "rm-annotation.h"
#include "rm-image-item.h"
#include "rm-loss-curve.h"
#include "rm-model-version.h"
#include "rm-project.h"
#include "rm-segmenter.h"
#include "rm-train.h"
#include "rm-window-project.h"
#include "rm-window.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>

#define DEFAULT_ACCUM  4
#define DEFAULT_EPOCHS 2.0
#define SPLIT_SEED     2401
#define LR_UNIT        1e-5
/* The project's training run gets the loss curve this often (steps), and at the end. */
#define RUN_WRITE_STEPS 25

/* ---- the job: what the worker needs, shared with the reports ------------------------------ */

typedef struct
{
  GFile *image;
  char *expression;
  GBytes *rle; /* the mask, compressed (rm_annotation_get_rle ()): decoded one at a time when
                * the worker writes it, so a large project is never all in memory decoded */
  int width;
  int height;
  gboolean val;
} Sample;

typedef struct
{
  RmFinetuneDialog *dialog; /* main context only; NULL once the dialog is gone */
  GMainContext *context;
  gint abort;      /* atomic */
  GArray *samples; /* of Sample */
  char *model_dir;
  char *out_dir;
  char *data_dir; /* the temporary refs.jsonl and masks, removed when the worker is done */
  char *refs;
  RmTrainParams params;
  RmTrainResult result;

  /* main context only: the project's record of the run; released in train_done */
  RmProjectSession *session; /* or NULL: no project */
  RmProjectRun *run;
  GString *losses; /* the loss curve's points, as JSON objects separated by commas */
} Job;

static void
sample_clear (gpointer data)
{
  Sample *sample = data;

  g_clear_object (&sample->image);
  g_clear_pointer (&sample->expression, g_free);
  g_clear_pointer (&sample->rle, g_bytes_unref);
}

static void
job_clear (gpointer data)
{
  Job *job = data;

  if (job->data_dir != NULL)
    rm_remove_tree (job->data_dir);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_pointer (&job->samples, g_array_unref);
  g_free (job->model_dir);
  g_free (job->out_dir);
  g_free (job->data_dir);
  g_free (job->refs);
  g_clear_object (&job->session);
  g_clear_pointer (&job->run, rm_project_run_unref);
  if (job->losses != NULL)
    g_string_free (job->losses, TRUE);
}

static void
job_unref (gpointer job)
{
  g_atomic_rc_box_release_full (job, job_clear);
}

/* ---- the dialog -------------------------------------------------------------------------- */

struct _RmFinetuneDialog
{
  GtkWindow parent_instance;

  RmWindow *window;
  GArray *samples;   /* of Sample: the accepted annotations */
  GPtrArray *images; /* of GFile: their images, in sidebar order */
  GPtrArray *checks; /* of GtkCheckButton: held out, per image */
  char *out_folder;  /* the new model folder is made in here */
  gboolean setting;  /* spin buttons being set by the dialog, not the user */
  gboolean steps_set_by_user;
  gboolean accum_set_by_user;
  gboolean built; /* the template is in place */

  Job *job; /* while training */
  gboolean close_when_done;
  gboolean finished;
  gboolean cancelled;
  gint64 steps_done;
  gint64 total_steps;
  gboolean have_before;
  gboolean have_after;
  RmMetricsSummary before;
  RmMetricsSummary after;
  RmModelVersion *version; /* what the run made */

  GtkButton *close_button;
  GtkWidget *start_button;
  GtkWidget *cancel_button;
  GtkWidget *use_button;
  GtkStack *stack;
  GtkLabel *data_label;
  GtkCheckButton *none_radio;
  GtkCheckButton *fraction_radio;
  GtkCheckButton *chosen_radio;
  GtkSpinButton *fraction_spin;
  GtkListBox *image_listbox;
  GtkLabel *split_label;
  GtkSpinButton *steps_spin;
  GtkLabel *epochs_label;
  GtkSpinButton *accum_spin;
  GtkSpinButton *lr_spin;
  GtkSpinButton *lr_bifit_spin;
  GtkCheckButton *flips_check;
  GtkLabel *out_label;
  RmLossCurve *loss_curve;
  GtkProgressBar *progress_bar;
  GtkLabel *stats_label;
  GtkGrid *metrics_grid;
  GtkLabel *result_label;
};

G_DEFINE_FINAL_TYPE (RmFinetuneDialog, rm_finetune_dialog, GTK_TYPE_WINDOW)

static gboolean
running (RmFinetuneDialog *self)
{
  return self->job != NULL;
}

static RmFinetuneValidation
get_validation (RmFinetuneDialog *self)
{
  if (gtk_check_button_get_active (self->none_radio))
    return RM_FINETUNE_VALIDATION_NONE;
  if (gtk_check_button_get_active (self->chosen_radio))
    return RM_FINETUNE_VALIDATION_CHOSEN;

  return RM_FINETUNE_VALIDATION_FRACTION;
}

/* The images held out for validation (a set of GFile). */
static GHashTable *
held_out_images (RmFinetuneDialog *self)
{
  GHashTable *held_out = g_hash_table_new (g_file_hash, (GEqualFunc) g_file_equal);
  guint n = self->images->len;

  switch (get_validation (self))
    {
    case RM_FINETUNE_VALIDATION_NONE:
      break;

    case RM_FINETUNE_VALIDATION_FRACTION:
      if (n >= 2)
        {
          double fraction = gtk_spin_button_get_value (self->fraction_spin) / 100;
          guint k = (guint) CLAMP (round (n * fraction), 1, n - 1);
          g_autoptr (GRand) rand = g_rand_new_with_seed (SPLIT_SEED);
          g_autofree guint *order = g_new (guint, n);

          for (guint i = 0; i < n; i++)
            order[i] = i;
          for (guint i = n - 1; i > 0; i--)
            {
              guint j = (guint) g_rand_int_range (rand, 0, (gint32) i + 1);
              guint t = order[i];

              order[i] = order[j];
              order[j] = t;
            }
          for (guint i = 0; i < k; i++)
            g_hash_table_add (held_out, self->images->pdata[order[i]]);
        }
      break;

    case RM_FINETUNE_VALIDATION_CHOSEN:
      for (guint i = 0; i < n; i++)
        if (gtk_check_button_get_active (self->checks->pdata[i]))
          g_hash_table_add (held_out, self->images->pdata[i]);
      break;

    default:
      g_assert_not_reached ();
    }

  return held_out;
}

/* Marks each sample train or val; returns the counts. */
static void
split_samples (RmFinetuneDialog *self, guint *n_train, guint *n_val)
{
  g_autoptr (GHashTable) held_out = held_out_images (self);

  *n_train = *n_val = 0;
  for (guint i = 0; i < self->samples->len; i++)
    {
      Sample *sample = &g_array_index (self->samples, Sample, i);

      sample->val = g_hash_table_contains (held_out, sample->image);
      if (sample->val)
        (*n_val)++;
      else
        (*n_train)++;
    }
}

void
rm_finetune_dialog_get_split (RmFinetuneDialog *self, guint *n_train, guint *n_val)
{
  guint train, val;

  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  split_samples (self, &train, &val);
  if (n_train != NULL)
    *n_train = train;
  if (n_val != NULL)
    *n_val = val;
}

static void
set_spin (RmFinetuneDialog *self, GtkSpinButton *spin, double value)
{
  self->setting = TRUE;
  gtk_spin_button_set_value (spin, value);
  self->setting = FALSE;
}

static char *
display_path (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);

  return g_file_get_parse_name (file);
}

/* The split, the default steps (about two epochs) and accumulation, and what they mean. */
static void
update (RmFinetuneDialog *self)
{
  guint n_train, n_val;
  int accum, steps;
  g_autofree char *split = NULL;
  g_autofree char *epochs = NULL;
  g_autofree char *folder = NULL;
  gboolean ready;

  if (!self->built)
    return; /* the template's own settings, while it is being built */

  split_samples (self, &n_train, &n_val);

  if (!self->accum_set_by_user)
    set_spin (self, self->accum_spin, MIN (DEFAULT_ACCUM, MAX (n_train, 1)));
  accum = gtk_spin_button_get_value_as_int (self->accum_spin);
  if (!self->steps_set_by_user)
    set_spin (self, self->steps_spin, MAX (1, ceil (DEFAULT_EPOCHS * n_train / accum)));
  steps = gtk_spin_button_get_value_as_int (self->steps_spin);

  if (n_train == 0 && self->samples->len > 0)
    split = g_strdup (_ ("Every annotation is held out: keep at least one image for training."));
  else if (n_val == 0)
    split = g_strdup_printf (
        ngettext ("%u expression to train on; no validation, so no metrics before and after.",
                  "%u expressions to train on; no validation, so no metrics before and after.",
                  n_train),
        n_train);
  else
    /* Translators: the first number is of training expressions, the second of validation ones */
    split = g_strdup_printf (ngettext ("%u expression to train on, %u to validate on.",
                                       "%u expressions to train on, %u to validate on.", n_train),
                             n_train, n_val);
  gtk_label_set_label (self->split_label, split);

  if (n_train > 0)
    /* Translators: how many passes over the training expressions the steps make */
    epochs = g_strdup_printf (_ ("≈ %.1f epochs"), (double) steps * accum / n_train);
  gtk_label_set_label (self->epochs_label, epochs);

  folder = display_path (self->out_folder);
  gtk_label_set_label (self->out_label, folder);

  ready =
      self->window != NULL && rm_window_get_model_version (self->window) != NULL && n_train > 0 &&
      rm_segmenter_get_state (rm_window_get_segmenter (self->window)) == RM_SEGMENTER_STATE_READY;
  gtk_widget_set_sensitive (self->start_button, ready && !running (self) && !self->finished);
  gtk_widget_set_visible (self->start_button, !running (self) && !self->finished);
  gtk_widget_set_visible (self->cancel_button, running (self));
  gtk_widget_set_sensitive (self->cancel_button,
                            running (self) && !g_atomic_int_get (&self->job->abort));
  gtk_widget_set_visible (self->use_button, self->version != NULL);
  gtk_widget_set_sensitive (GTK_WIDGET (self->image_listbox),
                            get_validation (self) == RM_FINETUNE_VALIDATION_CHOSEN);
  gtk_widget_set_sensitive (GTK_WIDGET (self->fraction_spin),
                            get_validation (self) == RM_FINETUNE_VALIDATION_FRACTION);
  gtk_button_set_label (self->close_button, running (self) ? _ ("_Cancel") : _ ("_Close"));
}

static void
on_data_changed (RmFinetuneDialog *self)
{
  update (self);
}

static void
on_steps_changed (RmFinetuneDialog *self)
{
  if (!self->setting)
    self->steps_set_by_user = TRUE;
  update (self);
}

static void
on_accum_changed (RmFinetuneDialog *self)
{
  if (!self->setting)
    self->accum_set_by_user = TRUE;
  update (self);
}

/* ---- the worker -------------------------------------------------------------------------- */

static void
append_json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
        }
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, (char) c);
    }
  g_string_append_c (out, '"');
}

/* The engine reads JPEG, PNG, BMP and TGA itself; other images (TIFF) are written as PNG. */
static gboolean
engine_reads (const char *path)
{
  static const char *const suffixes[] = { ".png", ".jpg", ".jpeg", ".bmp", ".tga" };
  g_autofree char *lower = g_ascii_strdown (path, -1);

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (lower, suffixes[i]))
      return TRUE;

  return FALSE;
}

/* Writes refs.jsonl, the masks and any converted images into a new temporary folder. */
static gboolean
write_data (Job *job, GError **error)
{
  g_autoptr (GString) refs = g_string_new (NULL);
  g_autoptr (GHashTable) image_paths =
      g_hash_table_new_full (g_file_hash, (GEqualFunc) g_file_equal, NULL, g_free);
  g_autofree char *masks = NULL;

  job->data_dir = g_dir_make_tmp ("refmask-finetune-XXXXXX", error);
  if (job->data_dir == NULL)
    return FALSE;
  masks = g_build_filename (job->data_dir, "masks", NULL);
  if (g_mkdir (masks, 0700) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", masks,
                   g_strerror (errno));
      return FALSE;
    }

  for (guint i = 0; i < job->samples->len; i++)
    {
      Sample *sample = &g_array_index (job->samples, Sample, i);
      g_autofree char *id = g_strdup_printf ("annotation-%05u", i);
      g_autofree char *mask_name = g_strdup_printf ("masks/%s.png", id);
      g_autofree char *mask_path = g_build_filename (job->data_dir, mask_name, NULL);
      g_autoptr (RmImage) mask = NULL;
      g_autoptr (RmRle) rle = NULL;
      const char *image_path = g_hash_table_lookup (image_paths, sample->image);

      if (g_atomic_int_get (&job->abort))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
          return FALSE;
        }

      if (image_path == NULL)
        {
          char *path = g_file_get_path (sample->image);

          if (path == NULL || !engine_reads (path))
            {
              g_autoptr (RmImage) image = rm_segmenter_load_image (sample->image, error);
              g_autofree char *name = g_strdup_printf ("image-%05u.png", i);

              g_free (path);
              if (image == NULL)
                return FALSE;
              path = g_build_filename (job->data_dir, name, NULL);
              if (!rm_image_save_png (image, path, error))
                {
                  g_free (path);
                  return FALSE;
                }
            }
          g_hash_table_insert (image_paths, sample->image, path);
          image_path = path;
        }

      rle =
          rm_rle_from_bytes (sample->rle, (guint32) sample->height, (guint32) sample->width, error);
      if (rle == NULL)
        return FALSE;
      mask = rm_image_new (sample->width, sample->height, 1);
      rm_rle_decode (rle, mask->pixels, (gsize) sample->width, 255);
      if (!rm_image_save_png (mask, mask_path, error))
        return FALSE;

      g_string_append (refs, "{\"id\": ");
      append_json_string (refs, id);
      g_string_append (refs, ", \"image\": ");
      append_json_string (refs, image_path);
      g_string_append (refs, ", \"mask\": ");
      append_json_string (refs, mask_name);
      g_string_append (refs, ", \"expression\": ");
      append_json_string (refs, sample->expression);
      g_string_append_printf (refs, ", \"split\": \"%s\", \"height\": %d, \"width\": %d}\n",
                              sample->val ? "val" : "train", sample->height, sample->width);
    }

  job->refs = g_build_filename (job->data_dir, "refs.jsonl", NULL);

  return g_file_set_contents (job->refs, refs->str, (gssize) refs->len, error);
}

typedef struct
{
  Job *job; /* a reference */
  RmTrainProgress progress;
} Report;

static void
report_free (gpointer data)
{
  Report *report = data;

  job_unref (report->job);
  g_free (report);
}

static void show_progress (RmFinetuneDialog *self, const RmTrainProgress *progress);

static gboolean
deliver_report (gpointer data)
{
  Report *report = data;

  if (report->job->dialog != NULL && report->job->dialog->job == report->job)
    show_progress (report->job->dialog, &report->progress);

  return G_SOURCE_REMOVE;
}

/* In the worker: a copy goes to the main context. */
static void
on_train_progress (void *user, const RmTrainProgress *progress)
{
  Job *job = user;
  Report *report = g_new0 (Report, 1);

  report->job = g_atomic_rc_box_acquire (job);
  report->progress = *progress;
  report->progress.event = g_intern_string (progress->event);
  rm_main_context_post (job->context, deliver_report, report, report_free);
}

static bool
on_train_abort (void *user)
{
  Job *job = user;

  return g_atomic_int_get (&job->abort) != 0;
}

static void
train_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  Job *job = task_data;
  GError *error = NULL;

  if (!write_data (job, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  job->params.refs = job->refs;
  if (!rm_train (&job->params, &job->result, &error))
    {
      if (g_error_matches (error, RM_ERROR, RM_ERROR_CANCELLED))
        {
          GError *cancelled =
              g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, error->message);

          g_error_free (error);
          error = cancelled;
        }
      g_task_return_error (task, error);
      return;
    }

  g_task_return_boolean (task, TRUE);
}

/* ---- progress and the end ---------------------------------------------------------------- */

static char *
format_eta (double seconds)
{
  int s = (int) ceil (MAX (seconds, 0));

  if (s < 60)
    return g_strdup_printf (ngettext ("about %d second left", "about %d seconds left", s), s);
  s = (s + 59) / 60;
  if (s < 120)
    return g_strdup_printf (ngettext ("about %d minute left", "about %d minutes left", s), s);
  s = (s + 59) / 60;

  return g_strdup_printf (ngettext ("about %d hour left", "about %d hours left", s), s);
}

static char *
format_percent (double value)
{
  /* Translators: a metric in percent */
  return g_strdup_printf (_ ("%.1f %%"), value * 100);
}

static void
grid_text (RmFinetuneDialog *self, int column, int row, const char *text, const char *css_class)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_xalign (GTK_LABEL (label), column == 0 ? 0.0f : 1.0f);
  gtk_widget_add_css_class (label, "numeric");
  if (css_class != NULL)
    gtk_widget_add_css_class (label, css_class);
  gtk_grid_attach (self->metrics_grid, label, column, row, 1, 1);
}

/* The validation table: mIoU, oIoU and three precisions, before, after and the change. */
static void
update_metrics (RmFinetuneDialog *self)
{
  static const char *const names[] = { "mIoU", "oIoU", "Pr@0.5", "Pr@0.7", "Pr@0.9" };
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->metrics_grid))) != NULL)
    gtk_grid_remove (self->metrics_grid, child);
  gtk_widget_set_visible (GTK_WIDGET (self->metrics_grid), self->have_before);
  if (!self->have_before)
    return;

  {
    guint n = (guint) self->before.n;
    g_autofree char *heading = g_strdup_printf (
        ngettext ("Validation (%u expression)", "Validation (%u expressions)", n), n);

    grid_text (self, 0, 0, heading, "heading");
  }
  grid_text (self, 1, 0, _ ("Before"), "heading");
  grid_text (self, 2, 0, _ ("After"), "heading");
  grid_text (self, 3, 0, _ ("Change"), "heading");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      const double before[] = { self->before.miou, self->before.oiou, self->before.precision[0],
                                self->before.precision[2], self->before.precision[4] };
      const double after[] = { self->after.miou, self->after.oiou, self->after.precision[0],
                               self->after.precision[2], self->after.precision[4] };
      g_autofree char *b = format_percent (before[i]);

      grid_text (self, 0, (int) i + 1, names[i], NULL);
      grid_text (self, 1, (int) i + 1, b, NULL);
      if (self->have_after)
        {
          g_autofree char *a = format_percent (after[i]);
          double delta = (after[i] - before[i]) * 100;
          /* Translators: a change of a metric, in percentage points */
          g_autofree char *d = g_strdup_printf (_ ("%+.1f"), delta);

          grid_text (self, 2, (int) i + 1, a, NULL);
          grid_text (self, 3, (int) i + 1, d,
                     delta > 0.05 ? "success" : (delta < -0.05 ? "error" : "dim-label"));
        }
      else
        {
          grid_text (self, 2, (int) i + 1, "—", "dim-label");
          grid_text (self, 3, (int) i + 1, "—", "dim-label");
        }
    }
}

/* ---- the project's record of the run ------------------------------------------------------- */

static char *
builder_to_json (JsonBuilder *builder)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (builder);

  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, NULL);
}

static char *
run_params_json (const Job *job, guint n_train, guint n_val)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "steps");
  json_builder_add_int_value (builder, job->params.steps);
  json_builder_set_member_name (builder, "accum");
  json_builder_add_int_value (builder, job->params.accum);
  json_builder_set_member_name (builder, "lr");
  json_builder_add_double_value (builder, job->params.lr);
  json_builder_set_member_name (builder, "lr_bifit");
  json_builder_add_double_value (builder, job->params.lr_bifit);
  json_builder_set_member_name (builder, "flips");
  json_builder_add_boolean_value (builder, job->params.flips);
  json_builder_set_member_name (builder, "n_train");
  json_builder_add_int_value (builder, n_train);
  json_builder_set_member_name (builder, "n_val");
  json_builder_add_int_value (builder, n_val);
  json_builder_set_member_name (builder, "model_dir");
  json_builder_add_string_value (builder, job->model_dir);
  json_builder_set_member_name (builder, "out_dir");
  json_builder_add_string_value (builder, job->out_dir);
  json_builder_end_object (builder);

  return builder_to_json (builder);
}

static void
add_loss_point (Job *job, const RmTrainProgress *progress)
{
  char step[G_ASCII_DTOSTR_BUF_SIZE], loss[G_ASCII_DTOSTR_BUF_SIZE];
  char ce[G_ASCII_DTOSTR_BUF_SIZE], dice[G_ASCII_DTOSTR_BUF_SIZE];

  if (job->losses == NULL || !isfinite (progress->loss.total))
    return;
  g_ascii_dtostr (step, sizeof step, (double) progress->step);
  g_ascii_formatd (loss, sizeof loss, "%.6g", progress->loss.total);
  g_ascii_formatd (ce, sizeof ce, "%.6g", isfinite (progress->loss.ce) ? progress->loss.ce : 0);
  g_ascii_formatd (dice, sizeof dice, "%.6g",
                   isfinite (progress->loss.dice) ? progress->loss.dice : 0);
  g_string_append_printf (job->losses, "%s{\"step\":%s,\"loss\":%s,\"ce\":%s,\"dice\":%s}",
                          job->losses->len > 0 ? "," : "", step, loss, ce, dice);
}

/* Writes the run's status, loss curve and (with @result) its metrics. */
static void
write_run (Job *job, RmRunStatus status, gboolean result)
{
  g_autofree char *losses = NULL;
  g_autofree char *metrics = NULL;

  if (job->session == NULL || job->run == NULL)
    return;
  losses = g_strdup_printf ("[%s]", job->losses->str);
  if (result)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "steps_done");
      json_builder_add_int_value (builder, job->result.steps_done);
      json_builder_set_member_name (builder, "seconds");
      json_builder_add_double_value (builder, job->result.seconds);
      if (job->result.have_validation)
        {
          rm_metrics_summary_add_json (builder, "before", &job->result.val_before);
          rm_metrics_summary_add_json (builder, "after", &job->result.val_after);
        }
      json_builder_end_object (builder);
      metrics = builder_to_json (builder);
    }
  rm_project_session_update_training_run (job->session, job->run, status, losses, metrics);
}

static void
show_progress (RmFinetuneDialog *self, const RmTrainProgress *progress)
{
  if (g_str_equal (progress->event, "step"))
    {
      g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, progress->step);
      g_autofree char *total = g_strdup_printf ("%" G_GINT64_FORMAT, progress->total_steps);
      g_autofree char *text = NULL;
      g_autofree char *eta = format_eta (progress->eta_s);
      g_autofree char *stats = NULL;

      self->steps_done = progress->step;
      self->total_steps = progress->total_steps;
      add_loss_point (self->job, progress);
      if (progress->step % RUN_WRITE_STEPS == 0 && progress->step < progress->total_steps)
        write_run (self->job, RM_RUN_RUNNING, FALSE);
      rm_loss_curve_set_total_steps (self->loss_curve, (double) progress->total_steps);
      rm_loss_curve_add_point (self->loss_curve, (double) progress->step, progress->loss.total);
      gtk_progress_bar_set_fraction (
          self->progress_bar, (double) progress->step / (double) MAX (progress->total_steps, 1));
      /* Translators: training progress: step i of n */
      text = g_strdup_printf (_ ("Step %s of %s"), step, total);
      gtk_progress_bar_set_text (self->progress_bar, text);
      if (progress->step < progress->total_steps)
        stats = g_strdup_printf (
            /* Translators: the loss and its terms, the speed, then the time left */
            _ ("Loss %.4f (cross-entropy %.4f, Dice %.4f) · %.2f expressions/s · %s"),
            progress->loss.total, progress->loss.ce, progress->loss.dice, progress->samples_per_s,
            eta);
      else
        stats = g_strdup_printf (
            /* Translators: the last step's loss and its terms, then the speed */
            _ ("Loss %.4f (cross-entropy %.4f, Dice %.4f) · %.2f expressions/s"),
            progress->loss.total, progress->loss.ce, progress->loss.dice, progress->samples_per_s);
      gtk_label_set_label (self->stats_label, stats);
    }
  else if (g_str_equal (progress->event, "validation"))
    {
      if (progress->validation_before)
        {
          self->before = progress->validation;
          self->have_before = TRUE;
          gtk_progress_bar_set_text (self->progress_bar, _ ("Training…"));
        }
      else
        {
          self->after = progress->validation;
          self->have_after = TRUE;
        }
      update_metrics (self);
    }
}

static void
train_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  Job *job = user_data;
  RmFinetuneDialog *self = job->dialog;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  g_autofree char *folder = NULL;
  gboolean ok;

  ok = g_task_propagate_boolean (G_TASK (result), &error);
  if (!ok)
    write_run (job,
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? RM_RUN_CANCELLED
                                                                         : RM_RUN_FAILED,
               FALSE);
  else
    write_run (job, job->result.cancelled ? RM_RUN_CANCELLED : RM_RUN_FINISHED, TRUE);
  g_clear_object (&job->session);
  g_clear_pointer (&job->run, rm_project_run_unref);
  if (self == NULL)
    {
      job_unref (job);
      return; /* the dialog is gone */
    }

  self->job = NULL;
  self->finished = TRUE;
  folder = display_path (job->out_dir);

  if (ok)
    {
      g_autoptr (GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *time = g_date_time_format (now, "%H:%M");
      g_autofree char *name = NULL;
      g_autofree char *steps = g_strdup_printf ("%" G_GINT64_FORMAT, job->result.steps_done);
      guint n_train = 0;

      for (guint i = 0; i < job->samples->len; i++)
        n_train += !g_array_index (job->samples, Sample, i).val;

      self->cancelled = job->result.cancelled;
      self->steps_done = job->result.steps_done;
      if (self->cancelled)
        /* Translators: a model version's name; %s is the time of day */
        name = g_strdup_printf (_ ("Fine-tuned %s (stopped)"), time);
      else
        /* Translators: a model version's name; %s is the time of day */
        name = g_strdup_printf (_ ("Fine-tuned %s"), time);
      self->version = rm_model_version_new (job->out_dir, name, job->model_dir);
      rm_model_version_set_training (self->version, job->result.steps_done, n_train,
                                     !self->cancelled);
      if (job->result.have_validation && !self->cancelled)
        {
          self->before = job->result.val_before;
          self->after = job->result.val_after;
          self->have_before = self->have_after = TRUE;
          rm_model_version_set_validation (self->version, &self->before, &self->after);
        }
      if (self->window != NULL)
        rm_window_add_model_version (self->window, self->version);

      if (self->cancelled)
        g_string_append_printf (
            text, _ ("Stopped after %s steps. The model so far is kept as a checkpoint in %s."),
            steps, folder);
      else
        g_string_append_printf (text, _ ("Done: %s steps in %.0f s. The new model is in %s."),
                                steps, job->result.seconds, folder);
      g_string_append (text, " ");
      g_string_append (text, _ ("It is in the model switcher of the header bar; use it now, or "
                                "switch and roll back there later."));
      gtk_progress_bar_set_fraction (self->progress_bar,
                                     (double) self->steps_done / MAX (self->total_steps, 1));
      gtk_progress_bar_set_text (self->progress_bar, self->cancelled ? _ ("Stopped") : _ ("Done"));
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->cancelled = TRUE;
      g_string_append (text, _ ("Stopped before the first step: no model was made."));
      gtk_progress_bar_set_text (self->progress_bar, _ ("Stopped"));
    }
  else
    {
      /* Translators: %s is the reason */
      g_string_append_printf (text, _ ("Training failed: %s"), error->message);
      gtk_progress_bar_set_text (self->progress_bar, _ ("Failed"));
    }
  gtk_label_set_label (self->result_label, text->str);
  update_metrics (self);
  update (self);
  if (self->version != NULL)
    gtk_widget_grab_focus (self->use_button);
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->close_button));
  job_unref (job);

  if (self->close_when_done)
    gtk_window_destroy (GTK_WINDOW (self));
}

/* The new model's folder in the output folder: after the model it starts from, with the time. */
static char *
make_out_dir (RmFinetuneDialog *self, const char *model_dir)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *base = g_path_get_basename (model_dir);
  char *dir = NULL;

  for (guint i = 1; dir == NULL || g_file_test (dir, G_FILE_TEST_EXISTS); i++)
    {
      g_autofree char *name = i == 1 ? g_strdup_printf ("%s-ft-%s", base, stamp)
                                     : g_strdup_printf ("%s-ft-%s-%u", base, stamp, i);

      g_free (dir);
      dir = g_build_filename (self->out_folder, name, NULL);
    }

  return dir;
}

/* Starts training; FALSE if it cannot (no model, nothing to train on, already done or
 * running). */
gboolean
rm_finetune_dialog_start (RmFinetuneDialog *self)
{
  g_autoptr (GSettings) settings = NULL;
  g_autoptr (GTask) task = NULL;
  RmModelVersion *current;
  guint n_train, n_val;
  Job *job;

  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), FALSE);

  if (running (self) || self->finished || self->window == NULL)
    return FALSE;
  current = rm_window_get_model_version (self->window);
  split_samples (self, &n_train, &n_val);
  if (current == NULL || n_train == 0 ||
      rm_segmenter_get_state (rm_window_get_segmenter (self->window)) != RM_SEGMENTER_STATE_READY)
    return FALSE;

  job = g_atomic_rc_box_new0 (Job);
  job->dialog = self;
  job->context = g_main_context_ref_thread_default ();
  job->samples = g_array_new (FALSE, TRUE, sizeof (Sample));
  g_array_set_clear_func (job->samples, sample_clear);
  for (guint i = 0; i < self->samples->len; i++)
    {
      const Sample *from = &g_array_index (self->samples, Sample, i);
      Sample copy = { g_object_ref (from->image),
                      g_strdup (from->expression),
                      g_bytes_ref (from->rle),
                      from->width,
                      from->height,
                      from->val };

      g_array_append_val (job->samples, copy);
    }
  job->model_dir = g_strdup (rm_model_version_get_dir (current));
  job->out_dir = make_out_dir (self, job->model_dir);

  g_object_get (self->window, "settings", &settings, NULL);
  job->params = rm_train_default_params ();
  job->params.model_dir = job->model_dir;
  job->params.out_dir = job->out_dir;
  job->params.split = "train";
  job->params.val_split = n_val > 0 ? "val" : NULL;
  job->params.steps = gtk_spin_button_get_value_as_int (self->steps_spin);
  job->params.accum = gtk_spin_button_get_value_as_int (self->accum_spin);
  job->params.lr = (float) (gtk_spin_button_get_value (self->lr_spin) * LR_UNIT);
  job->params.lr_bifit = (float) (gtk_spin_button_get_value (self->lr_bifit_spin) * LR_UNIT);
  job->params.flips = gtk_check_button_get_active (self->flips_check);
  job->params.n_threads = settings != NULL ? g_settings_get_int (settings, "threads") : 0;
  job->params.progress = on_train_progress;
  job->params.progress_user = job;
  job->params.abort = on_train_abort;
  job->params.abort_user = job;
  job->session = rm_window_get_project (self->window);
  if (job->session != NULL)
    {
      g_autofree char *params = run_params_json (job, n_train, n_val);

      g_object_ref (job->session);
      job->losses = g_string_new (NULL);
      job->run =
          rm_project_session_add_training_run (job->session, job->model_dir, job->out_dir, params);
    }
  self->job = job;

  self->steps_done = 0;
  self->total_steps = job->params.steps;
  self->have_before = self->have_after = FALSE;
  rm_loss_curve_clear (self->loss_curve);
  rm_loss_curve_set_total_steps (self->loss_curve, (double) job->params.steps);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_progress_bar_set_text (self->progress_bar, n_val > 0 ? _ ("Validating the model as it is…")
                                                           : _ ("Preparing the data…"));
  gtk_label_set_label (self->stats_label, "");
  gtk_label_set_label (self->result_label, "");
  update_metrics (self);
  gtk_stack_set_visible_child_name (self->stack, "run");

  /* the task and its callback each hold the job */
  task = g_task_new (NULL, NULL, train_done, g_atomic_rc_box_acquire (job));
  g_task_set_source_tag (task, rm_finetune_dialog_start);
  g_task_set_task_data (task, g_atomic_rc_box_acquire (job), job_unref);
  g_task_run_in_thread (task, train_thread);
  job_unref (job);

  update (self);

  return TRUE;
}

/* Stops training after the current step; the engine writes a checkpoint. */
void
rm_finetune_dialog_cancel (RmFinetuneDialog *self)
{
  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  if (!running (self))
    return;
  g_atomic_int_set (&self->job->abort, 1);
  gtk_progress_bar_set_text (self->progress_bar, _ ("Stopping after this step…"));
  update (self);
}

/* ---- signals ----------------------------------------------------------------------------- */

static void
on_start_clicked (RmFinetuneDialog *self)
{
  rm_finetune_dialog_start (self);
}

static void
on_cancel_clicked (RmFinetuneDialog *self)
{
  rm_finetune_dialog_cancel (self);
}

static void
on_close_clicked (RmFinetuneDialog *self)
{
  gtk_window_close (GTK_WINDOW (self));
}

static void
on_use_clicked (RmFinetuneDialog *self)
{
  if (rm_finetune_dialog_use_new_model (self))
    gtk_window_destroy (GTK_WINDOW (self));
}

static void
folder_response (GtkNativeDialog *chooser, int response, RmFinetuneDialog *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      if (path != NULL)
        rm_finetune_dialog_set_output_folder (self, path);
    }
  g_object_unref (chooser);
  g_object_unref (self);
}

static void
on_change_folder_clicked (RmFinetuneDialog *self)
{
  GtkFileChooserNative *chooser;
  g_autoptr (GFile) folder = g_file_new_for_path (self->out_folder);

  chooser = gtk_file_chooser_native_new (_ ("Folder for the New Model"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Choose"),
                                         _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (g_file_test (self->out_folder, G_FILE_TEST_IS_DIR))
    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
  g_signal_connect (chooser, "response", G_CALLBACK (folder_response), g_object_ref (self));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Closing while training stops it (the checkpoint is written); the dialog goes when it has. */
static gboolean
rm_finetune_dialog_close_request (GtkWindow *window)
{
  RmFinetuneDialog *self = RM_FINETUNE_DIALOG (window);

  if (running (self))
    {
      self->close_when_done = TRUE;
      rm_finetune_dialog_cancel (self);
      return TRUE;
    }

  return GTK_WINDOW_CLASS (rm_finetune_dialog_parent_class)->close_request (window);
}

static void
rm_finetune_dialog_dispose (GObject *object)
{
  RmFinetuneDialog *self = (RmFinetuneDialog *) object;

  if (self->job != NULL)
    {
      /* the worker finishes on its own (a checkpoint); nothing comes back here */
      g_atomic_int_set (&self->job->abort, 1);
      self->job->dialog = NULL;
      self->job = NULL;
    }
  g_clear_object (&self->window);
  g_clear_object (&self->version);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_FINETUNE_DIALOG);

  G_OBJECT_CLASS (rm_finetune_dialog_parent_class)->dispose (object);
}

static void
rm_finetune_dialog_finalize (GObject *object)
{
  RmFinetuneDialog *self = (RmFinetuneDialog *) object;

  g_clear_pointer (&self->samples, g_array_unref);
  g_clear_pointer (&self->images, g_ptr_array_unref);
  g_clear_pointer (&self->checks, g_ptr_array_unref);
  g_free (self->out_folder);

  G_OBJECT_CLASS (rm_finetune_dialog_parent_class)->finalize (object);
}

static void
rm_finetune_dialog_class_init (RmFinetuneDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = rm_finetune_dialog_dispose;
  object_class->finalize = rm_finetune_dialog_finalize;
  window_class->close_request = rm_finetune_dialog_close_request;

  g_type_ensure (RM_TYPE_LOSS_CURVE);
  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-finetune-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, close_button);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, start_button);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, use_button);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, stack);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, data_label);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, none_radio);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, fraction_radio);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, chosen_radio);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, fraction_spin);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, image_listbox);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, split_label);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, steps_spin);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, epochs_label);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, accum_spin);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, lr_spin);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, lr_bifit_spin);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, flips_check);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, out_label);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, loss_curve);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, stats_label);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, metrics_grid);
  gtk_widget_class_bind_template_child (widget_class, RmFinetuneDialog, result_label);
  gtk_widget_class_bind_template_callback (widget_class, on_data_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_steps_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_accum_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_start_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_cancel_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_close_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_use_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_change_folder_clicked);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
rm_finetune_dialog_init (RmFinetuneDialog *self)
{
  self->samples = g_array_new (FALSE, TRUE, sizeof (Sample));
  g_array_set_clear_func (self->samples, sample_clear);
  self->images = g_ptr_array_new_with_free_func (g_object_unref);
  self->checks = g_ptr_array_new ();
  self->out_folder = g_build_filename (g_get_user_data_dir (), "refmask", "models", NULL);

  self->setting = TRUE; /* the template sets the spin buttons */
  gtk_widget_init_template (GTK_WIDGET (self));
  self->setting = FALSE;
  self->built = TRUE;
}

static guint
image_rank (GPtrArray *files, GFile *file)
{
  for (guint i = 0; i < files->len; i++)
    if (g_file_equal (files->pdata[i], file))
      return i;

  return G_MAXUINT;
}

static int
compare_by_rank (gconstpointer a, gconstpointer b, gpointer user_data)
{
  GHashTable *ranks = user_data;
  guint x = GPOINTER_TO_UINT (g_hash_table_lookup (ranks, *(GFile *const *) a));
  guint y = GPOINTER_TO_UINT (g_hash_table_lookup (ranks, *(GFile *const *) b));

  /* 0 (not listed) goes last */
  x = x == 0 ? G_MAXUINT : x;
  y = y == 0 ? G_MAXUINT : y;

  return x < y ? -1 : x > y;
}

/* Collects the accepted annotations and their images. */
static void
collect (RmFinetuneDialog *self)
{
  GListModel *annotations = rm_window_get_annotations (self->window);
  GListModel *items = rm_window_get_images (self->window);
  g_autoptr (GHashTable) ranks =
      g_hash_table_new_full (g_file_hash, (GEqualFunc) g_file_equal, g_object_unref, NULL);
  g_autoptr (GHashTable) counts =
      g_hash_table_new (g_file_hash, (GEqualFunc) g_file_equal); /* GFile -> count */
  g_autofree char *data = NULL;

  for (guint i = 0; i < g_list_model_get_n_items (items); i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (items, i);

      if (!g_hash_table_contains (ranks, rm_image_item_get_file (item)))
        g_hash_table_insert (ranks, g_object_ref (rm_image_item_get_file (item)),
                             GUINT_TO_POINTER (i + 1));
    }

  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);
      Sample sample = { 0 };

      if (rm_annotation_get_status (annotation) != RM_ANNOTATION_STATUS_ACCEPTED ||
          rm_annotation_get_area (annotation) == 0 ||
          rm_annotation_get_image (annotation) == NULL || rm_annotation_get_width (annotation) <= 0)
        continue;
      sample.image = g_object_ref (rm_annotation_get_image (annotation));
      sample.expression = g_strdup (rm_annotation_get_expression (annotation));
      sample.rle = g_bytes_ref (rm_annotation_get_rle (annotation));
      sample.width = rm_annotation_get_width (annotation);
      sample.height = rm_annotation_get_height (annotation);
      g_array_append_val (self->samples, sample);
      if (!g_hash_table_contains (counts, sample.image))
        g_ptr_array_add (self->images, g_object_ref (sample.image));
      g_hash_table_insert (
          counts, sample.image,
          GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, sample.image)) + 1));
    }

  /* sidebar order (images that are not listed last) */
  g_ptr_array_sort_with_data (self->images, compare_by_rank, ranks);

  for (guint i = 0; i < self->images->len; i++)
    {
      g_autofree char *name = g_file_get_basename (self->images->pdata[i]);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, self->images->pdata[i]));
      /* Translators: an image and how many accepted annotations it has */
      g_autofree char *label =
          g_strdup_printf (ngettext ("%s (%u annotation)", "%s (%u annotations)", n), name, n);
      GtkWidget *check = gtk_check_button_new_with_label (label);

      g_signal_connect_swapped (check, "toggled", G_CALLBACK (on_data_changed), self);
      gtk_list_box_append (self->image_listbox, check);
      g_ptr_array_add (self->checks, check);
    }

  if (self->samples->len == 0)
    data = g_strdup (_ ("There are no accepted annotations yet. Accept some candidates (or correct "
                        "and accept them) first: fine-tuning learns from them."));
  else
    {
      guint n = self->samples->len, m = self->images->len;
      g_autofree char *accepted =
          g_strdup_printf (ngettext ("%u accepted annotation", "%u accepted annotations", n), n);
      g_autofree char *images = g_strdup_printf (ngettext ("%u image", "%u images", m), m);

      /* Translators: “12 accepted annotations” and “5 images”: what the model learns from */
      data = g_strdup_printf (_ ("The data: %s on %s. Training starts from the model in use and "
                                 "makes a new one; the model in use stays as it is."),
                              accepted, images);
    }
  gtk_label_set_label (self->data_label, data);
}

/* The fine-tune dialog of @window: its accepted annotations, its model. */
GtkWidget *
rm_finetune_dialog_new (RmWindow *window)
{
  RmFinetuneDialog *self;

  g_return_val_if_fail (RM_IS_WINDOW (window), NULL);

  self = g_object_new (RM_TYPE_FINETUNE_DIALOG, "transient-for", window, NULL);
  self->window = g_object_ref (window);
  collect (self);
  update (self);

  return GTK_WIDGET (self);
}

/* ---- for the window and tests ------------------------------------------------------------ */

void
rm_finetune_dialog_set_validation (RmFinetuneDialog *self, RmFinetuneValidation validation,
                                   double fraction)
{
  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  if (validation == RM_FINETUNE_VALIDATION_FRACTION)
    gtk_spin_button_set_value (self->fraction_spin, fraction * 100);
  gtk_check_button_set_active (validation == RM_FINETUNE_VALIDATION_NONE     ? self->none_radio
                               : validation == RM_FINETUNE_VALIDATION_CHOSEN ? self->chosen_radio
                                                                             : self->fraction_radio,
                               TRUE);
  update (self);
}

/* Holds @image out for validation (with RM_FINETUNE_VALIDATION_CHOSEN). */
void
rm_finetune_dialog_set_held_out (RmFinetuneDialog *self, GFile *image, gboolean held_out)
{
  guint i;

  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  i = image_rank (self->images, image);
  if (i < self->checks->len)
    gtk_check_button_set_active (self->checks->pdata[i], held_out);
}

void
rm_finetune_dialog_set_steps (RmFinetuneDialog *self, int steps)
{
  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  gtk_spin_button_set_value (self->steps_spin, steps);
}

int
rm_finetune_dialog_get_steps (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), 0);

  return gtk_spin_button_get_value_as_int (self->steps_spin);
}

void
rm_finetune_dialog_set_accum (RmFinetuneDialog *self, int accum)
{
  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));

  gtk_spin_button_set_value (self->accum_spin, accum);
}

int
rm_finetune_dialog_get_accum (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), 0);

  return gtk_spin_button_get_value_as_int (self->accum_spin);
}

double
rm_finetune_dialog_get_lr (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), 0);

  return gtk_spin_button_get_value (self->lr_spin) * LR_UNIT;
}

double
rm_finetune_dialog_get_lr_bifit (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), 0);

  return gtk_spin_button_get_value (self->lr_bifit_spin) * LR_UNIT;
}

/* The folder in which the new model's folder is made (default: the user's data folder). */
void
rm_finetune_dialog_set_output_folder (RmFinetuneDialog *self, const char *folder)
{
  g_return_if_fail (RM_IS_FINETUNE_DIALOG (self));
  g_return_if_fail (folder != NULL);

  g_free (self->out_folder);
  self->out_folder = g_strdup (folder);
  update (self);
}

/* The new model's folder, once training started; else NULL. */
const char *
rm_finetune_dialog_get_output_dir (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), NULL);

  if (self->version != NULL)
    return rm_model_version_get_dir (self->version);

  return self->job != NULL ? self->job->out_dir : NULL;
}

gboolean
rm_finetune_dialog_get_running (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), FALSE);

  return running (self);
}

/* Optimizer steps reported so far (or done, at the end). */
gint64
rm_finetune_dialog_get_steps_done (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), 0);

  return self->steps_done;
}

/* Whether a run ended (@cancelled: it was stopped). */
gboolean
rm_finetune_dialog_get_finished (RmFinetuneDialog *self, gboolean *cancelled)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), FALSE);

  if (cancelled != NULL)
    *cancelled = self->cancelled;

  return self->finished;
}

/* The validation metrics before and after; FALSE unless both are known. */
gboolean
rm_finetune_dialog_get_validation (RmFinetuneDialog *self, RmMetricsSummary *before,
                                   RmMetricsSummary *after)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), FALSE);

  if (before != NULL)
    *before = self->before;
  if (after != NULL)
    *after = self->after;

  return self->have_before && self->have_after;
}

/* The model version the run made (also in the window's switcher), or NULL. */
RmModelVersion *
rm_finetune_dialog_get_new_version (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), NULL);

  return self->version;
}

/* Switches the window to the new model; FALSE if there is none. */
gboolean
rm_finetune_dialog_use_new_model (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), FALSE);

  if (self->version == NULL || self->window == NULL)
    return FALSE;
  g_object_set (self->window, "model-version", rm_model_version_get_dir (self->version), NULL);

  return TRUE;
}

RmLossCurve *
rm_finetune_dialog_get_loss_curve (RmFinetuneDialog *self)
{
  g_return_val_if_fail (RM_IS_FINETUNE_DIALOG (self), NULL);

  return self->loss_curve;
}
