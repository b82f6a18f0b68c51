/* rm-mask-overlay.h: a binary mask drawn over the canvas as tiled textures, and heatmaps
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "rm-mask-editor.h"
#include "rm-types.h"

G_BEGIN_DECLS

#define RM_MASK_OVERLAY_TILE_SIZE 512

typedef struct _RmMaskOverlay RmMaskOverlay;

RmMaskOverlay *rm_mask_overlay_new (int width, int height);
void rm_mask_overlay_free (RmMaskOverlay *self);
int rm_mask_overlay_get_width (const RmMaskOverlay *self);
int rm_mask_overlay_get_height (const RmMaskOverlay *self);
void rm_mask_overlay_set_style (RmMaskOverlay *self, const GdkRGBA *colour, double opacity);
void rm_mask_overlay_invalidate (RmMaskOverlay *self, const RmMaskRect *rect);
guint rm_mask_overlay_snapshot (RmMaskOverlay *self, GtkSnapshot *snapshot, const guint8 *mask,
                                const RmView *view, int scale_factor);
guint rm_mask_overlay_get_n_uploads (const RmMaskOverlay *self);

guint8 *rm_mask_overlay_render (const guint8 *mask, int width, int height, int factor,
                                const RmMaskRect *texels, const GdkRGBA *colour, double opacity);
GdkTexture *rm_heatmap_texture_new (const float *map, int width, int height);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmMaskOverlay, rm_mask_overlay_free)

G_END_DECLS
