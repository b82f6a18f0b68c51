/* refmask-studio.c: the GTK 4 application's main
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * refmask-studio [PROJECT.refmask, IMAGE or FOLDER…]: opens the project, or shows the images (a
 * folder's images, not recursively) in the sidebar.
 */

#include "refmask-build-config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "rm-application.h"

int
main (int argc, char *argv[])
{
  g_autoptr (RmApplication) app = NULL;
  const char *localedir = g_getenv ("REFMASK_LOCALEDIR");

  /* REFMASK_LOCALEDIR points an uninstalled build at its own translations (meson devenv). */
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_ ("Refmask Studio"));
  app = rm_application_new (G_APPLICATION_DEFAULT_FLAGS);

  return g_application_run (G_APPLICATION (app), argc, argv);
}
