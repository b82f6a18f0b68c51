/* SPDX-License-Identifier: GPL-3.0-or-later
 * The RS2-SAM2 forward pass, module by module (spec §1.3). Internal to the engine: the public
 * API (refmask-engine.h) wraps it with preprocessing, tokenisation and post-processing.
 *
 * Every function takes an RmForward: the compute context, the model, and an optional tap that
 * sees named module-boundary tensors in the layouts of the golden sets (used by golden-check).
 */
#pragma once

#include "rm-model-private.h"
#include "rm-weights.h"

/* Everything that depends only on the weights and the configuration. Immutable once built. */
typedef struct RmModelCore
{
  RmModelConfig cfg;
  RmWeights *weights;
  float *hiera_pos_data; /* (1, S/4, S/4, C0): bicubic pos_embed + tiled window table, NHWC */
  RmTensor hiera_pos;
  float *dense_pe_data; /* (1, Ds, S/16, S/16): random-Fourier PE of the embedding grid */
  RmTensor dense_pe;
  /* A copy on a device (rm_model_core_to_device): the device context whose data arena holds
   * the weights and both tables (the *_data pointers above are then NULL). NULL on the host. */
  RmCtx *device_ctx;
} RmModelCore;

typedef void (*RmTapFunc) (void *user, const char *name, const RmTensor *t);
/* Polled between blocks; returning true stops the forward (it then returns NULL). */
typedef bool (*RmAbortFunc) (void *user);
typedef void (*RmStageFunc) (void *user, const char *stage, double fraction);

typedef struct RmForward
{
  RmCtx *ctx;
  const RmModelCore *core;
  RmTapFunc tap;
  void *tap_user;
  RmAbortFunc abort;
  void *abort_user;
  RmStageFunc stage;
  void *stage_user;
  /* Training (a tape on ctx): record each Hiera block as one checkpointed region that the
   * backward re-runs (rm_checkpoint_begin), so that only the blocks' inputs and outputs are kept
   * instead of all their activations. The gradients are the same to the bit. */
  bool recompute;
  bool aborted;
  GError *error; /* why the forward failed, when it did not only stop (a device error) */
  double ms_beit, ms_hiera, ms_heads; /* wall time per stage of the last forward */
} RmForward;

/* Inputs of one batched forward: B copies of the image (B, 3, S, S) and (B, 3, b, b), token ids
 * (B, L) and the BEiT-3 padding mask (non-zero = padding; ids == 3). */
typedef struct RmForwardInput
{
  const RmTensor *sam_image;
  const RmTensor *beit_image;
  const int64_t *ids;
  const uint8_t *pad;
  int batch, text_len;
} RmForwardInput;

typedef struct RmForwardOutput
{
  RmTensor *low_res_masks; /* (B, 1, S/4, S/4) */
  RmTensor *pred_masks;    /* (B, 1, S, S): the logits z; foreground iff z > 0.5 */
  RmTensor *prior;         /* (B, 1, g, g): MPG pseudo-mask probabilities */
  RmTensor *text_weight;   /* (B, 1, 1): text2one_linear(T0[:, 0]), the boundary-loss weight */
} RmForwardOutput;

void rm_model_core_init (RmModelCore *core, const RmModelConfig *cfg, RmWeights *weights);
/* *out = host on the device of device_ctx, which out then owns (freed by rm_model_core_clear,
 * or here on failure): the weight-derived tables are computed on the host by
 * rm_model_core_init, then uploaded with every weight. The copy does not follow later changes
 * of host's weights (training changes a model of its own). false with the upload's error. */
bool rm_model_core_to_device (const RmModelCore *host, RmCtx *device_ctx, RmModelCore *out,
                              GError **error);
void rm_model_core_clear (RmModelCore *core);

/* Returns false when aborted, or failed with fw->error set (the caller owns it). */
bool rm_forward (RmForward *fw, const RmForwardInput *in, RmForwardOutput *out);

/* ---- modules (rm-beit3.c, rm-hiera.c, rm-sam-heads.c) -------------------------------- */

/* BEiT-3 union encoder -> encoder_out (B, 1 + g*g + L, D). */
RmTensor *rm_beit3_forward (RmForward *fw, const RmForwardInput *in);
/* Hiera trunk with BHFM in every block: the four stage outputs (NCHW), text (B, L, Ds)
 * threaded through the blocks. */
bool rm_hiera_forward (RmForward *fw, const RmTensor *image, const RmTensor *text0,
                       RmTensor *stages[4]);

/* ---- shared layers (rm-layers.c) ---------------------------------------------------- */

void rm_fw_tap (RmForward *fw, const char *name, const RmTensor *t);
/* Taps a permuted copy (only computed when a tap is set). */
void rm_fw_tap_permuted (RmForward *fw, const char *name, const RmTensor *t, const int *perm);
const RmTensor *rm_fw_weight (RmForward *fw, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));
/* Rows [start, start+len) of a weight (a view; no copy). */
RmTensor *rm_fw_rows (RmForward *fw, const RmTensor *w, int64_t start, int64_t len);
/* nn.Linear by key prefix: `<prefix>.weight`, `<prefix>.bias`. */
RmTensor *rm_fw_linear (RmForward *fw, const RmTensor *x, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
/* nn.MultiheadAttention (packed in_proj) under `prefix`, batch-first tensors. */
RmTensor *rm_fw_mha (RmForward *fw, const RmTensor *q, const RmTensor *k, const RmTensor *v,
                     const char *prefix, int heads);
/* SAM's Attention (separate q/k/v projections to an internal width) under `prefix`. */
RmTensor *rm_fw_sam_attention (RmForward *fw, const RmTensor *q, const RmTensor *k,
                               const RmTensor *v, const char *prefix, int heads);
/* SAM's MLP: layers.0 .. layers.{n-1} with ReLU between them. */
RmTensor *rm_fw_sam_mlp (RmForward *fw, const RmTensor *x, const char *prefix, int n_layers);
bool rm_fw_should_stop (RmForward *fw);
/* Without a tape: moves the n tensors (at most 8) to fresh arena memory after giving back
 * everything allocated since mark, so a long forward's memory is bounded by its largest part.
 * With a tape it does nothing (the backward pass needs every activation). */
void rm_fw_keep_and_release (RmForward *fw, RmCtxMark mark, RmTensor **tensors, int n);
