/* rm-annotation-row.h: a row of the annotations panel
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-annotation.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_TYPE_ANNOTATION_ROW (rm_annotation_row_get_type ())

G_DECLARE_FINAL_TYPE (RmAnnotationRow, rm_annotation_row, RM, ANNOTATION_ROW, GtkWidget)

GtkWidget *rm_annotation_row_new (void);
RmAnnotation *rm_annotation_row_get_annotation (RmAnnotationRow *self);
void rm_annotation_row_set_annotation (RmAnnotationRow *self, RmAnnotation *annotation);
void rm_annotation_row_start_editing (RmAnnotationRow *self);
gboolean rm_annotation_row_get_editing (RmAnnotationRow *self);
void rm_annotation_row_finish_editing (RmAnnotationRow *self, const char *text);

G_END_DECLS
