/* SPDX-License-Identifier: GPL-3.0-or-later
 * Reverse-mode differentiation over the tape (rm-tape.h).
 *
 * Record a forward with ctx->tape set, then call rm_backward with the gradient of the loss
 * w.r.t. some recorded tensors (the seeds). The tape is walked backwards; each op whose output
 * received a gradient runs its backward kernel (ctx->backend) for the inputs that need one. An
 * input needs a gradient when it is a leaf with requires_grad (a trainable parameter) or when it
 * was computed, on the tape, from one: frozen parameters and plain inputs get none and cost
 * nothing, but gradients still flow through the ops that use them (e.g. through a frozen Hiera
 * block to the adapters before it). A tensor used several times gets the sum of its gradients.
 *
 * Gradients are fp32 and contiguous in the logical shape of their tensor. Those of recorded
 * tensors live in ctx->arena (valid until the arena or the tape is reset), those of parameters
 * (leaves) are owned by the RmGrad (valid until rm_grad_free). Kernels add in a fixed order, so
 * the result does not depend on the number of threads.
 */
#pragma once

#include "rm-tape.h"
#include "rm-tensor.h"

#include <glib.h>

typedef struct RmGrad RmGrad;

/* Walks ctx->tape backwards from the seeds (tensors recorded on it, or leaves with
 * requires_grad; seed_grads[i] holds numel(seeds[i]) floats). Every tensor with requires_grad
 * (leaf parameters) that is reached gets a gradient (summed over all its uses); frozen ones get
 * none, but gradients still flow through the ops that use them to earlier trainable tensors.
 * Intermediate gradients live in ctx->arena. Fails (RM_ERROR_INPUT) without a tape or when a
 * seed is neither recorded on it nor a leaf with requires_grad. */
RmGrad *rm_backward (RmCtx *ctx, int n_seeds, const RmTensor *const *seeds,
                     const float *const *seed_grads, GError **error);
/* The gradient of any tensor recorded on the tape or any reached leaf (NULL when none reached
 * it). numel(t) floats. */
const float *rm_grad_get (const RmGrad *g, const RmTensor *t);
/* Calls fn for every leaf (requires_grad) that received a gradient, in first-reached order. */
typedef void (*RmGradLeafFunc) (void *user, const RmTensor *leaf, const float *grad);
void rm_grad_foreach_leaf (const RmGrad *g, RmGradLeafFunc fn, void *user);
void rm_grad_free (RmGrad *g);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmGrad, rm_grad_free)

/* ---- gradient checkpointing ----------------------------------------------------------------
 *
 * A region of the forward (a Hiera block) can be run without recording its internals: only its
 * inputs and outputs stay in the arena, plus records that know how to re-run it. When
 * rm_backward reaches the region it re-runs it with recording on, in a scope of the arena that
 * it gives back afterwards, and walks those records seeded with the gradients of the region's
 * outputs; its inputs' gradients and its parameters' gradients are summed where a recorded
 * forward would have put them, in the same order, so the gradients are bit-identical to those of
 * a recorded forward (the kernels are deterministic, and the re-run computes the same values).
 *
 *   RmCheckpointScope scope = rm_checkpoint_begin (ctx);
 *   ...run the region on in[] (its ops record nothing; it may release its temporaries)...
 *   rm_checkpoint_end (ctx, scope, n_in, in, n_out, out, fn, &data, sizeof data);
 *
 * fn(data, ctx, in, out) must compute the same outputs from the same inputs with the same ops
 * (call the function that ran the region). The region may read parameters (leaves) freely, but
 * of the recorded tensors only its inputs. Without a tape both calls do nothing, so a forward
 * written this way serves inference as well (and a region inside a region is part of it). */
typedef struct
{
  RmTape *tape; /* the context's tape, detached while the region runs (NULL: none, no-op) */
} RmCheckpointScope;

RmCheckpointScope rm_checkpoint_begin (RmCtx *ctx);
/* n_in, n_out <= RM_TAPE_MAX_INPUTS; the outputs must be new tensors computed by the region. */
void rm_checkpoint_end (RmCtx *ctx, RmCheckpointScope scope, int n_in, const RmTensor *const *in,
                        int n_out, RmTensor *const *out, RmCheckpointFunc fn, const void *user,
                        size_t user_size);
