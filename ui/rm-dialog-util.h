/* rm-dialog-util.h: what the import and export dialogs show the same way
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Shows @text under the form (hidden when NULL), styled as an error when @error. */
void rm_dialog_show_result (GtkLabel *label, const char *text, gboolean error);
/* Sets @bar to @fraction with the percentage as its text. */
void rm_dialog_show_percent (GtkProgressBar *bar, double fraction);

G_END_DECLS
