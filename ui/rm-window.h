/* rm-window.h: the main window
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_WINDOW (rm_window_get_type ())

G_DECLARE_FINAL_TYPE (RmWindow, rm_window, RM, WINDOW, GtkApplicationWindow)

RmWindow *rm_window_new (RmApplication *application);
void rm_window_add_files (RmWindow *self, GFile **files, guint n_files, gboolean replace);
GListModel *rm_window_get_images (RmWindow *self);
guint rm_window_get_selected (RmWindow *self);
void rm_window_select_image (RmWindow *self, guint position);
RmCanvas *rm_window_get_canvas (RmWindow *self);
gboolean rm_window_get_busy (RmWindow *self);

void rm_window_load_model (RmWindow *self, const char *dir);
RmSegmenter *rm_window_get_segmenter (RmWindow *self);
gboolean rm_window_get_query_running (RmWindow *self);
RmCandidate *rm_window_get_candidate (RmWindow *self);
GListModel *rm_window_get_annotations (RmWindow *self);
void rm_window_add_annotation (RmWindow *self, RmAnnotation *annotation);

GListModel *rm_window_get_model_versions (RmWindow *self);
RmModelVersion *rm_window_get_model_version (RmWindow *self);
void rm_window_add_model_version (RmWindow *self, RmModelVersion *version);

G_END_DECLS
