/* SPDX-License-Identifier: GPL-3.0-or-later
 * Evaluation of a model on referring-segmentation samples with the official protocol (spec §7),
 * shared by `refmask eval`, training's validation and the GUI's fine-tune dialog.
 */
#pragma once

#include "refmask-engine.h"
#include "rm-dataset.h"
#include "rm-metrics.h"

typedef struct
{
  double iou;          /* at the model resolution (the official number) */
  double iou_original; /* at the image size; < 0 when not computed */
  double ms;
} RmSampleScore;

/* Segments one sample and adds it to model_res (and to orig_res when non-NULL). */
gboolean rm_eval_sample (RmSession *session, const RmSample *sample, RmMetrics *model_res,
                         RmMetrics *orig_res, RmSampleScore *score, RmAbortCallback abort,
                         void *abort_user, GError **error);

typedef void (*RmEvalProgress) (void *user, guint done, guint total);

/* The first `limit` samples (all when limit <= 0). Returns FALSE on error or cancel. */
gboolean rm_eval_dataset (RmSession *session, const RmDataset *ds, int limit, RmMetrics *model_res,
                          RmMetrics *orig_res, RmEvalProgress progress, void *progress_user,
                          RmAbortCallback abort, void *abort_user, GError **error);
