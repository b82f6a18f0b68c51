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
