/* rm-batch-dialog.h: batch labelling: one expression over many images
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_BATCH_DIALOG (rm_batch_dialog_get_type ())

G_DECLARE_FINAL_TYPE (RmBatchDialog, rm_batch_dialog, RM, BATCH_DIALOG, GtkWindow)

GtkWidget *rm_batch_dialog_new (RmWindow *window);
void rm_batch_dialog_set_expression (RmBatchDialog *self, const char *expression);
void rm_batch_dialog_set_all_images (RmBatchDialog *self, gboolean all_images);
void rm_batch_dialog_set_image_chosen (RmBatchDialog *self, guint position, gboolean chosen);
guint rm_batch_dialog_get_n_chosen (RmBatchDialog *self);
gboolean rm_batch_dialog_start (RmBatchDialog *self);
void rm_batch_dialog_cancel (RmBatchDialog *self);
gboolean rm_batch_dialog_get_running (RmBatchDialog *self);
guint rm_batch_dialog_get_n_made (RmBatchDialog *self);
guint rm_batch_dialog_get_n_failed (RmBatchDialog *self);
gboolean rm_batch_dialog_get_cancelled (RmBatchDialog *self);
void rm_batch_dialog_review (RmBatchDialog *self);
GtkWidget *rm_batch_dialog_get_progress_bar (RmBatchDialog *self);

G_END_DECLS
