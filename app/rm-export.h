/* SPDX-License-Identifier: GPL-3.0-or-later
 * Export of a project's annotations to the formats of the field.
 *
 * An export writes a folder. It is built under a temporary name beside the target and
 * renamed into place at the end, so the target appears complete or not at all. An existing
 * target is an error unless `force` is set, and even then only a folder written by a
 * previous export (it holds a .refmask-export marker) is replaced.
 *
 *  - png:  masks/<image>__<annotation id>.png, one 8-bit 0/255 mask per annotation at the
 *          image's size; index/<image>.png, one palette PNG per image (0 = background,
 *          k = the k-th exported annotation of that image, later ones on top);
 *          masks.json lists every file with its annotation.
 *  - coco: instances.json (images, categories, annotations; compressed RLE, or polygons on
 *          request, where a mask with holes stays RLE with a warning; ids >= 1, iscrowd 0,
 *          area = pixel count, bbox = pycocotools' toBbox), plus the expressions refer-style
 *          in refs.json and refs(unc).p (a protocol-2 pickle, as RRSIS-D ships it).
 *          Annotations of one image with the same mask and category become one COCO
 *          annotation whose ref has several sentences.
 *  - refs: refs.jsonl + refs/masks/<id>.png in the format of ../shared/data.
 * Images are hard-linked (or copied) into images/ unless `no_images` is set, in which case
 * file names are paths relative to the export folder.
 */
#pragma once

#include <gio/gio.h>

#include "rm-import.h"
#include "rm-project.h"

G_BEGIN_DECLS

#define RM_EXPORT_ERROR (rm_export_error_quark ())
GQuark rm_export_error_quark (void);

typedef enum
{
  RM_EXPORT_ERROR_EXISTS,  /* the target is there (and not replaceable) */
  RM_EXPORT_ERROR_EMPTY,   /* no annotation matches */
  RM_EXPORT_ERROR_MISSING, /* an image file has vanished */
  RM_EXPORT_ERROR_FAILED,
} RmExportError;

typedef enum
{
  RM_EXPORT_PNG,
  RM_EXPORT_COCO,
  RM_EXPORT_REFS_JSONL,
} RmExportFormat;

typedef struct
{
  guint status_mask; /* (1 << RmStoreStatus) bits; 0: accepted only */
  gboolean force;    /* replace a previous export */
  gboolean polygons; /* coco: polygons instead of RLE */
  double simplify;   /* coco polygons: Douglas-Peucker tolerance in pixels (0: exact) */
  gboolean no_images;
  GCancellable *cancellable;
  RmProgressFunc progress;
  gpointer user_data;
} RmExportOptions;

typedef struct
{
  guint images, annotations, files;
  GPtrArray *warnings; /* of char * */
} RmExportReport;

void rm_export_options_init (RmExportOptions *options);
void rm_export_report_clear (RmExportReport *report);
const char *rm_export_format_to_string (RmExportFormat format);
gboolean rm_export_format_from_string (const char *name, RmExportFormat *format);

gboolean rm_export (RmProject *project, RmExportFormat format, const char *out_dir,
                    const RmExportOptions *options, RmExportReport *report, GError **error);

/* An 8-bit palette PNG (colour type 3) of `n_colors` RGB entries. */
gboolean rm_export_write_png_indexed (const char *path, guint32 width, guint32 height,
                                      const guint8 *pixels, const guint8 *palette_rgb,
                                      guint n_colors, GError **error);

G_END_DECLS
