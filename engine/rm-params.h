/* SPDX-License-Identifier: GPL-3.0-or-later
 * The official trainable set and AdamW parameter groups, by official state-dict key (spec
 * §6.2-6.3, train.py's param_dicts):
 *   frozen: the Hiera trunk's patch_embed, pos_embed, pos_embed_window and every trunk block
 *     weight except the BHFM adapters (MLP_Adapter.*, Space_Adapter.*), and the FPN neck;
 *     buffers (the prompt encoder's Gaussian PE matrix) are not parameters at all;
 *   trainable: everything else (BEiT-3, the text heads, MPG, prompt encoder, mask decoder, ...).
 *   group 1 (lr_bifit, 1e-4): trainable keys containing any of the lr_bifit_names keywords
 *     (substring match, as `any(k in n for k in args.lr_bifit_names)`); group 0 (lr, 5e-5): the
 *     rest.
 */
#pragma once

#include <stdbool.h>

/* The official --lr_bifit_names default list, NULL-terminated. */
extern const char *const rm_lr_bifit_names_default[];

bool rm_param_is_trainable (const char *key);
/* 0 or 1 for a trainable key (-1 for a frozen one). bifit_names: NULL-terminated keyword list,
 * NULL = rm_lr_bifit_names_default. */
int rm_param_adamw_group (const char *key, const char *const *bifit_names);
