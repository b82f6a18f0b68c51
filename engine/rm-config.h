/* SPDX-License-Identifier: GPL-3.0-or-later
 * Model configuration (config.json). See rm-model-private.h for the struct.
 */
#pragma once

#include "rm-model-private.h"

#include <json-glib/json-glib.h>

bool rm_model_config_validate (const RmModelConfig *cfg, GError **error);
/* Unknown keys are ignored, missing optional ones keep the released model's value. */
bool rm_model_config_from_json_object (RmModelConfig *cfg, JsonObject *obj, GError **error);
/* path: a config.json, or a golden set's manifest.json (its config.set is used). */
bool rm_model_config_load (RmModelConfig *cfg, const char *path, GError **error);
/* The config.json text for cfg (written by the model tools and training). */
char *rm_model_config_to_json (const RmModelConfig *cfg);
