/* SPDX-License-Identifier: GPL-3.0-or-later
 * What several refmask subcommands share: Ctrl+C as a cancel request, metrics lines, JSON output.
 */
#pragma once

#include "refmask-engine.h"
#include "rm-metrics.h"

#include <json-glib/json-glib.h>
#include <stdbool.h>

/* Makes SIGINT and SIGTERM set a flag instead of killing the process. */
void rm_cli_catch_interrupts (void);
/* An RmAbortCallback that reports that flag. */
bool rm_cli_interrupted (void *user);
/* "label: n …  mIoU …  oIoU …  Pr@0.5 … Pr@0.9 …" on stdout. */
void rm_cli_print_metrics (const char *label, const RmMetricsSummary *s);
/* The accepted annotations of a project as a refs.jsonl (+ mask PNGs) in a new temporary folder
 * (*tmp_dir, which the caller removes with rm_remove_tree); returns the refs.jsonl path. */
char *rm_cli_project_to_refs (const char *project_path, char **tmp_dir, GError **error);
/* The --device option of the commands that segment (segment, label, eval). */
#define RM_CLI_DEVICE_HELP                                                                      \
  "Where to compute: auto (a CUDA GPU when there is one, else the CPU), cpu or cuda (default: " \
  "auto)"
/* name (NULL: auto) as a device choice; false after printing "refmask COMMAND: ..." on stderr
 * (a usage error). */
bool rm_cli_device_from_option (const char *command, const char *name, RmDeviceChoice *out);
/* rm_session_new_on_device; NULL after printing "refmask COMMAND: <the engine's message>". */
RmSession *rm_cli_session_new (const char *command, const RmModel *model, RmDeviceChoice device,
                               int threads);
/* The builder's root as pretty JSON on stdout. */
void rm_cli_print_json (JsonBuilder *b);
