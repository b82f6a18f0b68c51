/* rm-image-row.h: a sidebar row showing one image
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_IMAGE_ROW (rm_image_row_get_type ())

G_DECLARE_FINAL_TYPE (RmImageRow, rm_image_row, RM, IMAGE_ROW, GtkWidget)

GtkWidget *rm_image_row_new (void);
RmImageItem *rm_image_row_get_item (RmImageRow *self);
void rm_image_row_set_item (RmImageRow *self, RmImageItem *item);

G_END_DECLS
