/* rm-loss-curve.h: the training loss, drawn as it comes
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_LOSS_CURVE (rm_loss_curve_get_type ())

G_DECLARE_FINAL_TYPE (RmLossCurve, rm_loss_curve, RM, LOSS_CURVE, GtkWidget)

GtkWidget *rm_loss_curve_new (void);
void rm_loss_curve_add_point (RmLossCurve *self, double step, double loss);
void rm_loss_curve_clear (RmLossCurve *self);
void rm_loss_curve_set_total_steps (RmLossCurve *self, double total_steps);
guint rm_loss_curve_get_n_points (RmLossCurve *self);
double rm_loss_curve_get_smoothed (RmLossCurve *self);
guint rm_loss_curve_get_n_drawn (RmLossCurve *self);

G_END_DECLS
