/* SPDX-License-Identifier: GPL-3.0-or-later
 * The tape: while ctx->tape is set, every op appends one record of what it computed, in
 * execution order, so that a backward pass can later walk it in reverse. Only recording
 * lives here; the records point at tensors in the context's arena, which must therefore
 * outlive the tape's use (do not reset the arena between forward and backward).
 */
#pragma once

#include "rm-tensor.h"

typedef enum
{
  RM_OP_RESHAPE,
  RM_OP_PERMUTE,
  RM_OP_COPY,
  RM_OP_CONCAT,
  RM_OP_SLICE,
  RM_OP_EMBEDDING,
  RM_OP_ADD,
  RM_OP_SUB,
  RM_OP_MUL,
  RM_OP_AXPBY,
  RM_OP_SCALE,
  RM_OP_RSUB_SCALAR,
  RM_OP_GELU,
  RM_OP_RELU,
  RM_OP_SIGMOID,
  RM_OP_LAYERNORM,
  RM_OP_LAYERNORM_NCHW,
  RM_OP_LINEAR,
  RM_OP_MATMUL,
  RM_OP_ATTENTION,
  RM_OP_CONV2D,
  RM_OP_CONV_TRANSPOSE2X2,
  RM_OP_MAXPOOL2X2_NHWC,
  RM_OP_UPSAMPLE_NEAREST2X,
  RM_OP_RESIZE_BILINEAR,
  RM_OP_RESIZE_BICUBIC,
  RM_OP_WINDOW_PARTITION,
  RM_OP_WINDOW_UNPARTITION,
  RM_OP_SUM_ALL,
  RM_OP_MEAN_ALL,
  RM_OP_ROWS,
  RM_OP_CHECKPOINT,
  RM_OP_N_KINDS
} RmOpKind;

#define RM_TAPE_MAX_INPUTS 4

/* Re-runs a checkpointed region (rm_checkpoint_begin/_end in rm-autograd.h) from its inputs,
 * writing its outputs in the order they were recorded. user is the tape's copy of the data the
 * region was recorded with. */
typedef void (*RmCheckpointFunc) (const void *user, RmCtx *ctx, const RmTensor *const *in,
                                  RmTensor **out);

/* A region run without recording its internals: the backward re-runs it (recording) when it
 * reaches it. Shared by the region's n_out records, owned by the tape. */
typedef struct
{
  RmCheckpointFunc fn;
  void *user;
  int n_in, n_out;
  const RmTensor *in[RM_TAPE_MAX_INPUTS];
  bool reads_trainable; /* an op of the region read a tensor with requires_grad */
} RmCheckpoint;

/* One recorded op. Which saved scalars mean something depends on op:
 *   f[0]: axpby alpha, scale s, rsub_scalar s, layernorm eps, attention scale
 *   f[1]: axpby beta
 *   i[]:  permute perm[0..ndim-1]; concat dim; slice dim, start, len; matmul trans_b;
 *         attention n_heads; conv2d stride, pad; resize oh, ow, antialias;
 *         window_partition w; window_unpartition w, hp, wp, h, wdt; rows start, len;
 *         checkpoint: which of the region's outputs this record's out is
 *   mask: attention key_pad copied as (B, Nk) bytes (NULL when none)
 *   ids:  embedding ids copied (n_ids of them)
 *   checkpoint: the region (RM_OP_CHECKPOINT; its records are consecutive, output 0 first)
 * Absent optional inputs (a NULL bias) are recorded as NULL in in[]. */
struct RmTapeNode
{
  RmOpKind op;
  size_t index; /* position on the tape */
  int n_inputs;
  const RmTensor *in[RM_TAPE_MAX_INPUTS];
  RmTensor *out;
  float f[2];
  int64_t i[RM_MAX_DIMS];
  uint8_t *mask;
  int64_t mask_len;
  int64_t *ids;
  int64_t n_ids;
  RmCheckpoint *checkpoint;
};

RmTape *rm_tape_new (void);
void rm_tape_free (RmTape *tape);
/* Forgets all records (their nodes are freed; tensors still pointing at them must not be
 * used with this tape any more). */
void rm_tape_reset (RmTape *tape);
/* Forgets the records from position len on (as rm_tape_reset does for all of them). */
void rm_tape_truncate (RmTape *tape, size_t len);
size_t rm_tape_len (const RmTape *tape);
/* Record i (0 = first op run); stable until reset or free. */
const RmTapeNode *rm_tape_node (const RmTape *tape, size_t i);
const char *rm_op_kind_name (RmOpKind op);

/* For the op layer: appends a zeroed record of kind op with the given inputs and output
 * and sets out->node. Copies of mask/ids are made with rm_tape_node_save_mask/_ids. */
RmTapeNode *rm_tape_append (RmTape *tape, RmOpKind op, RmTensor *out, int n_inputs,
                            const RmTensor *const *inputs);
void rm_tape_node_save_mask (RmTapeNode *node, const uint8_t *mask, int64_t len);
void rm_tape_node_save_ids (RmTapeNode *node, const int64_t *ids, int64_t n);
/* For rm_checkpoint_end: appends one RM_OP_CHECKPOINT record per output of the region; the tape
 * takes a copy of user (user_size bytes). */
void rm_tape_append_checkpoint (RmTape *tape, const RmCheckpoint *region, const void *user,
                                size_t user_size, RmTensor *const *out);
