/* rm-finetune-dialog.h: fine-tune the model on the accepted annotations
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-loss-curve.h"
#include "rm-metrics.h"
#include "rm-types.h"

G_BEGIN_DECLS

typedef enum
{
  RM_FINETUNE_VALIDATION_NONE,
  RM_FINETUNE_VALIDATION_FRACTION, /* a fraction of the images, chosen at random (fixed seed) */
  RM_FINETUNE_VALIDATION_CHOSEN,   /* the images the user chose */
} RmFinetuneValidation;

#define RM_TYPE_FINETUNE_DIALOG (rm_finetune_dialog_get_type ())

G_DECLARE_FINAL_TYPE (RmFinetuneDialog, rm_finetune_dialog, RM, FINETUNE_DIALOG, GtkWindow)

GtkWidget *rm_finetune_dialog_new (RmWindow *window);

void rm_finetune_dialog_set_validation (RmFinetuneDialog *self, RmFinetuneValidation validation,
                                        double fraction);
void rm_finetune_dialog_set_held_out (RmFinetuneDialog *self, GFile *image, gboolean held_out);
void rm_finetune_dialog_set_steps (RmFinetuneDialog *self, int steps);
int rm_finetune_dialog_get_steps (RmFinetuneDialog *self);
void rm_finetune_dialog_set_accum (RmFinetuneDialog *self, int accum);
int rm_finetune_dialog_get_accum (RmFinetuneDialog *self);
double rm_finetune_dialog_get_lr (RmFinetuneDialog *self);
double rm_finetune_dialog_get_lr_bifit (RmFinetuneDialog *self);
void rm_finetune_dialog_get_split (RmFinetuneDialog *self, guint *n_train, guint *n_val);
void rm_finetune_dialog_set_output_folder (RmFinetuneDialog *self, const char *folder);
const char *rm_finetune_dialog_get_output_dir (RmFinetuneDialog *self);

gboolean rm_finetune_dialog_start (RmFinetuneDialog *self);
void rm_finetune_dialog_cancel (RmFinetuneDialog *self);
gboolean rm_finetune_dialog_get_running (RmFinetuneDialog *self);
gint64 rm_finetune_dialog_get_steps_done (RmFinetuneDialog *self);
gboolean rm_finetune_dialog_get_finished (RmFinetuneDialog *self, gboolean *cancelled);
gboolean rm_finetune_dialog_get_validation (RmFinetuneDialog *self, RmMetricsSummary *before,
                                            RmMetricsSummary *after);
RmModelVersion *rm_finetune_dialog_get_new_version (RmFinetuneDialog *self);
gboolean rm_finetune_dialog_use_new_model (RmFinetuneDialog *self);
RmLossCurve *rm_finetune_dialog_get_loss_curve (RmFinetuneDialog *self);

G_END_DECLS
