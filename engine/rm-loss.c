/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-loss.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

RmLossParams
rm_loss_default_params (void)
{
  return (RmLossParams){ .ce_weight_bg = 0.9f,
                         .ce_weight_fg = 1.1f,
                         .w_ce = 0.9f,
                         .w_dice = 0.1f,
                         .w_boundary = 0.2f,
                         .dice_smooth = 1e-6f };
}

/* p1 = softmax([1 - z, z])[1] = sigmoid(2 z - 1), computed stably. */
static double
foreground_probability (float z)
{
  double a = 2.0 * (double) z - 1.0;
  return a >= 0 ? 1.0 / (1.0 + exp (-a)) : exp (a) / (1.0 + exp (a));
}

/* |v[y,x] - v[y-1,x]| + |v[y,x] - v[y,x-1]|, differences outside the image taken as 0. */
static int
boundary_at (const uint8_t *v, int width, int y, int x)
{
  int c = v[y * width + x];
  int dy = y > 0 ? abs (c - v[(y - 1) * width + x]) : 0;
  int dx = x > 0 ? abs (c - v[y * width + x - 1]) : 0;
  return dy + dx;
}

void
rm_refseg_loss (const RmLossParams *p, const float *z, const uint8_t *target, const float *sen,
                int batch, int height, int width, RmLossTerms *terms, float *dz, float *dsen)
{
  size_t hw = (size_t) height * width, n = hw * (size_t) batch;

  /* Cross-entropy: nll of the target class, weighted mean. */
  double ce_num = 0, ce_den = 0;
  for (size_t i = 0; i < n; i++)
    {
      bool fg = target[i] != 0;
      double w = fg ? p->ce_weight_fg : p->ce_weight_bg;
      /* log softmax of [1 - z, z]: -log p_y, with log sigmoid computed stably. */
      double a = 2.0 * (double) z[i] - 1.0, t = fg ? a : -a;
      double nll = t >= 0 ? log1p (exp (-t)) : -t + log1p (exp (t));
      ce_num += w * nll;
      ce_den += w;
    }
  double ce = ce_num / ce_den;

  /* Dice over both classes of every sample. */
  double dice = 0;
  double *dice_grad = dz ? calloc ((size_t) batch * 2 * 3, sizeof (double)) : NULL;
  for (int b = 0; b < batch; b++)
    for (int c = 0; c < 2; c++)
      {
        double inter = 0, psum = 0, tsum = 0;
        for (size_t i = 0; i < hw; i++)
          {
            double p1 = foreground_probability (z[b * hw + i]);
            double pc = c ? p1 : 1.0 - p1;
            double tc = c ? target[b * hw + i] != 0 : target[b * hw + i] == 0;
            inter += pc * tc, psum += pc, tsum += tc;
          }
        double num = 2 * inter + p->dice_smooth, den = psum + tsum + p->dice_smooth;
        dice += 1.0 - num / den;
        if (dice_grad)
          {
            /* d(1 - num/den)/dp_c = -(2 t den - num) / den^2 = -2t/den + num/den^2 */
            dice_grad[(b * 2 + c) * 3 + 0] = -2.0 / den;
            dice_grad[(b * 2 + c) * 3 + 1] = num / (den * den);
          }
      }

  /* Boundary loss: sum over (i, j, pixel) of (s_j (g(m_i) - g(y_i)))^2 / (B^2 H W). */
  double boundary_sq = 0; /* sum over i and pixels of (g(m_i) - g(y_i))^2 */
  uint8_t *m = malloc (hw);
  for (int b = 0; b < batch; b++)
    {
      for (size_t i = 0; i < hw; i++)
        m[i] = z[b * hw + i] > 0.0f; /* sigmoid(z) > 0.5 */
      const uint8_t *y = target + b * hw;
      uint8_t *yb = malloc (hw);
      for (size_t i = 0; i < hw; i++)
        yb[i] = y[i] != 0;
      for (int r = 0; r < height; r++)
        for (int x = 0; x < width; x++)
          {
            double d = boundary_at (m, width, r, x) - boundary_at (yb, width, r, x);
            boundary_sq += d * d;
          }
      free (yb);
    }
  free (m);
  double s2 = 0;
  for (int j = 0; j < batch; j++)
    s2 += (double) sen[j] * sen[j];
  double denom = (double) batch * batch * (double) hw;
  double boundary = s2 * boundary_sq / denom;

  terms->ce = ce;
  terms->dice = dice;
  terms->boundary = boundary;
  terms->total = p->w_ce * ce + p->w_dice * dice + p->w_boundary * boundary;

  if (dsen)
    for (int j = 0; j < batch; j++)
      dsen[j] = (float) (p->w_boundary * 2.0 * sen[j] * boundary_sq / denom);
  if (dz)
    {
      for (int b = 0; b < batch; b++)
        for (size_t i = 0; i < hw; i++)
          {
            size_t k = b * hw + i;
            bool fg = target[k] != 0;
            double p1 = foreground_probability (z[k]), p0 = 1.0 - p1;
            double w = fg ? p->ce_weight_fg : p->ce_weight_bg;
            /* d nll / d z = 2 (p1 - y) (the logits are 1 - z and z). */
            double g = p->w_ce * w * 2.0 * (p1 - (fg ? 1.0 : 0.0)) / ce_den;
            double dp1 = 2.0 * p1 * p0; /* d p1 / d z */
            const double *g1 = dice_grad + (b * 2 + 1) * 3, *g0 = dice_grad + (b * 2 + 0) * 3;
            double d_dice_dp1 = g1[0] * (fg ? 1.0 : 0.0) + g1[1];
            double d_dice_dp0 = g0[0] * (fg ? 0.0 : 1.0) + g0[1];
            g += p->w_dice * (d_dice_dp1 - d_dice_dp0) * dp1;
            dz[k] = (float) g;
          }
    }
  free (dice_grad);
}
