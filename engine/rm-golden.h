/* SPDX-License-Identifier: GPL-3.0-or-later
 * Golden-set checking: run the engine on a set of tensors produced by the official PyTorch code
 * (the format of ../shared/golden: manifest.json, inputs/weights/activations .safetensors) and
 * compare every module boundary the set holds.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct
{
  int n_threads;
  bool verbose;   /* print every tensor, not only failures and the summary */
  FILE *out;      /* report destination (stdout when NULL) */
  bool recompute; /* the gradient checks' forward checkpoints each Hiera block (RmForward) */
} RmGoldenParams;

typedef struct
{
  int n_checked; /* tensors compared */
  int n_failed;  /* tolerance broken, shape mismatch, or expected but never produced */
  char worst_name[128];
  double worst_ratio; /* max |Δ| / tolerance of the worst tensor (<= 1 passes) */
} RmGoldenReport;

RmGoldenParams rm_golden_default_params (void);
/* Returns false (with error) when the set cannot be read or run; the comparison outcome is in
 * report (n_failed == 0 means every tolerance holds). */
bool rm_golden_check (const char *dir, const RmGoldenParams *params, RmGoldenReport *report,
                      GError **error);
