/* SPDX-License-Identifier: GPL-3.0-or-later
 * What several refmask subcommands share: Ctrl+C as a cancel request, metrics lines, JSON output.
 */
#pragma once

#include "rm-metrics.h"

#include <json-glib/json-glib.h>
#include <stdbool.h>

/* Makes SIGINT and SIGTERM set a flag instead of killing the process. */
void rm_cli_catch_interrupts (void);
/* An RmAbortCallback that reports that flag. */
bool rm_cli_interrupted (void *user);
/* "label: n …  mIoU …  oIoU …  Pr@0.5 … Pr@0.9 …" on stdout. */
void rm_cli_print_metrics (const char *label, const RmMetricsSummary *s);
/* The builder's root as pretty JSON on stdout. */
void rm_cli_print_json (JsonBuilder *b);
