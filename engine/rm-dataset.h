/* SPDX-License-Identifier: GPL-3.0-or-later
 * Referring-segmentation samples from a refs.jsonl file (the format of ../shared/data): one JSON
 * object a line with at least "image", "mask" (paths relative to the file), "expression", and
 * optionally "id" and "split".
 */
#pragma once

#include "rm-image.h"

#include <glib.h>

typedef struct
{
  char *id;
  char *image_path; /* resolved */
  char *mask_path;  /* resolved */
  char *expression;
  char *split; /* may be NULL */
} RmSample;

typedef struct
{
  GPtrArray *samples; /* RmSample* */
} RmDataset;

/* split NULL: every sample. A malformed line is an error naming the line. */
RmDataset *rm_dataset_load_refs (const char *path, const char *split, GError **error);
void rm_dataset_free (RmDataset *ds);
/* The mask as 0/1 bytes at its own size (first channel; 0/255 and 0/1 masks both work). */
uint8_t *rm_sample_load_mask (const RmSample *s, int *width, int *height, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmDataset, rm_dataset_free)
