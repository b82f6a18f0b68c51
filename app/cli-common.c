/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli-common.h"

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
