/* SPDX-License-Identifier: GPL-3.0-or-later
 * The training half of golden-check (internal to rm-golden.c): from the batched forward recorded
 * on a tape, the official loss, rm_backward, and the comparisons with train.safetensors
 * (dloss.*), grads.safetensors (every parameter gradient), manifest.json (trainable set, AdamW
 * groups, parameters the loss does not reach) and adamw_step1.safetensors (one AdamW step).
 */
#pragma once

#include "rm-forward.h"
#include "rm-golden.h"

typedef struct RmGoldenTrain RmGoldenTrain;

/* NULL (and no error) when dir holds no grads.safetensors; NULL with error when the training
 * references are there but unreadable. */
RmGoldenTrain *rm_golden_train_new (const char *dir, GError **error);
void rm_golden_train_free (RmGoldenTrain *t);
/* For the forward's tap: keeps the graph tensors whose d loss / d tensor the set holds. */
void rm_golden_train_capture (RmGoldenTrain *t, const char *name, const RmTensor *tensor);
/* After the batched forward (recorded on ctx->tape, weights made trainable): loss, backward and
 * every training comparison, counted in report. target: (B, S, S) bytes. The weights are left
 * unchanged (the AdamW step runs on copies). */
void rm_golden_train_check (RmGoldenTrain *t, RmCtx *ctx, const RmWeights *weights,
                            const RmModelConfig *cfg, const RmForwardOutput *res,
                            const uint8_t *target, int batch, RmGoldenReport *report, FILE *out,
                            bool verbose);
