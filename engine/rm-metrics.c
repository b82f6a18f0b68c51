/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-metrics.h"

#include <string.h>

const double rm_precision_thresholds[RM_N_PRECISION_THRESHOLDS] = { 0.5, 0.6, 0.7, 0.8, 0.9 };

void
rm_metrics_init (RmMetrics *m)
{
  memset (m, 0, sizeof *m);
}

double
rm_metrics_add (RmMetrics *m, const uint8_t *pred, const uint8_t *gt, size_t n)
{
  int64_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; i++)
    {
      int p = pred[i] != 0, g = gt[i] != 0;
      inter += p & g;
      uni += p | g;
    }
  double iou = uni > 0 ? (double) inter / (double) uni : 0.0;
  m->n++;
  m->sum_iou += iou;
  m->sum_i += (double) inter;
  m->sum_u += (double) uni;
  for (int t = 0; t < RM_N_PRECISION_THRESHOLDS; t++)
    m->hits[t] += iou >= rm_precision_thresholds[t];
  return iou;
}

void
rm_metrics_summary (const RmMetrics *m, RmMetricsSummary *out)
{
  memset (out, 0, sizeof *out);
  out->n = m->n;
  if (m->n == 0)
    return;
  out->miou = m->sum_iou / (double) m->n;
  out->oiou = m->sum_u > 0 ? m->sum_i / m->sum_u : 0.0;
  for (int t = 0; t < RM_N_PRECISION_THRESHOLDS; t++)
    out->precision[t] = (double) m->hits[t] / (double) m->n;
}
