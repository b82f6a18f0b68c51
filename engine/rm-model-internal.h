/* SPDX-License-Identifier: GPL-3.0-or-later
 * Engine-internal access to a loaded model (training works on its weights in place).
 */
#pragma once

#include "refmask-engine.h"
#include "rm-forward.h"
#include "rm-tokenizer.h"

RmModelCore *rm_model_get_core (RmModel *model);
const RmTokenizer *rm_model_get_tokenizer (const RmModel *model);
const char *rm_model_get_tokenizer_path (const RmModel *model);

/* For tests: a session on an emulated device (rm_ctx_new_emulated_device): the whole device
 * path of the model (weight upload, copies in and out, scoped releases of both arenas) on CPU
 * kernels, bit-identical to a CPU session. */
RmSession *rm_session_new_emulated_device (const RmModel *model, GError **error);
/* The session's compute context (for tests: its arenas' peaks). */
RmCtx *rm_session_get_ctx (RmSession *session);
