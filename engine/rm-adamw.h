/* SPDX-License-Identifier: GPL-3.0-or-later
 * torch.optim.AdamW (single-tensor path, amsgrad off, fp32 state), step for step:
 *   p *= 1 - lr wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;
 *   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * with t the parameter's own step count. A parameter whose gradient is NULL at a step is
 * skipped entirely (no decay, no moment update, its step count stays), as torch does for
 * `p.grad is None`. The scalar coefficients are formed in double from the decimal values of
 * the hyper-parameters, as Python does, then rounded to float like torch's scalar arguments, and
 * the element-wise expressions keep torch's CPU kernels' order (fused where they fuse): with the
 * same gradients the result is torch's to the last bit (tests/unit/test-adamw.c).
 */
#pragma once

#include "rm-safetensors.h"
#include "rm-tensor.h"
#include "rm-threadpool.h"

#include <glib.h>

typedef struct
{
  float lr, beta1, beta2, eps, weight_decay;
} RmAdamWGroup;

/* β = (0.9, 0.999), ε = 1e-8, weight decay 0.01 (spec §6.3) at the given learning rate. */
RmAdamWGroup rm_adamw_group_default (float lr);

typedef struct RmAdamW RmAdamW;

RmAdamW *rm_adamw_new (int n_groups, const RmAdamWGroup *groups);
void rm_adamw_free (RmAdamW *opt);
/* Registers a parameter (its data is updated in place; it must outlive the optimizer). Names
 * must be unique. The moments start at zero, the step count at 0. */
void rm_adamw_add_param (RmAdamW *opt, const char *name, RmTensor *param, int group);
size_t rm_adamw_n_params (const RmAdamW *opt);
/* Optional: run the element-wise update on a thread pool (NULL: the calling thread). */
void rm_adamw_set_pool (RmAdamW *opt, RmThreadPool *pool);
/* Group settings can change between steps (e.g. the official x0.1 learning rate at epoch 50). */
RmAdamWGroup *rm_adamw_group (RmAdamW *opt, int group);

typedef const float *(*RmAdamWGradFunc) (void *user, const char *name, const RmTensor *param);
/* One torch.optim.AdamW step: params whose grad is NULL are skipped entirely (torch semantics). */
void rm_adamw_step (RmAdamW *opt, RmAdamWGradFunc grad_of, void *user);
/* Number of rm_adamw_step calls (restored by the load functions). */
int64_t rm_adamw_get_step (const RmAdamW *opt);
void rm_adamw_set_step (RmAdamW *opt, int64_t step);

/* ---- state for checkpoints ----------------------------------------------------------------
 * Per parameter: "<name>.exp_avg" and "<name>.exp_avg_sq" (the parameter's shape, fp32) and
 * "<name>.step" (shape [1], fp32: torch keeps the step as a float tensor; exact to 2^24). */
/* The tensors' data point into the optimizer (valid until its next step or free), so a caller
 * may collect them and write one file. */
typedef void (*RmAdamWStateFunc) (void *user, const char *name, const RmTensor *t);
void rm_adamw_foreach_state (const RmAdamW *opt, RmAdamWStateFunc fn, void *user);
/* Restores every registered parameter's state from a file holding those names (extra tensors,
 * e.g. the weights, are ignored); the optimizer step from the metadata "adamw_step" when
 * present. A missing or misshapen state tensor is an error and leaves the optimizer unchanged. */
gboolean rm_adamw_load_state (RmAdamW *opt, const RmSafetensors *st, GError **error);
/* Writes only the optimizer state (atomically), with metadata "adamw_step". */
gboolean rm_adamw_save (const RmAdamW *opt, const char *path, GError **error);
gboolean rm_adamw_load (RmAdamW *opt, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmAdamW, rm_adamw_free)
