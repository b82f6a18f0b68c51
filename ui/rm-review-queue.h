/* rm-review-queue.h: the candidate annotations to review, in image order
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "rm-annotation.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_REVIEW_QUEUE (rm_review_queue_get_type ())

G_DECLARE_FINAL_TYPE (RmReviewQueue, rm_review_queue, RM, REVIEW_QUEUE, GObject)

RmReviewQueue *rm_review_queue_new (void);
void rm_review_queue_reset (RmReviewQueue *self, GListModel *annotations, GFile *const *images,
                            guint n_images);
gboolean rm_review_queue_append (RmReviewQueue *self, RmAnnotation *annotation);
gboolean rm_review_queue_remove (RmReviewQueue *self, RmAnnotation *annotation);
void rm_review_queue_clear (RmReviewQueue *self);

guint rm_review_queue_get_n_items (RmReviewQueue *self);
RmAnnotation *rm_review_queue_get_item (RmReviewQueue *self, guint position);
guint rm_review_queue_get_position (RmReviewQueue *self);
RmAnnotation *rm_review_queue_get_current (RmReviewQueue *self);
gboolean rm_review_queue_set_position (RmReviewQueue *self, guint position);
gboolean rm_review_queue_set_current (RmReviewQueue *self, RmAnnotation *annotation);
gboolean rm_review_queue_next (RmReviewQueue *self);
gboolean rm_review_queue_previous (RmReviewQueue *self);
gboolean rm_review_queue_next_pending (RmReviewQueue *self);
guint rm_review_queue_get_n_pending (RmReviewQueue *self);
char *rm_review_queue_format_counter (RmReviewQueue *self);

G_END_DECLS
