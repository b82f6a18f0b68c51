/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask: the command-line tool. A small dispatcher over the subcommands in app/cli-*.c.
 */
#include "refmask-build-config.h"

#include "cli.h"

#include <glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "info", rm_cli_info, "print the truth about this build and machine" },
  { "segment", rm_cli_segment, "segment an image with referring expressions" },
  { "golden-check", rm_cli_golden_check, "check the engine against a golden tensor set" },
  { "train", rm_cli_train, "fine-tune a model on a refs.jsonl split (official recipe)" },
  { "eval", rm_cli_eval, "mIoU, oIoU and Pr@X of a model on a refs.jsonl split" },
  { "model-init", rm_cli_model_init, "create a model directory (given or random weights)" },
  { "label", rm_cli_label, "label a project's images with one expression (candidates)" },
  { "project", rm_cli_project, "create, import into, list and export projects" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: refmask COMMAND [OPTIONS…]\n\nCommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-14s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'refmask COMMAND --help' for the options of a command.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      print_usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("refmask %s\n", REFMASK_VERSION);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "refmask: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return 2;
}
