/* SPDX-License-Identifier: GPL-3.0-or-later
 * Tape storage: nodes in fixed blocks so that their addresses (held by out->node) stay
 * valid while the tape grows.
 */
#include "rm-tape.h"

#include <stdlib.h>
#include <string.h>

#define RM_TAPE_BLOCK 256

struct RmTape
{
  RmTapeNode **blocks;
  size_t n_blocks;
  size_t cap_blocks;
  size_t len;
};

static void *
rm_xcalloc (size_t n, size_t size)
{
  void *p = calloc (n, size);
  RM_CHECK (p != NULL || n == 0 || size == 0, "out of memory");
  return p;
}

RmTape *
rm_tape_new (void)
{
  return rm_xcalloc (1, sizeof (RmTape));
}

static void
rm_tape_node_clear (RmTapeNode *node)
{
  free (node->mask);
  free (node->ids);
  /* A region's records go together (rm_checkpoint_end appends them at once, truncation happens
   * between regions): its first record owns it. */
  if (node->op == RM_OP_CHECKPOINT && node->i[0] == 0)
    {
      free (node->checkpoint->user);
      free (node->checkpoint);
    }
  memset (node, 0, sizeof *node);
}

void
rm_tape_truncate (RmTape *tape, size_t len)
{
  RM_CHECK (len <= tape->len, "truncate to %zu: the tape has %zu records", len, tape->len);
  for (size_t i = len; i < tape->len; i++)
    rm_tape_node_clear (&tape->blocks[i / RM_TAPE_BLOCK][i % RM_TAPE_BLOCK]);
  tape->len = len;
}

void
rm_tape_reset (RmTape *tape)
{
  rm_tape_truncate (tape, 0);
}

void
rm_tape_free (RmTape *tape)
{
  if (tape == NULL)
    return;
  rm_tape_reset (tape);
  for (size_t b = 0; b < tape->n_blocks; b++)
    free (tape->blocks[b]);
  free (tape->blocks);
  free (tape);
}

size_t
rm_tape_len (const RmTape *tape)
{
  return tape->len;
}

const RmTapeNode *
rm_tape_node (const RmTape *tape, size_t i)
{
  RM_CHECK (i < tape->len, "tape index %zu out of range (%zu records)", i, tape->len);
  return &tape->blocks[i / RM_TAPE_BLOCK][i % RM_TAPE_BLOCK];
}

RmTapeNode *
rm_tape_append (RmTape *tape, RmOpKind op, RmTensor *out, int n_inputs,
                const RmTensor *const *inputs)
{
  RM_CHECK (n_inputs >= 0 && n_inputs <= RM_TAPE_MAX_INPUTS, "too many inputs (%d)", n_inputs);
  size_t b = tape->len / RM_TAPE_BLOCK;
  if (b == tape->n_blocks)
    {
      if (tape->n_blocks == tape->cap_blocks)
        {
          tape->cap_blocks = tape->cap_blocks ? 2 * tape->cap_blocks : 16;
          tape->blocks = realloc (tape->blocks, tape->cap_blocks * sizeof *tape->blocks);
          RM_CHECK (tape->blocks != NULL, "out of memory");
        }
      tape->blocks[tape->n_blocks++] = rm_xcalloc (RM_TAPE_BLOCK, sizeof (RmTapeNode));
    }
  RmTapeNode *node = &tape->blocks[b][tape->len % RM_TAPE_BLOCK];
  node->op = op;
  node->index = tape->len++;
  node->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++)
    node->in[i] = inputs[i];
  node->out = out;
  out->node = node;
  return node;
}

void
rm_tape_node_save_mask (RmTapeNode *node, const uint8_t *mask, int64_t len)
{
  if (mask == NULL)
    return;
  node->mask = rm_xcalloc ((size_t) len, 1);
  memcpy (node->mask, mask, (size_t) len);
  node->mask_len = len;
}

void
rm_tape_node_save_ids (RmTapeNode *node, const int64_t *ids, int64_t n)
{
  node->ids = rm_xcalloc ((size_t) n, sizeof *ids);
  if (n > 0)
    memcpy (node->ids, ids, (size_t) n * sizeof *ids);
  node->n_ids = n;
}

void
rm_tape_append_checkpoint (RmTape *tape, const RmCheckpoint *region, const void *user,
                           size_t user_size, RmTensor *const *out)
{
  RmCheckpoint *cp = rm_xcalloc (1, sizeof *cp);
  *cp = *region;
  cp->user = rm_xcalloc (1, user_size > 0 ? user_size : 1);
  if (user_size > 0)
    memcpy (cp->user, user, user_size);
  for (int k = 0; k < cp->n_out; k++)
    {
      RmTapeNode *node = rm_tape_append (tape, RM_OP_CHECKPOINT, out[k], cp->n_in, cp->in);
      node->i[0] = k;
      node->checkpoint = cp;
    }
}

const char *
rm_op_kind_name (RmOpKind op)
{
  static const char *const names[RM_OP_N_KINDS] = {
    [RM_OP_RESHAPE] = "reshape",
    [RM_OP_PERMUTE] = "permute",
    [RM_OP_COPY] = "copy",
    [RM_OP_CONCAT] = "concat",
    [RM_OP_SLICE] = "slice",
    [RM_OP_EMBEDDING] = "embedding",
    [RM_OP_ADD] = "add",
    [RM_OP_SUB] = "sub",
    [RM_OP_MUL] = "mul",
    [RM_OP_AXPBY] = "axpby",
    [RM_OP_SCALE] = "scale",
    [RM_OP_RSUB_SCALAR] = "rsub_scalar",
    [RM_OP_GELU] = "gelu",
    [RM_OP_RELU] = "relu",
    [RM_OP_SIGMOID] = "sigmoid",
    [RM_OP_LAYERNORM] = "layernorm",
    [RM_OP_LAYERNORM_NCHW] = "layernorm_nchw",
    [RM_OP_LINEAR] = "linear",
    [RM_OP_MATMUL] = "matmul",
    [RM_OP_ATTENTION] = "attention",
    [RM_OP_CONV2D] = "conv2d",
    [RM_OP_CONV_TRANSPOSE2X2] = "conv_transpose2x2",
    [RM_OP_MAXPOOL2X2_NHWC] = "maxpool2x2_nhwc",
    [RM_OP_UPSAMPLE_NEAREST2X] = "upsample_nearest2x",
    [RM_OP_RESIZE_BILINEAR] = "resize_bilinear",
    [RM_OP_RESIZE_BICUBIC] = "resize_bicubic",
    [RM_OP_WINDOW_PARTITION] = "window_partition",
    [RM_OP_WINDOW_UNPARTITION] = "window_unpartition",
    [RM_OP_SUM_ALL] = "sum_all",
    [RM_OP_MEAN_ALL] = "mean_all",
    [RM_OP_ROWS] = "rows",
    [RM_OP_CHECKPOINT] = "checkpoint",
  };
  return ((unsigned) op < RM_OP_N_KINDS) ? names[op] : "?";
}
