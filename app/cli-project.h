/* SPDX-License-Identifier: GPL-3.0-or-later
 * `refmask project create|import|list|stats|export`: argv[0] is "project"; returns the exit
 * status (0 success, 1 failure, 2 usage error). Also declared in cli.h for the dispatcher. */
#pragma once

int rm_cli_project (int argc, char **argv);
