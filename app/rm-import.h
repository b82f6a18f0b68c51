/* SPDX-License-Identifier: GPL-3.0-or-later
 * Dataset import into a project. One import is one transaction: a bad file imports nothing
 * and the error says which file, which line or record, and why.
 *
 * Formats:
 *  - images:   a folder, recursively; the image types stb_image decodes (JPEG, PNG, BMP,
 *              TGA, GIF, PNM); duplicates (same SHA-256) are stored once.
 *  - refs:     refs.jsonl as in ../shared/data (one sample a line: image, mask PNG,
 *              expression, class, split, ...); paths relative to the file.
 *  - coco:     COCO instances JSON: polygons, RLE (compressed or not, or a list of RLEs as
 *              RRSIS-D writes them), iscrowd; expressions from a refer-style refs file when
 *              given (refs.json or refs(unc).p), else the category name.
 *  - refsegrs: images/, masks/, output_phrase_{train,val,test}.txt ("<id> <expression>").
 *  - rrsisd:   instances.json + refs(unc).p (in the folder or its rrsisd/), images in
 *              images/rrsisd/JPEGImages/ (or JPEGImages/, images/).
 * Image sizes are read from the file headers; masks are decoded with a threshold of 128
 * (or 1 for 0/1 masks) and must have their image's size.
 */
#pragma once

#include <gio/gio.h>

#include "rm-project.h"

G_BEGIN_DECLS

#define RM_IMPORT_ERROR (rm_import_error_quark ())
GQuark rm_import_error_quark (void);

typedef enum
{
  RM_IMPORT_ERROR_FORMAT,      /* malformed or inconsistent content */
  RM_IMPORT_ERROR_MISSING,     /* a file it names is not there */
  RM_IMPORT_ERROR_MISMATCH,    /* a mask or declared size differs from the image */
  RM_IMPORT_ERROR_DUPLICATE,   /* the same id twice */
  RM_IMPORT_ERROR_UNSUPPORTED, /* e.g. a TIFF image, or an unknown layout */
} RmImportError;

typedef enum
{
  RM_IMPORT_AUTO,
  RM_IMPORT_IMAGES,
  RM_IMPORT_REFS_JSONL,
  RM_IMPORT_COCO,
  RM_IMPORT_REFSEGRS,
  RM_IMPORT_RRSISD,
} RmImportFormat;

typedef void (*RmProgressFunc) (guint done, guint total, gpointer user_data);

typedef struct
{
  RmStoreStatus status;   /* given to imported annotations (default: accepted) */
  const char *images_dir; /* coco: where file_name is found (default: next to the JSON,
                             then its images/ folder) */
  const char *refs_path;  /* coco: refer-style expressions (refs.json or a pickle) */
  GCancellable *cancellable;
  RmProgressFunc progress;
  gpointer user_data;
} RmImportOptions;

typedef struct
{
  guint images_added, images_existing;
  guint annotations_added, annotations_skipped; /* skipped: already in the project */
  guint categories;
  GPtrArray *warnings; /* of char * */
} RmImportReport;

void rm_import_options_init (RmImportOptions *options);
void rm_import_report_clear (RmImportReport *report);

const char *rm_import_format_to_string (RmImportFormat format);
gboolean rm_import_format_from_string (const char *name, RmImportFormat *format);
/* Which format a file or folder holds. */
RmImportFormat rm_import_detect (const char *path, GError **error);

gboolean rm_import (RmProject *project, RmImportFormat format, const char *path,
                    const RmImportOptions *options, RmImportReport *report, GError **error);

/* Shared with export: a mask PNG of the given size as an RLE (threshold as above). */
RmRle *rm_import_load_mask (const char *path, guint32 width, guint32 height, GError **error);

/* Shared with export. The index of `name` in `names` (case-insensitive; "refs.jsonl" and
 * "jsonl" mean "refs"), or -1. */
int rm_format_index (const char *const *names, guint n_names, const char *name);
/* Appends a formatted warning, creating the array on first use. */
void rm_warnings_add (GPtrArray **warnings, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Reports progress, then FALSE with G_IO_ERROR_CANCELLED when cancelled. */
gboolean rm_progress_step (RmProgressFunc progress, gpointer user_data, guint done, guint total,
                           GCancellable *cancellable, GError **error);

G_END_DECLS
