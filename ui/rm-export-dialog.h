/* rm-export-dialog.h: export the project's annotations (PNG masks, COCO JSON, refs.jsonl)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-project-session.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_EXPORT_DIALOG (rm_export_dialog_get_type ())

G_DECLARE_FINAL_TYPE (RmExportDialog, rm_export_dialog, RM, EXPORT_DIALOG, GtkWindow)

GtkWindow *rm_export_dialog_new (GtkWindow *parent, RmProjectSession *session, GSettings *settings);
void rm_export_dialog_set_destination (RmExportDialog *self, const char *dir);
void rm_export_dialog_set_formats (RmExportDialog *self, RmProjectExportFormats formats,
                                   gboolean polygons);
void rm_export_dialog_start (RmExportDialog *self);
GtkWindow *rm_export_dialog_get_confirmation (RmExportDialog *self);
gboolean rm_export_dialog_get_running (RmExportDialog *self);
const char *rm_export_dialog_get_result (RmExportDialog *self);

G_END_DECLS
