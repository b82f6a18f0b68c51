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
