/* SPDX-License-Identifier: GPL-3.0-or-later
 * Training augmentation that keeps referring expressions true: flips rewrite the spatial words
 * they mirror ("left" <-> "right" for a horizontal flip, "top" <-> "bottom" for a vertical one),
 * and the official random black squares (RRSIS-D recipe, spec §6.3) change no geometry.
 */
#pragma once

#include "rm-image.h"

#include <stdbool.h>
#include <stdint.h>

/* A small reproducible generator (splitmix64); its state goes into training checkpoints. */
typedef struct
{
  uint64_t state;
} RmRng;

uint64_t rm_rng_next (RmRng *rng);
/* Uniform integer in [lo, hi]. */
int64_t rm_rng_range (RmRng *rng, int64_t lo, int64_t hi);
double rm_rng_uniform (RmRng *rng);

/* The expression as it reads after mirroring the image (left/right words swapped when
 * horizontal, top/bottom words when vertical). Whole words only; case kept. Caller frees. */
char *rm_expression_mirror (const char *expression, bool horizontal);
/* True when the expression names a side the flip would change. */
bool rm_expression_has_spatial_words (const char *expression, bool horizontal);

/* In place: mirror pixels left-right (horizontal) or top-bottom. */
void rm_image_mirror (RmImage *img, bool horizontal);
void rm_mask_mirror (uint8_t *mask, int width, int height, bool horizontal);
/* Pastes n (in [n_min, n_max]) black size x size squares at random places (official: 20-60
 * squares of 32 px on the original image, before resizing). */
void rm_augment_black_squares (RmImage *img, RmRng *rng, int n_min, int n_max, int size);
