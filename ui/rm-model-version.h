/* rm-model-version.h: one version of the model in this session (a model folder, and where it came
 * from)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "rm-metrics.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_MODEL_VERSION (rm_model_version_get_type ())

G_DECLARE_FINAL_TYPE (RmModelVersion, rm_model_version, RM, MODEL_VERSION, GObject)

RmModelVersion *rm_model_version_new (const char *dir, const char *name, const char *parent_dir);
const char *rm_model_version_get_dir (RmModelVersion *self);
const char *rm_model_version_get_name (RmModelVersion *self);
void rm_model_version_set_name (RmModelVersion *self, const char *name);
const char *rm_model_version_get_parent_dir (RmModelVersion *self);
GDateTime *rm_model_version_get_created (RmModelVersion *self);

void rm_model_version_set_training (RmModelVersion *self, gint64 steps, guint n_train,
                                    gboolean complete);
gint64 rm_model_version_get_steps (RmModelVersion *self);
guint rm_model_version_get_n_train (RmModelVersion *self);
gboolean rm_model_version_get_complete (RmModelVersion *self);
void rm_model_version_set_validation (RmModelVersion *self, const RmMetricsSummary *before,
                                      const RmMetricsSummary *after);
gboolean rm_model_version_get_validation (RmModelVersion *self, RmMetricsSummary *before,
                                          RmMetricsSummary *after);
char *rm_model_version_describe (RmModelVersion *self);

G_END_DECLS
