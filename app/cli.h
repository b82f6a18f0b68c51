/* SPDX-License-Identifier: GPL-3.0-or-later
 * Entry points of the refmask subcommands. Each takes argv with argv[0] = the command name
 * and returns the process exit code: 0 success, 1 failure, 2 usage error.
 */
#pragma once

int rm_cli_info (int argc, char **argv);
int rm_cli_segment (int argc, char **argv);
int rm_cli_golden_check (int argc, char **argv);
int rm_cli_project (int argc, char **argv);
int rm_cli_model_init (int argc, char **argv);
int rm_cli_eval (int argc, char **argv);
int rm_cli_train (int argc, char **argv);
int rm_cli_label (int argc, char **argv);
