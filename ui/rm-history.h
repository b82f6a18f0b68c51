/* rm-history.h: one undo history for the window: the candidate's mask edits and the changes made
 * to annotations (expression, status, mask, deletion, addition)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "rm-annotation.h"
#include "rm-candidate.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_HISTORY_DEFAULT_MAX_STEPS 500

#define RM_TYPE_HISTORY (rm_history_get_type ())

G_DECLARE_FINAL_TYPE (RmHistory, rm_history, RM, HISTORY, GObject)

RmHistory *rm_history_new (GListStore *annotations);

gboolean rm_history_set_expression (RmHistory *self, RmAnnotation *annotation,
                                    const char *expression);
gboolean rm_history_set_status (RmHistory *self, RmAnnotation *annotation,
                                RmAnnotationStatus status);
gboolean rm_history_update (RmHistory *self, RmAnnotation *annotation, RmAnnotationStatus status,
                            RmAnnotationSource source, GBytes *rle);
gboolean rm_history_delete (RmHistory *self, RmAnnotation *annotation);
void rm_history_record_add (RmHistory *self, RmAnnotation *annotation, RmCandidate *candidate);

void rm_history_record_candidate_step (RmHistory *self, RmCandidate *candidate);
void rm_history_forget_candidate (RmHistory *self, RmCandidate *candidate);

gboolean rm_history_can_undo (RmHistory *self);
gboolean rm_history_can_redo (RmHistory *self);
gboolean rm_history_undo (RmHistory *self, RmAnnotation **touched);
gboolean rm_history_redo (RmHistory *self, RmAnnotation **touched);
guint rm_history_get_n_undo (RmHistory *self);
guint rm_history_get_n_redo (RmHistory *self);
void rm_history_set_max_steps (RmHistory *self, guint max_steps);
void rm_history_clear (RmHistory *self);

G_END_DECLS
