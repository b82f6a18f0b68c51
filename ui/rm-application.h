/* rm-application.h: the Refmask Studio application
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_APPLICATION (rm_application_get_type ())

G_DECLARE_FINAL_TYPE (RmApplication, rm_application, RM, APPLICATION, GtkApplication)

RmApplication *rm_application_new (GApplicationFlags flags);
GSettings *rm_application_get_settings (RmApplication *self);
RmWindow *rm_application_get_window (RmApplication *self);
const char *rm_application_get_model_dir (RmApplication *self);

G_END_DECLS
