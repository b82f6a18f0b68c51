/* SPDX-License-Identifier: GPL-3.0-or-later
 * Helpers the GUI tests share (gui-test-util.c).
 */
#pragma once

#include <gtk/gtk.h>

#include "rm-candidate.h"
#include "rm-window-private.h"

/* Iterates the main loop until done (data) or `seconds` pass; says what it waited for. */
gboolean gui_wait_for (gboolean (*done) (gpointer), gpointer data, const char *what, int seconds);
gboolean wake_up (gpointer data);
void on_after_paint (GdkFrameClock *clock, gboolean *painted);
gboolean is_true (gpointer data);
gboolean is_null (gpointer data);
void wait_for_frame (GtkWidget *widget);
gboolean query_finished (gpointer data);
gboolean action_enabled (RmWindow *window, const char *name);
void activate (RmWindow *window, const char *action, GVariant *parameter);
guint8 *copy_mask (RmCandidate *candidate);
gboolean mask_equals (RmCandidate *candidate, const guint8 *expected);
void save_window (gpointer window, const char *name);
char *make_model_dir (const char *scratch_dir);
void remove_tree (const char *path);
