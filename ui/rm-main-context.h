/* rm-main-context.h: handing work from a worker thread to the thread of a main context
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs @func (@data) in the thread that iterates @context, later, never in the caller's
 * thread; @notify frees @data afterwards. */
void rm_main_context_post (GMainContext *context, GSourceFunc func, gpointer data,
                           GDestroyNotify notify);

G_END_DECLS
