/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask eval: mIoU, oIoU and Pr@0.5…0.9 of a model on a refs.jsonl split, as the official
 * protocol computes them (spec §7: at the model resolution, ground truth resized NEAREST), and
 * optionally at the original image resolution.
 */
#include "cli.h"
#include "refmask-engine.h"
#include "cli-common.h"
#include "rm-project.h"
#include "rm-eval.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static void
add_summary_json (JsonBuilder *b, const char *name, const RmMetrics *m)
{
  RmMetricsSummary s;
  rm_metrics_summary (m, &s);
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "n");
  json_builder_add_int_value (b, s.n);
  json_builder_set_member_name (b, "mIoU");
  json_builder_add_double_value (b, s.miou);
  json_builder_set_member_name (b, "oIoU");
  json_builder_add_double_value (b, s.oiou);
  for (int t = 0; t < RM_N_PRECISION_THRESHOLDS; t++)
    {
      g_autofree char *key = g_strdup_printf ("Pr@%.1f", rm_precision_thresholds[t]);
      json_builder_set_member_name (b, key);
      json_builder_add_double_value (b, s.precision[t]);
    }
  json_builder_end_object (b);
}

static void
print_summary (const char *label, const RmMetrics *m)
{
  RmMetricsSummary s;
  rm_metrics_summary (m, &s);
  rm_cli_print_metrics (label, &s);
}

/* Evaluates one sample; adds to the metrics and, when b is set, a per-sample JSON object. */
static gboolean
eval_sample (RmSession *session, const RmSample *s, gboolean original, RmMetrics *model_res,
             RmMetrics *orig_res, JsonBuilder *b, GError **error)
{
  RmSampleScore sc;
  if (!rm_eval_sample (session, s, model_res, original ? orig_res : NULL, &sc, rm_cli_interrupted,
                       NULL, error))
    return FALSE;
  if (b != NULL)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, s->id);
      json_builder_set_member_name (b, "expression");
      json_builder_add_string_value (b, s->expression);
      json_builder_set_member_name (b, "iou");
      json_builder_add_double_value (b, sc.iou);
      if (sc.iou_original >= 0)
        {
          json_builder_set_member_name (b, "iou_original_resolution");
          json_builder_add_double_value (b, sc.iou_original);
        }
      json_builder_set_member_name (b, "ms");
      json_builder_add_double_value (b, sc.ms);
      json_builder_end_object (b);
    }
  return TRUE;
}

/* Everything after the samples are known; ds may be NULL after a load error (in error). */
static int
run_eval (RmDataset *ds, GError *load_error, const char *model_dir, RmDeviceChoice device,
          int threads, int limit, gboolean original, gboolean as_json, const char *want,
          const char *refs)
{
  g_autoptr (GError) error = load_error;
  g_autoptr (RmDataset) dataset = ds;
  g_autoptr (RmModel) model = dataset ? rm_model_load (model_dir, NULL, &error) : NULL;
  if (model == NULL)
    {
      fprintf (stderr, "refmask eval: %s\n", error->message);
      return 1;
    }
  if (dataset->samples->len == 0)
    {
      fprintf (stderr, "refmask eval: no sample of split '%s' in %s\n", want ? want : "(any)",
               refs);
      return 1;
    }
  g_autoptr (RmSession) session = rm_cli_session_new ("eval", model, device, threads);
  if (session == NULL)
    return 1;
  rm_cli_catch_interrupts ();
  RmMetrics model_res, orig_res;
  rm_metrics_init (&model_res);
  rm_metrics_init (&orig_res);
  g_autoptr (JsonBuilder) b = as_json ? json_builder_new () : NULL;
  if (b)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "samples");
      json_builder_begin_array (b);
    }
  guint n = dataset->samples->len;
  if (limit > 0 && (guint) limit < n)
    n = (guint) limit;
  for (guint i = 0; i < n && !rm_cli_interrupted (NULL); i++)
    {
      if (!eval_sample (session, g_ptr_array_index (dataset->samples, i), original, &model_res,
                        &orig_res, b, &error))
        {
          fprintf (stderr, "refmask eval: %s\n", error->message);
          return 1;
        }
      if (!as_json)
        fprintf (stderr, "\r%u/%u", i + 1, n);
    }
  if (!as_json)
    fprintf (stderr, "\n");
  if (rm_cli_interrupted (NULL))
    fprintf (stderr,
             "refmask eval: interrupted; metrics over the %" G_GINT64_FORMAT " samples done\n",
             model_res.n);
  if (b)
    {
      json_builder_end_array (b);
      add_summary_json (b, "model_resolution", &model_res);
      if (original)
        add_summary_json (b, "original_resolution", &orig_res);
      json_builder_end_object (b);
      rm_cli_print_json (b);
    }
  else
    {
      print_summary ("model resolution", &model_res);
      if (original)
        print_summary ("original resolution", &orig_res);
    }
  return rm_cli_interrupted (NULL) ? 1 : 0;
}

int
rm_cli_eval (int argc, char **argv)
{
  g_autofree char *model_dir = NULL, *refs = NULL, *split = NULL, *project = NULL,
                  *project_tmp = NULL, *device_name = NULL;
  gboolean as_json = FALSE, original = FALSE;
  int threads = 0, limit = 0;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model directory", "DIR" },
    { "refs", 'r', 0, G_OPTION_ARG_FILENAME, &refs, "refs.jsonl", "FILE" },
    { "project", 'p', 0, G_OPTION_ARG_FILENAME, &project, "Or: a project's accepted annotations",
      "FILE" },
    { "split", 's', 0, G_OPTION_ARG_STRING, &split, "Split to evaluate (default: test)", "NAME" },
    { "original-resolution", 0, 0, G_OPTION_ARG_NONE, &original, "Also at the image size", NULL },
    { "limit", 'n', 0, G_OPTION_ARG_INT, &limit, "At most N samples", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "JSON with per-sample IoU", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { "device", 0, 0, G_OPTION_ARG_STRING, &device_name, RM_CLI_DEVICE_HELP, "auto|cpu|cuda" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx =
      g_option_context_new ("— evaluate a model on a refs.jsonl split");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 1 || model_dir == NULL ||
      (refs == NULL) == (project == NULL))
    {
      fprintf (stderr, "refmask eval: %s\n",
               error ? error->message : "--model and --refs or --project are required");
      return 2;
    }
  RmDeviceChoice device;
  if (!rm_cli_device_from_option ("eval", device_name, &device))
    return 2;
  if (project != NULL && (refs = rm_cli_project_to_refs (project, &project_tmp, &error)) == NULL)
    {
      fprintf (stderr, "refmask eval: %s\n", error->message);
      rm_remove_tree (project_tmp);
      return 1;
    }
  /* A project's annotations are all in its default split unless they say otherwise. */
  const char *want = split ? split : project ? NULL : "test";
  RmDataset *ds = rm_dataset_load_refs (refs, want, &error);
  int status = run_eval (ds, g_steal_pointer (&error), model_dir, device, threads, limit, original,
                         as_json, want, refs);
  rm_remove_tree (project_tmp);
  return status;
}
