/* rm-mask-editor.h: a binary mask with brush and eraser strokes, hole filling, polygons, and a
 * bounded undo history
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A rectangle of image pixels. */
typedef struct
{
  int x;
  int y;
  int width;
  int height;
} RmMaskRect;

typedef struct _RmMaskEditor RmMaskEditor;

#define RM_MASK_EDITOR_DEFAULT_MAX_STEPS 200
#define RM_MASK_EDITOR_DEFAULT_MAX_BYTES ((gsize) 64 << 20)

RmMaskEditor *rm_mask_editor_new (int width, int height, const guint8 *mask);
void rm_mask_editor_free (RmMaskEditor *self);

int rm_mask_editor_get_width (const RmMaskEditor *self);
int rm_mask_editor_get_height (const RmMaskEditor *self);
const guint8 *rm_mask_editor_get_data (const RmMaskEditor *self);
gint64 rm_mask_editor_get_area (const RmMaskEditor *self);
gboolean rm_mask_editor_get_bbox (const RmMaskEditor *self, RmMaskRect *bbox);

void rm_mask_editor_begin_stroke (RmMaskEditor *self, gboolean paint, double diameter, double x,
                                  double y);
void rm_mask_editor_stroke_to (RmMaskEditor *self, double x, double y);
gboolean rm_mask_editor_end_stroke (RmMaskEditor *self);
gboolean rm_mask_editor_in_stroke (const RmMaskEditor *self);
gboolean rm_mask_editor_fill_holes (RmMaskEditor *self);
gboolean rm_mask_editor_fill_polygon (RmMaskEditor *self, const double *xy, guint n_points,
                                      gboolean paint);

gboolean rm_mask_editor_can_undo (const RmMaskEditor *self);
gboolean rm_mask_editor_can_redo (const RmMaskEditor *self);
gboolean rm_mask_editor_undo (RmMaskEditor *self);
gboolean rm_mask_editor_redo (RmMaskEditor *self);
gboolean rm_mask_editor_is_modified (const RmMaskEditor *self);
void rm_mask_editor_set_history_limits (RmMaskEditor *self, guint max_steps, gsize max_bytes);
guint rm_mask_editor_get_n_undo (const RmMaskEditor *self);
guint rm_mask_editor_get_n_redo (const RmMaskEditor *self);
gsize rm_mask_editor_get_history_bytes (const RmMaskEditor *self);

gboolean rm_mask_editor_take_dirty (RmMaskEditor *self, RmMaskRect *rect);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmMaskEditor, rm_mask_editor_free)

G_END_DECLS
