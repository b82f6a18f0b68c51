/* SPDX-License-Identifier: GPL-3.0-or-later
 * Referring-segmentation metrics as the official evaluation computes them (spec §7):
 * per expression I = |pred ∧ gt|, U = |pred ∨ gt|, IoU = I / U (0 when U = 0);
 * mIoU = mean IoU, oIoU = ΣI / ΣU, Pr@X = fraction of expressions with IoU >= X.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define RM_N_PRECISION_THRESHOLDS 5
extern const double rm_precision_thresholds[RM_N_PRECISION_THRESHOLDS]; /* 0.5 … 0.9 */

typedef struct
{
  int64_t n;
  double sum_iou;
  double sum_i, sum_u;
  int64_t hits[RM_N_PRECISION_THRESHOLDS];
} RmMetrics;

typedef struct
{
  double miou, oiou;
  double precision[RM_N_PRECISION_THRESHOLDS];
  int64_t n;
} RmMetricsSummary;

void rm_metrics_init (RmMetrics *m);
/* pred and gt: n pixels, non-zero = foreground. Returns this sample's IoU. */
double rm_metrics_add (RmMetrics *m, const uint8_t *pred, const uint8_t *gt, size_t n);
void rm_metrics_summary (const RmMetrics *m, RmMetricsSummary *out);
