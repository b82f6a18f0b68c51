/* rm-window-private.h: what rm-window.c shares with rm-window-actions.c
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "rm-canvas.h"
#include "rm-window.h"

G_BEGIN_DECLS

struct _RmWindow
{
  GtkApplicationWindow parent_instance;

  GSettings *settings;
  GListStore *images;
  GtkSingleSelection *selection;
  GHashTable *known_files; /* GFile set: no image is listed twice */
  GCancellable *scan_cancellable;
  guint n_scans;
  GCancellable *load_cancellable;
  guint message_timeout_id;
  gboolean loading_image;
  gboolean model_loaded; /* no model engine yet: the query bar stays off */

  /* template children */
  GtkLabel *title_label;
  GtkLabel *subtitle_label;
  GtkListView *image_list;
  GtkLabel *image_count_label;
  GtkStack *content_stack;
  RmCanvas *canvas;
  GtkWidget *zoom_box;
  GtkLabel *zoom_label;
  GtkSpinner *spinner;
  GtkRevealer *message_revealer;
  GtkLabel *message_label;
  GtkEntry *query_entry;
  GtkLabel *query_status_label;
};

void _rm_window_class_actions_init (GtkWidgetClass *widget_class);
void _rm_window_actions_update (RmWindow *self);
void _rm_window_show_message (RmWindow *self, const char *message);

G_END_DECLS
