/* SPDX-License-Identifier: GPL-3.0-or-later
 * The weight table: a safetensors checkpoint under the official state-dict key names, mapped
 * read-only and checked against the keys and shapes a configuration needs.
 */
#pragma once

#include "rm-model-private.h"
#include "rm-safetensors.h"

/* Opens path and validates it against cfg: every key the model computes with must be present
 * with the right shape and a floating dtype (F32 used in place; F16/BF16 converted once); keys
 * of official modules RS2-SAM2 does not use are accepted; anything else is unexpected. The
 * error names every offending key (up to a limit) and what is wrong with it. Keys prefixed
 * `evf_model.` or `module.evf_model.` (training checkpoints) are accepted too. */
RmWeights *rm_weights_load (const char *path, const RmModelConfig *cfg, GError **error);
RmWeights *rm_weights_from_safetensors (RmSafetensors *st, const RmModelConfig *cfg,
                                        GError **error);
void rm_weights_free (RmWeights *w);
/* A copy of every tensor of w on the device of ctx (rm_upload), under the same keys: the data
 * lives in ctx's data arena, which must outlive the copy and not be reset while it is used. On
 * a host context the copy shares w's data. NULL with the failing key on error. */
RmWeights *rm_weights_to_device (const RmWeights *w, RmCtx *ctx, GError **error);
/* NULL when absent (for optional lookups in tools). */
const RmTensor *rm_weights_lookup (const RmWeights *w, const char *key);
size_t rm_weights_count (const RmWeights *w);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmWeights, rm_weights_free)

/* Weights for cfg drawn at random (seeded, reproducible) the way the official modules initialise
 * (rm-weights.c says how); std is that of the embedding, token and position tables. For
 * benchmarks, tests and training from scratch. */
RmWeights *rm_weights_new_random (const RmModelConfig *cfg, uint64_t seed, float std);
/* Calls fn for every tensor (official key order of rm_model_foreach_key). */
typedef void (*RmWeightFunc) (void *user, const char *key, const RmTensor *t);
void rm_weights_foreach (const RmWeights *w, const RmModelConfig *cfg, RmWeightFunc fn, void *user);
/* For training: copies every weight into owned, writable fp32 memory (the RmTensor structs stay
 * the same, so pointers to them remain valid) and sets requires_grad on the trainable keys
 * (rm_param_is_trainable). Idempotent. */
void rm_weights_make_trainable (RmWeights *w);
/* After rm_weights_make_trainable: every weight wants a gradient, the Hiera trunk and the neck
 * included (training from scratch: the official recipe freezes them because it starts from
 * pretrained SAM2). The prompt encoder's Fourier matrix stays a buffer. The Hiera position tables
 * are folded into a precomputed embedding at load, so they stay as initialised. */
void rm_weights_set_all_trainable (RmWeights *w);
/* A RmWeightFunc (and RmAdamWStateFunc) appending t as an F32 RmStTensor to the GArray user; the
 * name is g_strdup'ed (the caller frees it), the data is not copied. */
void rm_weights_collect_st (void *user, const char *key, const RmTensor *t);
/* Writes the weights as an F32 safetensors file (atomically). */
gboolean rm_weights_save (const RmWeights *w, const RmModelConfig *cfg, const char *path,
                          GError **error);
