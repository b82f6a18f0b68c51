/* rm-window-project.h: the main window's project file
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>
#include <json-glib/json-glib.h>

#include "rm-metrics.h"
#include "rm-project-session.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_PROJECT_SUFFIX ".refmask"

typedef struct _RmWindowProject RmWindowProject;

void rm_window_open_project (RmWindow *self, GFile *file);
void rm_window_new_project (RmWindow *self, GFile *file);
RmProjectSession *rm_window_get_project (RmWindow *self);
gboolean rm_window_get_project_loading (RmWindow *self);
GtkWindow *rm_window_get_import_dialog (RmWindow *self);
GtkWindow *rm_window_get_export_dialog (RmWindow *self);

void rm_metrics_summary_add_json (JsonBuilder *builder, const char *name,
                                  const RmMetricsSummary *summary);

/* What rm-window.c calls. */
void _rm_window_project_class_init (GtkWidgetClass *widget_class);
void _rm_window_project_init (RmWindow *self);
void _rm_window_project_dispose (RmWindow *self);
gboolean _rm_window_project_add_files (RmWindow *self, GFile **files, guint n_files);

/* In rm-window.c: the image list was changed directly (count, empty page, actions). */
void _rm_window_images_changed (RmWindow *self);

G_END_DECLS
