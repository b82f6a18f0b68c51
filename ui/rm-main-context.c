/* rm-main-context.c: handing work from a worker thread to the thread of a main context
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Not g_main_context_invoke (): when no thread owns the context at that moment (the main loop
 * is between iterations, or a test is not iterating it), it acquires the context and runs the
 * function at once in the calling worker thread, where GTK must not be touched. A source
 * attached to the context is always dispatched by the context's own thread.
 */

#include "rm-main-context.h"

void
rm_main_context_post (GMainContext *context, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
  g_autoptr (GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, notify);
  g_source_set_static_name (source, "[refmask] worker report");
  g_source_attach (source, context);
}
