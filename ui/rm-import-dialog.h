/* rm-import-dialog.h: import a folder of images or a dataset into the project
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-import.h"
#include "rm-project-session.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_IMPORT_DIALOG (rm_import_dialog_get_type ())

G_DECLARE_FINAL_TYPE (RmImportDialog, rm_import_dialog, RM, IMPORT_DIALOG, GtkWindow)

GtkWindow *rm_import_dialog_new (GtkWindow *parent, RmProjectSession *session, GSettings *settings);
void rm_import_dialog_set_source (RmImportDialog *self, RmImportFormat format, const char *path);
void rm_import_dialog_start (RmImportDialog *self);
void rm_import_dialog_cancel (RmImportDialog *self);
gboolean rm_import_dialog_get_running (RmImportDialog *self);
const char *rm_import_dialog_get_result (RmImportDialog *self);

G_END_DECLS
