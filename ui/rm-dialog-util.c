/* rm-dialog-util.c: what the import and export dialogs show the same way
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-dialog-util.h"

#include <glib/gi18n.h>

void
rm_dialog_show_result (GtkLabel *label, const char *text, gboolean error)
{
  gtk_label_set_label (label, text);
  gtk_widget_set_visible (GTK_WIDGET (label), text != NULL);
  if (error)
    gtk_widget_add_css_class (GTK_WIDGET (label), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (label), "error");
}

void
rm_dialog_show_percent (GtkProgressBar *bar, double fraction)
{
  /* Translators: progress of an import or export in percent */
  g_autofree char *text = g_strdup_printf (_ ("%.0f %%"), fraction * 100);

  gtk_progress_bar_set_fraction (bar, fraction);
  gtk_progress_bar_set_text (bar, text);
}
