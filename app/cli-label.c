/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask label: one referring expression over a project's images with a model; every result is
 * stored as a candidate annotation (source "model", with its prior and the model version) for
 * review in refmask-studio. Each image is its own transaction, so an interrupted run keeps what
 * it finished.
 */
#include "cli.h"
#include "cli-common.h"
#include "refmask-engine.h"
#include "rm-project.h"
#include "rm-rle.h"

#include <stdio.h>
#include <math.h>
#include <string.h>

/* The model directory as a model version of the project (reused when already recorded). */
static gint64
ensure_model_version (RmProject *project, const char *model_dir, GError **error)
{
  g_autofree char *abs = g_canonicalize_filename (model_dir, NULL);
  g_autoptr (GPtrArray) versions = rm_project_list_model_versions (project, error);
  if (versions == NULL)
    return -1;
  for (guint i = 0; i < versions->len; i++)
    {
      RmStoreModelVersion *v = g_ptr_array_index (versions, i);
      if (g_strcmp0 (v->weights_path, abs) == 0)
        return v->id;
    }
  g_autofree char *config_path = g_build_filename (abs, "config.json", NULL);
  g_autofree char *config = NULL;
  if (!g_file_get_contents (config_path, &config, NULL, error))
    return -1;
  RmStoreModelVersion v = { .name = g_path_get_basename (abs),
                            .config_json = config,
                            .weights_path = abs };
  gboolean ok = rm_project_add_model_version (project, &v, error);
  g_free (v.name);
  return ok ? v.id : -1;
}

static gboolean
label_image (RmProject *project, RmSession *session, const RmProjectImage *img, const char *text,
             gint64 version, RmStoreStatus status, GError **error)
{
  g_autofree char *path = rm_project_image_path (project, img);
  g_autoptr (RmImage) image = rm_image_load (path, NULL, error);
  if (image == NULL)
    return FALSE;
  RmSegmentParams params = rm_segment_default_params ();
  params.want_prior_image = false;
  params.abort = rm_cli_interrupted;
  const char *texts[] = { text };
  RmSegmentResult **r = rm_session_segment (session, image, texts, 1, &params, error);
  if (r == NULL)
    return FALSE;
  g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
  a->image_id = img->id;
  a->expression = g_strdup (text);
  a->mask = rm_rle_encode (r[0]->mask, (guint32) r[0]->height, (guint32) r[0]->width,
                           (gsize) r[0]->width);
  a->prior_kind = RM_PRIOR_F32;
  a->prior_width = a->prior_height = (guint32) r[0]->prior_size;
  a->prior = g_bytes_new (r[0]->prior, sizeof (float) * r[0]->prior_size * r[0]->prior_size);
  a->source = RM_SOURCE_MODEL;
  a->status = status;
  a->model_version_id = version;
  /* The mean foreground probability of the mask at model resolution, sigmoid(2z - 1). */
  double sum = 0;
  int64_t n = 0, side = r[0]->model_size;
  for (int64_t i = 0; i < side * side; i++)
    if (r[0]->logits[i] > 0.5f)
      sum += 1.0 / (1.0 + exp (-(2.0 * r[0]->logits[i] - 1.0))), n++;
  a->has_score = TRUE;
  a->score = n > 0 ? sum / (double) n : 0.0;
  printf ("%s: \"%s\" %" G_GUINT64_FORMAT " px (%.1f %%), score %.3f, %.0f ms\n", img->path, text,
          (guint64) r[0]->area, 100.0 * (double) r[0]->area / ((double) img->width * img->height),
          a->score, r[0]->ms_total);
  rm_segment_results_free (r, 1);
  return rm_project_add_annotation (project, a, error);
}

int
rm_cli_label (int argc, char **argv)
{
  g_autofree char *model_dir = NULL, *text = NULL, *status_name = NULL, *device_name = NULL;
  g_auto (GStrv) image_ids = NULL;
  int threads = 0;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model directory", "DIR" },
    { "text", 't', 0, G_OPTION_ARG_STRING, &text, "The referring expression", "TEXT" },
    { "image", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &image_ids, "Only this image id (repeatable)",
      "ID" },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status_name,
      "Status of the results (default: candidate)", "STATUS" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { "device", 0, 0, G_OPTION_ARG_STRING, &device_name, RM_CLI_DEVICE_HELP, "auto|cpu|cuda" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx =
      g_option_context_new ("PROJECT — label a project's images with one expression");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 2 || model_dir == NULL ||
      text == NULL)
    {
      fprintf (stderr, "refmask label: %s\n",
               error ? error->message : "PROJECT, --model and --text are required");
      return 2;
    }
  RmStoreStatus status = RM_STATUS_CANDIDATE;
  if (status_name != NULL && !rm_store_status_from_string (status_name, &status))
    {
      fprintf (stderr, "refmask label: unknown status '%s'\n", status_name);
      return 2;
    }
  RmDeviceChoice device;
  if (!rm_cli_device_from_option ("label", device_name, &device))
    return 2;
  g_autoptr (RmProject) project = rm_project_open (argv[1], &error);
  g_autoptr (RmModel) model = project ? rm_model_load (model_dir, NULL, &error) : NULL;
  g_autoptr (GPtrArray) images = model ? rm_project_list_images (project, &error) : NULL;
  gint64 version = images ? ensure_model_version (project, model_dir, &error) : -1;
  if (version < 0)
    {
      fprintf (stderr, "refmask label: %s\n", error->message);
      return 1;
    }
  g_autoptr (RmSession) session = rm_cli_session_new ("label", model, device, threads);
  if (session == NULL)
    return 1;
  rm_cli_catch_interrupts ();
  int done = 0;
  for (guint i = 0; i < images->len && !rm_cli_interrupted (NULL); i++)
    {
      const RmProjectImage *img = g_ptr_array_index (images, i);
      if (image_ids != NULL)
        {
          bool wanted = false;
          for (char **id = image_ids; *id && !wanted; id++)
            wanted = g_ascii_strtoll (*id, NULL, 10) == img->id;
          if (!wanted)
            continue;
        }
      if (!label_image (project, session, img, text, version, status, &error))
        {
          if (g_error_matches (error, RM_ERROR, RM_ERROR_CANCELLED))
            break;
          fprintf (stderr, "refmask label: %s: %s\n", img->path, error->message);
          return 1;
        }
      done++;
    }
  printf ("%d annotation(s) stored as %s%s\n", done, rm_store_status_to_string (status),
          rm_cli_interrupted (NULL) ? " (interrupted)" : "");
  return rm_cli_interrupted (NULL) ? 130 : 0;
}
