/* SPDX-License-Identifier: GPL-3.0-or-later
 * The official RS2-SAM2 training recipe in the engine (spec §6): the loss of rm-loss.h, the
 * trainable set and two AdamW groups of rm-params.h, gradient accumulation over micro-batches of
 * one expression, the optional official black-square augmentation and mirror flips that rewrite
 * spatial words. Progress, cancel (checkpoint kept), resume, atomic checkpoints, NaN/Inf stop.
 *
 * The output directory is a model directory (config.json, model.safetensors, tokenizer) plus
 * train-state.safetensors (optimizer state, step, random state) and train-log.jsonl (one line
 * per optimizer step: loss terms, learning rates, speed; and validation results).
 */
#pragma once

#include "refmask-engine.h"
#include "rm-loss.h"
#include "rm-metrics.h"

typedef struct
{
  const char *event; /* "step", "validation", "checkpoint" */
  int64_t step, total_steps;
  int epoch;
  RmLossTerms loss; /* mean over the micro-batches of the last step */
  double lr, lr_bifit, samples_per_s, eta_s;
  RmMetricsSummary validation; /* for "validation" */
  bool validation_before;      /* the validation before the first step */
} RmTrainProgress;

typedef void (*RmTrainProgressFunc) (void *user, const RmTrainProgress *progress);

typedef struct
{
  const char *model_dir; /* start from this model (ignored on resume) */
  const char *refs;      /* refs.jsonl */
  const char *split;     /* default "train" */
  const char *val_split; /* NULL: no validation */
  const char *out_dir;
  int64_t steps; /* optimizer steps; when 0, `epochs` passes over the training split */
  int epochs;
  int accum; /* micro-batches (expressions) per optimizer step; official: 8 GPUs x 1 */
  float lr, lr_bifit, weight_decay, beta1, beta2, eps;
  int64_t lr_drop_step; /* from this optimizer step on both rates are x0.1 (official: after
                           epoch 49 of 60); 0: never */
  bool train_all; /* also the Hiera trunk and neck (from scratch; see rm_weights_set_all_trainable)
                   */
  bool black_squares; /* official RRSIS-D augmentation on a fixed 20 % of the samples */
  bool flips;         /* mirror images, rewriting left/right and top/bottom words */
  uint64_t seed;
  int n_threads;
  int checkpoint_every; /* optimizer steps; 0: at the end (and on cancel) only */
  int val_limit;        /* at most this many validation samples (0: all) */
  bool resume;          /* continue from out_dir's checkpoint */
  bool recompute; /* re-run each Hiera block in the backward instead of keeping its activations
                     (RmForward.recompute): less memory, about one more trunk forward per step,
                     the same gradients to the bit */
  RmTrainProgressFunc progress;
  void *progress_user;
  RmAbortCallback abort; /* cancel: a checkpoint is written, the result says cancelled */
  void *abort_user;
} RmTrainParams;

typedef struct
{
  int64_t steps_done;
  bool cancelled;
  bool have_validation;
  RmMetricsSummary val_before, val_after;
  double seconds;
} RmTrainResult;

RmTrainParams rm_train_default_params (void);
gboolean rm_train (const RmTrainParams *params, RmTrainResult *result, GError **error);
