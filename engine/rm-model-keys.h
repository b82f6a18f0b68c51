/* SPDX-License-Identifier: GPL-3.0-or-later
 * The state-dict keys an RS2-SAM2 model of a given configuration must have (official key names,
 * spec Appendix A), with their shapes; and the keys of official modules that inference and
 * training never use (video memory, point prompts), which a checkpoint may carry.
 */
#pragma once

#include "rm-model-private.h"

typedef void (*RmKeyFunc) (void *user, const char *key, int ndim, const int64_t *shape);

/* Calls fn for every tensor the model computes with, in a fixed order. */
void rm_model_foreach_key (const RmModelConfig *cfg, RmKeyFunc fn, void *user);
/* TRUE for keys of official modules RS2-SAM2 never computes with. */
bool rm_model_key_is_unused (const char *key);
