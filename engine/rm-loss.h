/* SPDX-License-Identifier: GPL-3.0-or-later
 * The official RS2-SAM2 training loss as coded (spec §6.1) and its gradient:
 *   total = 0.9 CE + 0.1 Dice + 0.2 L_tb
 * CE: class-weighted (0.9 background, 1.1 foreground) cross-entropy over the 2-class logits
 *     [1 - z, z], weighted mean over pixels.
 * Dice: softmax over [1 - z, z], one-hot target, per (sample, class) 1 - (2 I + 1e-6) /
 *     (P + T + 1e-6), summed over the batch and both classes.
 * L_tb: text-guided boundary loss, mean((s g(z > 0) - s g(y))^2) with g the absolute finite
 *     differences (top/left padded with zeros) and s the raw text weight of each expression,
 *     broadcast (B,1,H,W) x (B,H,W) -> (B,B,H,W) as the official code does. The hard threshold
 *     makes it constant in z: its only gradient goes to s.
 */
#pragma once

#include <stdint.h>

typedef struct
{
  double ce, dice, boundary, total;
} RmLossTerms;

typedef struct
{
  float ce_weight_bg, ce_weight_fg; /* 0.9, 1.1 */
  float w_ce, w_dice, w_boundary;   /* 0.9, 0.1, 0.2 */
  float dice_smooth;                /* 1e-6 */
} RmLossParams;

RmLossParams rm_loss_default_params (void);

/* z: (B, H, W) logits; target: (B, H, W) in {0, 1}; sen: (B) text weights. When non-NULL, dz
 * (B*H*W) and dsen (B) receive d total / d z and d total / d sen. */
void rm_refseg_loss (const RmLossParams *p, const float *z, const uint8_t *target, const float *sen,
                     int batch, int height, int width, RmLossTerms *terms, float *dz, float *dsen);
