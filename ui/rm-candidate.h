/* rm-candidate.h: the model's answer to a query, being reviewed and corrected
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gdk/gdk.h>

#include "refmask-engine.h"
#include "rm-annotation.h"
#include "rm-mask-editor.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_CANDIDATE (rm_candidate_get_type ())

G_DECLARE_FINAL_TYPE (RmCandidate, rm_candidate, RM, CANDIDATE, GObject)

RmCandidate *rm_candidate_new (GFile *image, const char *expression, const RmSegmentResult *result);
RmCandidate *rm_candidate_new_for_annotation (RmAnnotation *annotation);
RmAnnotation *rm_candidate_get_origin (RmCandidate *self);
GFile *rm_candidate_get_image (RmCandidate *self);
const char *rm_candidate_get_expression (RmCandidate *self);
int rm_candidate_get_width (RmCandidate *self);
int rm_candidate_get_height (RmCandidate *self);
const guint8 *rm_candidate_get_mask (RmCandidate *self);
gint64 rm_candidate_get_area (RmCandidate *self);
const float *rm_candidate_get_prior (RmCandidate *self, int *size);
GdkTexture *rm_candidate_get_prior_texture (RmCandidate *self);
RmMaskEditor *rm_candidate_get_editor (RmCandidate *self);
const char *rm_candidate_get_model (RmCandidate *self);
void rm_candidate_set_model (RmCandidate *self, const char *model);

void rm_candidate_begin_stroke (RmCandidate *self, gboolean paint, double diameter, double x,
                                double y);
void rm_candidate_stroke_to (RmCandidate *self, double x, double y);
gboolean rm_candidate_end_stroke (RmCandidate *self);
gboolean rm_candidate_fill_holes (RmCandidate *self);
gboolean rm_candidate_fill_polygon (RmCandidate *self, const double *xy, guint n_points,
                                    gboolean paint);
gboolean rm_candidate_can_undo (RmCandidate *self);
gboolean rm_candidate_can_redo (RmCandidate *self);
gboolean rm_candidate_undo (RmCandidate *self);
gboolean rm_candidate_redo (RmCandidate *self);
gboolean rm_candidate_get_corrected (RmCandidate *self);

RmAnnotation *rm_candidate_to_annotation (RmCandidate *self, RmAnnotationStatus status);

G_END_DECLS
