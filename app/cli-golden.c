/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask golden-check DIR: the engine against tensors computed by the official code.
 */
#include "cli.h"
#include "rm-golden.h"

#include <glib.h>
#include <stdio.h>
#include <unistd.h>

int
rm_cli_golden_check (int argc, char **argv)
{
  gboolean verbose = FALSE, recompute = FALSE;
  int threads = (int) sysconf (_SC_NPROCESSORS_ONLN);
  GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print every tensor, not only failures",
      NULL },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { "recompute", 0, 0, G_OPTION_ARG_NONE, &recompute,
      "Gradient checks: re-run each Hiera block in the backward (as train --recompute)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) octx =
      g_option_context_new ("DIR — check the engine against a golden set");
  g_option_context_set_summary (
      octx,
      "Runs the engine on a golden set in the format of ../shared/golden (manifest.json with\n"
      "config.set, weights/inputs/activations .safetensors) and prints, per tensor, the max\n"
      "absolute and relative error; exits 1 when a tolerance is broken.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 2)
    {
      fprintf (stderr, "refmask golden-check: %s\n", error ? error->message : "expected one DIR");
      return 2;
    }
  RmGoldenParams params = rm_golden_default_params ();
  params.verbose = verbose;
  params.recompute = recompute;
  params.n_threads = threads > 0 ? threads : 1;
  RmGoldenReport report;
  if (!rm_golden_check (argv[1], &params, &report, &error))
    {
      fprintf (stderr, "refmask golden-check: %s\n", error->message);
      return 1;
    }
  return report.n_failed == 0 && report.n_checked > 0 ? 0 : 1;
}
