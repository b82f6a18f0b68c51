/* SPDX-License-Identifier: GPL-3.0-or-later
 * COCO run-length encoding, bit-exact with pycocotools (common/maskApi.c).
 *
 * A mask of h rows and w columns is read in column-major order (down the first column,
 * then the next); the runs alternate 0 and 1 and always start with a run of zeros (of
 * length 0 when the first pixel is set). The compressed string form is pycocotools'
 * LEB128-like code: 5 bits per character offset by 48 ('0'), a continuation bit 0x20,
 * sign extension from bit 0x10, and from the fourth run on each count is stored as the
 * difference to the count two runs earlier.
 *
 * Masks handed to and from this module are row-major bytes (the image layout); zero is
 * background and anything else foreground. Counts are 32-bit as in pycocotools, so
 * h * w must fit in 32 bits.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RM_RLE_ERROR (rm_rle_error_quark ())
GQuark rm_rle_error_quark (void);

typedef enum
{
  RM_RLE_ERROR_INVALID, /* malformed string or counts */
  RM_RLE_ERROR_SIZE,    /* sizes disagree or are too large */
} RmRleError;

typedef struct
{
  guint32 h, w;  /* COCO "size" is [h, w] */
  gsize m;       /* number of runs */
  guint32 *cnts; /* run lengths, column-major, zeros first */
} RmRle;

/* Takes a copy of `cnts` as they are (like pycocotools' rleInit); no validation. */
RmRle *rm_rle_new (guint32 h, guint32 w, const guint32 *cnts, gsize m);
RmRle *rm_rle_copy (const RmRle *rle);
void rm_rle_free (RmRle *rle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmRle, rm_rle_free)

/* Checks that h * w fits in 32 bits and that the counts add up to h * w exactly. */
gboolean rm_rle_validate (const RmRle *rle, GError **error);

/* Encodes a row-major mask (`stride` bytes per row; nonzero = foreground). */
RmRle *rm_rle_encode (const guint8 *mask, guint32 h, guint32 w, gsize stride);

/* Decodes into a row-major buffer of h rows of `stride` bytes: 0 or `on`. The RLE must be
 * valid (see rm_rle_validate). */
void rm_rle_decode (const RmRle *rle, guint8 *mask, gsize stride, guint8 on);

/* The compressed COCO string (rleToString). */
gchar *rm_rle_to_string (const RmRle *rle);

/* Parses a compressed string (rleFrString) and validates the result. Zero-length runs inside
 * the sequence (which pycocotools never writes) are folded away, so area and bbox are sound. */
RmRle *rm_rle_from_string (const char *counts, guint32 h, guint32 w, GError **error);
/* The same for `len` bytes that need not end with a NUL (a blob; NULL when `len` is 0); a NUL
 * inside them is an invalid character. */
RmRle *rm_rle_from_string_len (const char *counts, gsize len, guint32 h, guint32 w, GError **error);
/* The same for the bytes of `counts`. */
RmRle *rm_rle_from_bytes (GBytes *counts, guint32 h, guint32 w, GError **error);

/* Uncompressed COCO counts (a JSON list) with validation; folded like rm_rle_from_string. */
RmRle *rm_rle_from_counts (guint32 h, guint32 w, const guint32 *cnts, gsize m, GError **error);

/* Pixel count (rleArea; 64-bit here, equal to pycocotools whenever that does not wrap). */
guint64 rm_rle_area (const RmRle *rle);

/* toBbox: x, y, width, height exactly as pycocotools computes them (all 0 for an empty mask). */
void rm_rle_to_bbox (const RmRle *rle, double bbox[4]);

/* rleMerge: union (or intersection) of n masks of one size; n == 0 gives a 0 x 0 RLE. */
RmRle *rm_rle_merge (RmRle *const *rles, gsize n, gboolean intersect, GError **error);

/* Same mask (compares the canonical run sequence, so zero-length runs do not matter). */
gboolean rm_rle_equal (const RmRle *a, const RmRle *b);

G_END_DECLS
