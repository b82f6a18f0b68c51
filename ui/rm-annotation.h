/* rm-annotation.h: one annotation of an image (a mask with its referring expression)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "rm-rle.h"
#include "rm-types.h"

G_BEGIN_DECLS

/* The nicks ("candidate", "accepted", "rejected"; "model", "model-corrected", "manual",
 * "imported") are stable. */
typedef enum
{
  RM_ANNOTATION_STATUS_CANDIDATE,
  RM_ANNOTATION_STATUS_ACCEPTED,
  RM_ANNOTATION_STATUS_REJECTED,
} RmAnnotationStatus;

typedef enum
{
  RM_ANNOTATION_SOURCE_MODEL,
  RM_ANNOTATION_SOURCE_MODEL_CORRECTED,
  RM_ANNOTATION_SOURCE_MANUAL,
  RM_ANNOTATION_SOURCE_IMPORTED, /* from a dataset (the import dialog) */
} RmAnnotationSource;

#define RM_TYPE_ANNOTATION_STATUS (rm_annotation_status_get_type ())
#define RM_TYPE_ANNOTATION_SOURCE (rm_annotation_source_get_type ())
GType rm_annotation_status_get_type (void) G_GNUC_CONST;
GType rm_annotation_source_get_type (void) G_GNUC_CONST;

const char *rm_annotation_status_to_string (RmAnnotationStatus status);
gboolean rm_annotation_status_from_string (const char *nick, RmAnnotationStatus *status);
const char *rm_annotation_status_get_label (RmAnnotationStatus status);
const char *rm_annotation_source_to_string (RmAnnotationSource source);
gboolean rm_annotation_source_from_string (const char *nick, RmAnnotationSource *source);
const char *rm_annotation_source_get_label (RmAnnotationSource source);
char *rm_annotation_format_area (gint64 area);

#define RM_TYPE_ANNOTATION (rm_annotation_get_type ())

G_DECLARE_FINAL_TYPE (RmAnnotation, rm_annotation, RM, ANNOTATION, GObject)

RmAnnotation *rm_annotation_new (GFile *image, const char *expression, int width, int height,
                                 GBytes *mask, RmAnnotationStatus status,
                                 RmAnnotationSource source);
RmAnnotation *rm_annotation_new_from_rle (GFile *image, const char *expression, const RmRle *rle,
                                          RmAnnotationStatus status, RmAnnotationSource source);
GBytes *rm_annotation_encode_mask (const guint8 *mask, int width, int height);

gint64 rm_annotation_get_id (RmAnnotation *self);
void rm_annotation_set_id (RmAnnotation *self, gint64 id);
GFile *rm_annotation_get_image (RmAnnotation *self);
const char *rm_annotation_get_expression (RmAnnotation *self);
void rm_annotation_set_expression (RmAnnotation *self, const char *expression);
RmAnnotationStatus rm_annotation_get_status (RmAnnotation *self);
void rm_annotation_set_status (RmAnnotation *self, RmAnnotationStatus status);
RmAnnotationSource rm_annotation_get_source (RmAnnotation *self);
void rm_annotation_set_source (RmAnnotation *self, RmAnnotationSource source);
int rm_annotation_get_width (RmAnnotation *self);
int rm_annotation_get_height (RmAnnotation *self);
GBytes *rm_annotation_get_mask (RmAnnotation *self);
void rm_annotation_set_mask (RmAnnotation *self, GBytes *mask);
GBytes *rm_annotation_get_rle (RmAnnotation *self);
void rm_annotation_set_rle (RmAnnotation *self, GBytes *rle);
RmRle *rm_annotation_dup_rle (RmAnnotation *self);
gboolean rm_annotation_get_mask_decoded (RmAnnotation *self);
void rm_annotation_drop_mask (RmAnnotation *self);
guint rm_annotation_get_n_decodes (void);
gint64 rm_annotation_get_area (RmAnnotation *self);
void rm_annotation_get_bbox (RmAnnotation *self, int *x, int *y, int *width, int *height);
GBytes *rm_annotation_get_prior (RmAnnotation *self, int *size);
void rm_annotation_set_prior (RmAnnotation *self, GBytes *prior, int size);
const char *rm_annotation_get_model (RmAnnotation *self);
void rm_annotation_set_model (RmAnnotation *self, const char *model);
GDateTime *rm_annotation_get_created (RmAnnotation *self);
void rm_annotation_set_created (RmAnnotation *self, GDateTime *created);
GDateTime *rm_annotation_get_modified (RmAnnotation *self);

G_END_DECLS
