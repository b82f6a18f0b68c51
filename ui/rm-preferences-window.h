/* rm-preferences-window.h: the preferences window
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_PREFERENCES_WINDOW (rm_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (RmPreferencesWindow, rm_preferences_window, RM, PREFERENCES_WINDOW, GtkWindow)

GtkWindow *rm_preferences_window_new (GtkWindow *parent, GSettings *settings);

G_END_DECLS
