/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli-common.h"
#include "rm-export.h"
#include "rm-project.h"

#include <glib/gstdio.h>

#include <signal.h>
#include <stdio.h>

static volatile sig_atomic_t interrupted;

static void
on_interrupt (int sig)
{
  interrupted = 1;
}

void
rm_cli_catch_interrupts (void)
{
  signal (SIGINT, on_interrupt);
  signal (SIGTERM, on_interrupt);
}

bool
rm_cli_interrupted (void *user)
{
  return interrupted != 0;
}

bool
rm_cli_device_from_option (const char *command, const char *name, RmDeviceChoice *out)
{
  if (name == NULL)
    {
      *out = RM_DEVICE_CHOICE_AUTO;
      return true;
    }
  if (rm_device_choice_from_string (name, out))
    return true;
  fprintf (stderr, "refmask %s: --device must be auto, cpu or cuda, not '%s'\n", command, name);
  return false;
}

RmSession *
rm_cli_session_new (const char *command, const RmModel *model, RmDeviceChoice device, int threads)
{
  g_autoptr (GError) error = NULL;
  RmSession *session = rm_session_new_on_device (model, device, threads, &error);
  if (session == NULL)
    fprintf (stderr, "refmask %s: %s\n", command, error->message);
  return session;
}

void
rm_cli_print_metrics (const char *label, const RmMetricsSummary *s)
{
  printf ("%s: n %" G_GINT64_FORMAT "  mIoU %.4f  oIoU %.4f", label, s->n, s->miou, s->oiou);
  for (int i = 0; i < RM_N_PRECISION_THRESHOLDS; i++)
    printf ("  Pr@%.1f %.4f", rm_precision_thresholds[i], s->precision[i]);
  printf ("\n");
  fflush (stdout);
}

void
rm_cli_print_json (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

char *
rm_cli_project_to_refs (const char *project_path, char **tmp_dir, GError **error)
{
  g_autoptr (RmProject) project = rm_project_open (project_path, error);
  if (project == NULL)
    return NULL;
  *tmp_dir = g_dir_make_tmp ("refmask-project-XXXXXX", error);
  if (*tmp_dir == NULL)
    return NULL;
  g_autofree char *out = g_build_filename (*tmp_dir, "data", NULL);
  RmExportOptions options;
  rm_export_options_init (&options); /* accepted annotations only */
  options.no_images = TRUE;
  RmExportReport report = { 0 };
  gboolean ok = rm_export (project, RM_EXPORT_REFS_JSONL, out, &options, &report, error);
  rm_export_report_clear (&report);
  return ok ? g_build_filename (out, "refs.jsonl", NULL) : NULL;
}
