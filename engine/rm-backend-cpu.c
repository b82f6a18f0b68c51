/* SPDX-License-Identifier: GPL-3.0-or-later
 * The CPU backend: OpenBLAS for the big GEMMs, our thread pool for everything else.
 *
 * Numerics follow PyTorch's CPU kernels (fp32) where the model needs them to agree: the
 * order of operations is kept, and fmaf is written out where PyTorch's AVX2/AVX-512 builds
 * (GCC, which contracts a*b+c) compute a fused multiply-add.
 */
#include "rm-backend.h"
#include "rm-backend-cpu-private.h"

/* GCC 12 at -O2 only vectorises loops whose trip count is a known multiple of the vector
 * width; nearly every loop here has a runtime length. RM_NO_CONTRACT keeps a*b+c as two
 * roundings where PyTorch computes it with two separate ops. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#define RM_NO_CONTRACT __attribute__ ((optimize ("fp-contract=off")))
#else
#define RM_NO_CONTRACT
#endif

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define RM_HAVE_AVX2 1
#else
#define RM_HAVE_AVX2 0
#endif

/* ---- expf ------------------------------------------------------------------------------- */

/* glibc's expf (the algorithm of sysdeps/ieee754/flt-32/e_expf.c, as its FMA build computes
 * it): 2^(k/32) from a table times a cubic in double. Doing it 8 lanes at a time in double
 * gives the same bits as the scalar libm call, which keeps the softmax exact and fast. */
#if RM_HAVE_AVX2
static const uint64_t rm_exp2f_tab[32] = {
  0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
  0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
  0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
  0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
  0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
  0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
  0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
  0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

static inline __m256d
rm_expd_core_avx2 (__m256d xd)
{
  const __m256d inv_ln2_n = _mm256_set1_pd (0x1.71547652b82fep+0 * 32);
  const __m256d shift = _mm256_set1_pd (0x1.8p+52);
  const __m256d c0 = _mm256_set1_pd (0x1.c6af84b912394p-5 / 32 / 32 / 32);
  const __m256d c1 = _mm256_set1_pd (0x1.ebfce50fac4f3p-3 / 32 / 32);
  const __m256d c2 = _mm256_set1_pd (0x1.62e42ff0c52d6p-1 / 32);
  const __m256d one = _mm256_set1_pd (1.0);

  __m256d z = _mm256_mul_pd (inv_ln2_n, xd);
  __m256d kd = _mm256_add_pd (z, shift);
  __m256i ki = _mm256_castpd_si256 (kd);
  kd = _mm256_sub_pd (kd, shift);
  __m256d r = _mm256_sub_pd (z, kd);
  __m256i idx = _mm256_and_si256 (ki, _mm256_set1_epi64x (31));
  __m256i t = _mm256_i64gather_epi64 ((const long long *) rm_exp2f_tab, idx, 8);
  t = _mm256_add_epi64 (t, _mm256_slli_epi64 (ki, 47));
  __m256d s = _mm256_castsi256_pd (t);
  __m256d zz = _mm256_fmadd_pd (c0, r, c1);
  __m256d r2 = _mm256_mul_pd (r, r);
  __m256d y = _mm256_fmadd_pd (c2, r, one);
  y = _mm256_fmadd_pd (zz, r2, y);
  return _mm256_mul_pd (y, s);
}

static inline __m256
rm_expf_avx2 (__m256 x)
{
  /* Clamping reproduces libm's ends: below -104 the result rounds to +0 (also for -inf, the
   * masked scores), above 89 it overflows to +inf. NaN is not expected here. */
  x = _mm256_max_ps (x, _mm256_set1_ps (-104.0f));
  x = _mm256_min_ps (x, _mm256_set1_ps (89.0f));
  __m256d lo = rm_expd_core_avx2 (_mm256_cvtps_pd (_mm256_castps256_ps128 (x)));
  __m256d hi = rm_expd_core_avx2 (_mm256_cvtps_pd (_mm256_extractf128_ps (x, 1)));
  return _mm256_insertf128_ps (_mm256_castps128_ps256 (_mm256_cvtpd_ps (lo)), _mm256_cvtpd_ps (hi),
                               1);
}
#endif

void
rm_cpu_expf (float *dst, const float *x, int64_t n)
{
  int64_t i = 0;
#if RM_HAVE_AVX2
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps (dst + i, rm_expf_avx2 (_mm256_loadu_ps (x + i)));
#endif
  for (; i < n; i++)
    dst[i] = expf (x[i]);
}

/* ---- erf -------------------------------------------------------------------------------- */

/* glibc's vector erff (libmvec, linked through libm's AS_NEEDED): within 2 ulp of erff and
 * 1.4e-7 of the true erf, six times faster. PyTorch's own GELU uses a cruder polynomial, so
 * neither matches it bit for bit. */
#if RM_HAVE_AVX2 && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define RM_HAVE_VERFF 1
__m256 _ZGVdN8v_erff (__m256 x);
#else
#define RM_HAVE_VERFF 0
#endif

/* 0.5 x (1 + erf(x / sqrt 2)), PyTorch's exact GELU. */
static void
rm_gelu_row (float *restrict dst, const float *restrict x, int64_t n)
{
  int64_t i = 0;
#if RM_HAVE_VERFF
  const __m256 c = _mm256_set1_ps ((float) M_SQRT1_2), half = _mm256_set1_ps (0.5f);
  const __m256 one = _mm256_set1_ps (1.0f);
  for (; i + 8 <= n; i += 8)
    {
      __m256 v = _mm256_loadu_ps (x + i);
      __m256 e = _ZGVdN8v_erff (_mm256_mul_ps (v, c));
      _mm256_storeu_ps (dst + i, _mm256_mul_ps (_mm256_mul_ps (v, half), _mm256_add_ps (one, e)));
    }
#endif
  for (; i < n; i++)
    dst[i] = x[i] * 0.5f * (1.0f + erff (x[i] * (float) M_SQRT1_2));
}

/* ---- fill, copies, gathers -------------------------------------------------------------- */

typedef struct
{
  float *dst;
  float value;
} RmFillArgs;

static void
rm_fill_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmFillArgs *a = p;
  for (int64_t i = begin; i < end; i++)
    a->dst[i] = a->value;
}

static void
rm_cpu_fill (RmThreadPool *pool, float *dst, int64_t n, float value)
{
  RmFillArgs a = { dst, value };
  rm_parallel_for_grain (pool, n, 4 * RM_GRAIN, rm_fill_range, &a);
}

/* A strided copy with its dims collapsed. In transpose mode (tdim >= 0) the source is
 * contiguous along dim tdim but not along the last dim: the copy then goes in square tiles
 * so that both sides are read and written a cache line at a time. */
#define RM_TILE 32

typedef struct
{
  int ndim;
  int64_t shape[RM_MAX_DIMS];
  int64_t ds[RM_MAX_DIMS];
  int64_t ss[RM_MAX_DIMS];
  int tdim;
  int64_t n_tblocks;
  float *dst;
  const float *src;
} RmCopyArgs;

/* Offsets of outer item `row`: all dims but the last (and but tdim, in transpose mode). */
static void
rm_copy_offsets (const RmCopyArgs *a, int64_t row, int64_t *doff, int64_t *soff)
{
  int64_t d = 0, s = 0;
  for (int i = a->ndim - 2; i >= 0; i--)
    {
      if (i == a->tdim)
        continue;
      int64_t idx = row % a->shape[i];
      row /= a->shape[i];
      d += idx * a->ds[i];
      s += idx * a->ss[i];
    }
  *doff = d;
  *soff = s;
}

static void
rm_copy_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmCopyArgs *a = p;
  int last = a->ndim - 1;
  int64_t n = a->shape[last], dsl = a->ds[last], ssl = a->ss[last];

  for (int64_t row = begin; row < end; row++)
    {
      int64_t doff, soff;
      if (a->tdim < 0)
        {
          rm_copy_offsets (a, row, &doff, &soff);
          float *d = a->dst + doff;
          const float *s = a->src + soff;
          if (dsl == 1 && ssl == 1)
            memcpy (d, s, (size_t) n * sizeof *d);
          else
            for (int64_t j = 0; j < n; j++)
              d[j * dsl] = s[j * ssl];
          continue;
        }
      /* Transpose mode: row = (outer item, block of tdim). */
      int64_t tb = row % a->n_tblocks;
      rm_copy_offsets (a, row / a->n_tblocks, &doff, &soff);
      int64_t t0 = tb * RM_TILE, t1 = rm_min64 (t0 + RM_TILE, a->shape[a->tdim]);
      int64_t dst_t = a->ds[a->tdim];
      for (int64_t j0 = 0; j0 < n; j0 += RM_TILE)
        {
          int64_t j1 = rm_min64 (j0 + RM_TILE, n);
          for (int64_t t = t0; t < t1; t++)
            {
              float *d = a->dst + doff + t * dst_t;
              const float *s = a->src + soff + t;
              for (int64_t j = j0; j < j1; j++)
                d[j * dsl] = s[j * ssl];
            }
        }
    }
}

static void
rm_cpu_copy_strided (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                     const int64_t *dst_stride, const float *src, const int64_t *src_stride)
{
  RmCopyArgs a = { .dst = dst, .src = src, .tdim = -1, .n_tblocks = 1 };

  /* Drop size-1 dims and merge dims that are contiguous with the next one on both sides. */
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] == 0)
        return;
      if (shape[i] == 1)
        continue;
      int k = a.ndim;
      if (k > 0 && a.ds[k - 1] == dst_stride[i] * shape[i] &&
          a.ss[k - 1] == src_stride[i] * shape[i])
        {
          a.shape[k - 1] *= shape[i];
          a.ds[k - 1] = dst_stride[i];
          a.ss[k - 1] = src_stride[i];
          continue;
        }
      a.shape[k] = shape[i];
      a.ds[k] = dst_stride[i];
      a.ss[k] = src_stride[i];
      a.ndim++;
    }
  if (a.ndim == 0)
    {
      a.ndim = 1;
      a.shape[0] = 1;
      a.ds[0] = a.ss[0] = 1;
    }

  int last = a.ndim - 1;
  int64_t rows = 1;
  for (int i = 0; i < last; i++)
    rows *= a.shape[i];
  if (a.ss[last] != 1 && a.shape[last] >= RM_TILE)
    for (int i = last - 1; i >= 0; i--)
      if (a.ss[i] == 1 && a.shape[i] >= RM_TILE)
        {
          a.tdim = i;
          a.n_tblocks = (a.shape[i] + RM_TILE - 1) / RM_TILE;
          rows = rows / a.shape[i] * a.n_tblocks;
          break;
        }
  int64_t per_row = a.tdim >= 0 ? RM_TILE * a.shape[last] : a.shape[last];
  rm_parallel_for_grain (pool, rows, rm_row_grain (per_row), rm_copy_range, &a);
}

typedef struct
{
  float *dst;
  const float *table;
  int64_t dim;
  const int64_t *ids;
} RmGatherArgs;

static void
rm_gather_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmGatherArgs *a = p;
  for (int64_t i = begin; i < end; i++)
    memcpy (a->dst + i * a->dim, a->table + a->ids[i] * a->dim, (size_t) a->dim * sizeof (float));
}

static void
rm_cpu_gather_rows (RmThreadPool *pool, float *dst, const float *table, int64_t dim,
                    const int64_t *ids, int64_t n)
{
  RmGatherArgs a = { dst, table, dim, ids };
  rm_parallel_for_grain (pool, n, rm_row_grain (dim), rm_gather_range, &a);
}

/* ---- element-wise ----------------------------------------------------------------------- */

typedef struct
{
  RmBinaryOp op;
  float *dst;
  const float *a;
  const float *b;
  int ndim;
  const int64_t *shape;
  const int64_t *b_stride;
} RmBinaryArgs;

static void
rm_binary_row (RmBinaryOp op, float *restrict d, const float *restrict x, const float *restrict y,
               int64_t n, bool y_scalar)
{
  /* Separate loops per case so that each vectorises. */
  if (y_scalar)
    {
      float s = y[0];
      switch (op)
        {
        case RM_BINARY_ADD:
          for (int64_t i = 0; i < n; i++)
            d[i] = x[i] + s;
          break;
        case RM_BINARY_SUB:
          for (int64_t i = 0; i < n; i++)
            d[i] = x[i] - s;
          break;
        case RM_BINARY_MUL:
          for (int64_t i = 0; i < n; i++)
            d[i] = x[i] * s;
          break;
        }
      return;
    }
  switch (op)
    {
    case RM_BINARY_ADD:
      for (int64_t i = 0; i < n; i++)
        d[i] = x[i] + y[i];
      break;
    case RM_BINARY_SUB:
      for (int64_t i = 0; i < n; i++)
        d[i] = x[i] - y[i];
      break;
    case RM_BINARY_MUL:
      for (int64_t i = 0; i < n; i++)
        d[i] = x[i] * y[i];
      break;
    }
}

static void
rm_binary_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmBinaryArgs *a = p;
  int last = a->ndim - 1;
  int64_t n = a->shape[last];
  for (int64_t row = begin; row < end; row++)
    {
      int64_t boff = 0, r = row;
      for (int i = last - 1; i >= 0; i--)
        {
          boff += (r % a->shape[i]) * a->b_stride[i];
          r /= a->shape[i];
        }
      rm_binary_row (a->op, a->dst + row * n, a->a + row * n, a->b + boff, n,
                     a->b_stride[last] == 0);
    }
}

static void
rm_cpu_binary (RmThreadPool *pool, RmBinaryOp op, float *dst, const float *a, const float *b,
               int ndim, const int64_t *shape, const int64_t *b_stride)
{
  RmBinaryArgs args = { op, dst, a, b, ndim, shape, b_stride };
  int64_t rows = 1;
  for (int i = 0; i < ndim - 1; i++)
    rows *= shape[i];
  rm_parallel_for_grain (pool, rows, rm_row_grain (shape[ndim - 1]), rm_binary_range, &args);
}

typedef struct
{
  float *dst;
  float alpha, beta;
  const float *a, *b;
} RmAxpbyArgs;

/* The model's (1-a) T + a out: two products and a sum, each rounded, as in PyTorch. */
RM_NO_CONTRACT static void
rm_axpby_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmAxpbyArgs *a = p;
  float *restrict d = a->dst;
  const float *restrict x = a->a;
  const float *restrict y = a->b;
  for (int64_t i = begin; i < end; i++)
    d[i] = a->alpha * x[i] + a->beta * y[i];
}

static void
rm_cpu_axpby (RmThreadPool *pool, float *dst, float alpha, const float *a, float beta,
              const float *b, int64_t n)
{
  RmAxpbyArgs args = { dst, alpha, beta, a, b };
  rm_parallel_for_grain (pool, n, RM_GRAIN, rm_axpby_range, &args);
}

typedef struct
{
  RmUnaryOp op;
  float *dst;
  const float *x;
  float s;
} RmUnaryArgs;

static void
rm_unary_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmUnaryArgs *a = p;
  float *restrict d = a->dst + begin;
  const float *restrict x = a->x + begin;
  const float s = a->s;
  int64_t n = end - begin;

  switch (a->op)
    {
    case RM_UNARY_SCALE:
      for (int64_t i = 0; i < n; i++)
        d[i] = s * x[i];
      break;
    case RM_UNARY_RSUB:
      for (int64_t i = 0; i < n; i++)
        d[i] = s - x[i];
      break;
    case RM_UNARY_RELU:
      /* Like torch, NaN stays NaN. */
      for (int64_t i = 0; i < n; i++)
        d[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case RM_UNARY_GELU:
      rm_gelu_row (d, x, n);
      break;
    case RM_UNARY_SIGMOID:
      {
        /* 1 / (1 + exp(-x)), exp vectorised in blocks. */
        float e[256];
        for (int64_t i0 = 0; i0 < n; i0 += 256)
          {
            int64_t m = rm_min64 (256, n - i0);
            for (int64_t i = 0; i < m; i++)
              e[i] = -x[i0 + i];
            rm_cpu_expf (e, e, m);
            for (int64_t i = 0; i < m; i++)
              d[i0 + i] = 1.0f / (1.0f + e[i]);
          }
        break;
      }
    }
}

static void
rm_cpu_unary (RmThreadPool *pool, RmUnaryOp op, float *dst, const float *x, int64_t n, float s)
{
  RmUnaryArgs a = { op, dst, x, s };
  /* GELU costs an erff per element: worth threading much earlier. */
  int64_t grain = op == RM_UNARY_GELU ? RM_GRAIN / 8 : RM_GRAIN;
  rm_parallel_for_grain (pool, n, grain, rm_unary_range, &a);
}

/* ---- layer norms ------------------------------------------------------------------------ */

/* Sums in double: the mean and variance are then the float roundings of nearly exact
 * values, whatever the order. */
static double
rm_sum_f64 (const float *x, int64_t n)
{
  int64_t i = 0;
  double s = 0.0;
#if RM_HAVE_AVX2
  __m256d acc[4] = { _mm256_setzero_pd (), _mm256_setzero_pd (), _mm256_setzero_pd (),
                     _mm256_setzero_pd () };
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; k++)
      acc[k] = _mm256_add_pd (acc[k], _mm256_cvtps_pd (_mm_loadu_ps (x + i + 4 * k)));
  __m256d t = _mm256_add_pd (_mm256_add_pd (acc[0], acc[1]), _mm256_add_pd (acc[2], acc[3]));
  double lanes[4];
  _mm256_storeu_pd (lanes, t);
  s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; i < n; i++)
    s += x[i];
  return s;
}

/* Sum of (x - mean)^2, the difference taken in float as torch does. */
static double
rm_sum_sq_dev_f64 (const float *x, int64_t n, float mean)
{
  int64_t i = 0;
  double s = 0.0;
#if RM_HAVE_AVX2
  const __m128 m = _mm_set1_ps (mean);
  __m256d acc[4] = { _mm256_setzero_pd (), _mm256_setzero_pd (), _mm256_setzero_pd (),
                     _mm256_setzero_pd () };
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; k++)
      {
        __m256d d = _mm256_cvtps_pd (_mm_sub_ps (_mm_loadu_ps (x + i + 4 * k), m));
        acc[k] = _mm256_fmadd_pd (d, d, acc[k]);
      }
  __m256d t = _mm256_add_pd (_mm256_add_pd (acc[0], acc[1]), _mm256_add_pd (acc[2], acc[3]));
  double lanes[4];
  _mm256_storeu_pd (lanes, t);
  s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; i < n; i++)
    {
      double d = x[i] - mean;
      s += d * d;
    }
  return s;
}

typedef struct
{
  float *dst;
  const float *x, *w, *b;
  int64_t dim; /* layernorm: row length; layernorm_nchw: channels */
  int64_t pixels;
  float eps;
} RmNormArgs;

static void
rm_layernorm_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmNormArgs *a = p;
  const int64_t n = a->dim;
  for (int64_t r = begin; r < end; r++)
    {
      const float *restrict x = a->x + r * n;
      float *restrict y = a->dst + r * n;
      const float mean = (float) (rm_sum_f64 (x, n) / (double) n);
      const float var = (float) (rm_sum_sq_dev_f64 (x, n, mean) / (double) n);
      /* torch's LayerNorm kernel: y = (x * rstd + (-rstd * mean)) * w + b, both fused
       * (bit-identical to it far more often than (x - mean) / std * w + b). */
      const float rstd = 1.0f / sqrtf (var + a->eps), shift = -rstd * mean;
      const float *restrict w = a->w, *restrict b = a->b;
      for (int64_t i = 0; i < n; i++)
        y[i] = fmaf (fmaf (x[i], rstd, shift), w[i], b[i]);
    }
}

static void
rm_cpu_layernorm (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                  int64_t rows, int64_t dim, float eps)
{
  RmNormArgs a = { dst, x, w, b, dim, 1, eps };
  rm_parallel_for_grain (pool, rows, rm_row_grain (dim), rm_layernorm_range, &a);
}

/* NCHW (SAM's LayerNorm2d, written with separate torch ops: (x - u) / sqrt(s + eps), then
 * w * x + b, every step rounded). The statistics run down the channels; a block of pixels
 * at a time keeps every inner loop contiguous (and vectorised) along the pixels. */
#define RM_LN_PIX 64

RM_NO_CONTRACT static void
rm_layernorm_nchw_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmNormArgs *a = p;
  const int64_t c_n = a->dim, hw = a->pixels;
  const int64_t n_blocks = (hw + RM_LN_PIX - 1) / RM_LN_PIX;
  double acc[RM_LN_PIX];
  float mean[RM_LN_PIX], denom[RM_LN_PIX];

  for (int64_t item = begin; item < end; item++)
    {
      int64_t bi = item / n_blocks, p0 = (item % n_blocks) * RM_LN_PIX;
      int64_t np = rm_min64 (RM_LN_PIX, hw - p0);
      const float *x = a->x + bi * c_n * hw + p0;
      float *y = a->dst + bi * c_n * hw + p0;

      for (int64_t j = 0; j < np; j++)
        acc[j] = 0.0;
      for (int64_t c = 0; c < c_n; c++)
        for (int64_t j = 0; j < np; j++)
          acc[j] += x[c * hw + j];
      for (int64_t j = 0; j < np; j++)
        {
          mean[j] = (float) (acc[j] / (double) c_n);
          acc[j] = 0.0;
        }
      for (int64_t c = 0; c < c_n; c++)
        for (int64_t j = 0; j < np; j++)
          {
            double d = x[c * hw + j] - mean[j];
            acc[j] += d * d;
          }
      for (int64_t j = 0; j < np; j++)
        denom[j] = sqrtf ((float) (acc[j] / (double) c_n) + a->eps);
      for (int64_t c = 0; c < c_n; c++)
        {
          const float wc = a->w[c], bc = a->b[c];
          for (int64_t j = 0; j < np; j++)
            y[c * hw + j] = (x[c * hw + j] - mean[j]) / denom[j] * wc + bc;
        }
    }
}

static void
rm_cpu_layernorm_nchw (RmThreadPool *pool, float *dst, const float *x, const float *w,
                       const float *b, int64_t batch, int64_t channels, int64_t pixels, float eps)
{
  RmNormArgs a = { dst, x, w, b, channels, pixels, eps };
  int64_t items = batch * ((pixels + RM_LN_PIX - 1) / RM_LN_PIX);
  rm_parallel_for_grain (pool, items, rm_row_grain (channels * RM_LN_PIX), rm_layernorm_nchw_range,
                         &a);
}

/* ---- GEMMs ------------------------------------------------------------------------------ */

/* dst (rows, n) += bias along rows (per_row = false: bias[j] on column j) or down them
 * (per_row = true: bias[i % n_bias] on row i). */
typedef struct
{
  float *dst;
  const float *bias;
  int64_t n;
  int64_t n_bias;
  bool per_row;
} RmBiasArgs;

static void
rm_bias_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmBiasArgs *a = p;
  for (int64_t r = begin; r < end; r++)
    {
      float *restrict y = a->dst + r * a->n;
      if (a->per_row)
        {
          const float bv = a->bias[r % a->n_bias];
          for (int64_t j = 0; j < a->n; j++)
            y[j] += bv;
        }
      else
        {
          const float *restrict bv = a->bias;
          for (int64_t j = 0; j < a->n; j++)
            y[j] += bv[j];
        }
    }
}

static void
rm_add_bias (RmThreadPool *pool, float *dst, const float *bias, int64_t rows, int64_t n,
             int64_t n_bias, bool per_row)
{
  RmBiasArgs a = { dst, bias, n, n_bias, per_row };
  rm_parallel_for_grain (pool, rows, rm_row_grain (n), rm_bias_range, &a);
}

/* cblas takes int sizes. */
static int
rm_blas_int (int64_t v)
{
  RM_CHECK (v >= 0 && v <= INT32_MAX, "GEMM size %lld too large for BLAS", (long long) v);
  return (int) v;
}

/* GEMMs run on our own pool: each worker calls single-threaded OpenBLAS on a band of rows (or of
 * columns when there are few rows). OpenBLAS's own threads would spin-wait between calls and
 * fight the pool's threads for the cores (spec §11: 2x slower on two cores).
 *
 * The bands depend on the shape only, never on the number of threads: OpenBLAS rounds an element
 * differently depending on the size of the call it is in (its edge kernels and blockings differ,
 * e.g. with the Haswell and Zen kernels), so bands cut per thread would change the result's bits
 * with the thread count. A band is long enough that the operand OpenBLAS packs again in every call
 * (B for a band of rows, A for a band of columns) costs little next to the band's product:
 * B is a weight matrix, often large, so row bands are long; column bands are cut only when there
 * are few rows, so A is small. */
#define RM_GEMM_TARGET_BANDS 8
#define RM_GEMM_MIN_ROWS     256
#define RM_GEMM_MIN_COLS     64

static void
rm_gemm_bands_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmCpuGemm *g = p;
  const bool split_rows = g->band_rows > 0;
  const int64_t band = split_rows ? g->band_rows : g->band_cols;
  for (int64_t part = begin; part < end; part++)
    {
      const int64_t lo = part * band;
      const int64_t cnt = rm_min64 (band, (split_rows ? g->m : g->n) - lo);
      const float *a = g->a, *b = g->b, *bias = g->bias;
      float *c = g->c;
      int64_t m = g->m, n = g->n;
      if (split_rows)
        {
          a += g->trans_a ? lo : lo * g->lda;
          c += lo * g->ldc;
          m = cnt;
        }
      else
        {
          b += g->trans_b ? lo * g->ldb : lo;
          c += lo;
          bias = bias != NULL ? bias + lo : NULL;
          n = cnt;
        }
      cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                   g->trans_b ? CblasTrans : CblasNoTrans, rm_blas_int (m), rm_blas_int (n),
                   rm_blas_int (g->k), g->alpha, a, rm_blas_int (g->lda), b, rm_blas_int (g->ldb),
                   g->beta, c, rm_blas_int (g->ldc));
      if (bias != NULL)
        for (int64_t i = 0; i < m; i++)
          {
            float *row = c + i * g->ldc;
            for (int64_t j = 0; j < n; j++)
              row[j] += bias[j];
          }
    }
}

/* The band length for @total rows or columns: about RM_GEMM_TARGET_BANDS bands of at least
 * @min_band, in multiples of 16; 0 when @total is too short to cut. */
static int64_t
rm_gemm_band (int64_t total, int64_t min_band)
{
  if (total < 2 * min_band)
    return 0;
  const int64_t band =
      rm_max64 ((total + RM_GEMM_TARGET_BANDS - 1) / RM_GEMM_TARGET_BANDS, min_band);
  return (band + 15) / 16 * 16;
}

void
rm_cpu_gemm_bands (RmThreadPool *pool, RmCpuGemm *g)
{
  if (g->m == 0 || g->n == 0)
    return;
  RM_CHECK (g->k > 0, "GEMM with an empty inner dimension");
  g->band_rows = rm_gemm_band (g->m, RM_GEMM_MIN_ROWS);
  g->band_cols = g->band_rows > 0 ? 0 : rm_gemm_band (g->n, RM_GEMM_MIN_COLS);
  if (g->band_rows == 0 && g->band_cols == 0)
    g->band_rows = g->m; /* one call */
  const int64_t parts = g->band_rows > 0 ? (g->m + g->band_rows - 1) / g->band_rows
                                         : (g->n + g->band_cols - 1) / g->band_cols;
  rm_parallel_for_grain (pool, parts, 1, rm_gemm_bands_range, g);
}

/* C (m, n) = op(A) op(B) (+ bias per column), row-major, on the pool. */
static void
rm_par_sgemm (RmThreadPool *pool, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n,
              int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
              int64_t ldc, const float *bias)
{
  RmCpuGemm g = {
    ta == CblasTrans, tb == CblasTrans, m, n, k, lda, ldb, ldc, 1.0f, 0.0f, a, b, bias, c
  };
  rm_cpu_gemm_bands (pool, &g);
}

static void
rm_cpu_linear (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
               int64_t m, int64_t n_in, int64_t n_out)
{
  if (m == 0 || n_out == 0)
    return;
  if (n_in == 0)
    {
      memset (dst, 0, (size_t) (m * n_out) * sizeof *dst);
      if (b != NULL)
        rm_add_bias (pool, dst, b, m, n_out, n_out, false);
      return;
    }
  rm_par_sgemm (pool, CblasNoTrans, CblasTrans, m, n_out, n_in, x, n_in, w, n_in, dst, n_out, b);
}

static void
rm_cpu_matmul (RmThreadPool *pool, float *dst, const float *a, const float *b, int64_t batch,
               int64_t m, int64_t n, int64_t k, bool trans_b)
{
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      memset (dst, 0, (size_t) (batch * m * n) * sizeof *dst);
      return;
    }
  for (int64_t i = 0; i < batch; i++)
    rm_par_sgemm (pool, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, a + i * m * k,
                  k, b + i * k * n, trans_b ? k : n, dst + i * m * n, n, NULL);
}

/* ---- small tile GEMM for attention ------------------------------------------------------ */

/* C (m, n) = or += A (m, k) B (k, n). A is read at any strides (element (i, p) at
 * a[i*rsa + p*csa]), B and C by rows. Attention multiplies blocks of at most 256 x 256 on
 * many threads at once: calling OpenBLAS there would nest its threads inside ours. */
#if RM_HAVE_AVX2
static inline __m256i
rm_tail_mask (int64_t n)
{
  const __m256i lanes = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) n), lanes);
}

/* An MR x (8*NV) block of C in registers; the last 8 columns masked when `masked`. */
static inline __attribute__ ((always_inline)) void
rm_ukernel (const int mr, const int nv, const bool masked, int64_t k, const float *a, int64_t rsa,
            int64_t csa, const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate,
            __m256i mask)
{
  __m256 acc[6][2];
#pragma GCC unroll 6
  for (int r = 0; r < mr; r++)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps ();
  for (int64_t p = 0; p < k; p++)
    {
      const float *bp = b + p * ldb;
      const float *ap = a + p * csa;
      __m256 b0, b1 = _mm256_setzero_ps ();
      if (nv == 1)
        b0 = masked ? _mm256_maskload_ps (bp, mask) : _mm256_loadu_ps (bp);
      else
        {
          b0 = _mm256_loadu_ps (bp);
          b1 = masked ? _mm256_maskload_ps (bp + 8, mask) : _mm256_loadu_ps (bp + 8);
        }
#pragma GCC unroll 6
      for (int r = 0; r < mr; r++)
        {
          __m256 av = _mm256_broadcast_ss (ap + r * rsa);
          acc[r][0] = _mm256_fmadd_ps (av, b0, acc[r][0]);
          if (nv == 2)
            acc[r][1] = _mm256_fmadd_ps (av, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
  for (int r = 0; r < mr; r++)
    {
      float *cr = c + r * ldc;
      for (int v = 0; v < nv; v++)
        {
          bool last_masked = masked && v == nv - 1;
          __m256 val = acc[r][v];
          if (accumulate)
            val = _mm256_add_ps (val, last_masked ? _mm256_maskload_ps (cr + 8 * v, mask)
                                                  : _mm256_loadu_ps (cr + 8 * v));
          if (last_masked)
            _mm256_maskstore_ps (cr + 8 * v, mask, val);
          else
            _mm256_storeu_ps (cr + 8 * v, val);
        }
    }
}

#define RM_UKERNEL_CASE(MR)                                                            \
  case MR:                                                                             \
    if (nv == 1 && !masked)                                                            \
      rm_ukernel (MR, 1, false, k, ai, rsa, csa, bj, ldb, cij, ldc, accumulate, mask); \
    else if (nv == 1)                                                                  \
      rm_ukernel (MR, 1, true, k, ai, rsa, csa, bj, ldb, cij, ldc, accumulate, mask);  \
    else if (!masked)                                                                  \
      rm_ukernel (MR, 2, false, k, ai, rsa, csa, bj, ldb, cij, ldc, accumulate, mask); \
    else                                                                               \
      rm_ukernel (MR, 2, true, k, ai, rsa, csa, bj, ldb, cij, ldc, accumulate, mask);  \
    break;

static void
rm_tile_gemm (int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
              const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate)
{
  for (int64_t j0 = 0; j0 < n; j0 += 16)
    {
      int64_t nr = rm_min64 (16, n - j0);
      int nv = nr > 8 ? 2 : 1;
      bool masked = nr != 8 * nv;
      __m256i mask = rm_tail_mask (nr - 8 * (nv - 1));
      for (int64_t i0 = 0; i0 < m; i0 += 6)
        {
          const float *ai = a + i0 * rsa;
          const float *bj = b + j0;
          float *cij = c + i0 * ldc + j0;
          switch (rm_min64 (6, m - i0))
            {
              RM_UKERNEL_CASE (1)
              RM_UKERNEL_CASE (2)
              RM_UKERNEL_CASE (3)
              RM_UKERNEL_CASE (4)
              RM_UKERNEL_CASE (5)
              RM_UKERNEL_CASE (6)
            default:
              break;
            }
        }
    }
}
#else
static void
rm_tile_gemm (int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
              const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate)
{
  for (int64_t i = 0; i < m; i++)
    {
      float *restrict ci = c + i * ldc;
      if (!accumulate)
        for (int64_t j = 0; j < n; j++)
          ci[j] = 0.0f;
      for (int64_t p = 0; p < k; p++)
        {
          const float av = a[i * rsa + p * csa];
          const float *restrict bp = b + p * ldb;
          for (int64_t j = 0; j < n; j++)
            ci[j] += av * bp[j];
        }
    }
}
#endif

void
rm_cpu_tile_gemm (int64_t m, int64_t n, int64_t k, const float *a, int64_t rsa, int64_t csa,
                  const float *b, int64_t ldb, float *c, int64_t ldc, bool accumulate)
{
  rm_tile_gemm (m, n, k, a, rsa, csa, b, ldb, c, ldc, accumulate);
}

/* ---- attention -------------------------------------------------------------------------- */

/* Flash-style: per (batch, head, block of RM_ATT_BQ queries) the keys go by in blocks of
 * RM_ATT_BK with an online softmax. Scores are kept transposed (keys x queries) so that the
 * running max, exp and sums run along contiguous queries. */
#define RM_ATT_BQ 64
#define RM_ATT_BK 256

typedef struct
{
  float *dst;
  const float *q, *k, *v;
  const RmAttnDims *d;
  const uint8_t *key_pad;
  int64_t n_qblocks;
} RmAttnArgs;

static void
rm_attention_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmAttnArgs *a = p;
  const RmAttnDims *d = a->d;
  const int64_t dh = d->dh, dv = d->dv, heads = d->heads, nk_all = d->nk;
  const int64_t ldq = heads * dh, ldv = heads * dv;
  enum
  {
    BQ = RM_ATT_BQ,
    BK = RM_ATT_BK
  };

  float *qt = rm_scratch_alloc ((size_t) (dh * BQ + BK * BQ + BQ * dv + 3 * BQ) * sizeof (float));
  float *s = qt + dh * BQ; /* (BK, BQ) scores, then probabilities */
  float *o = s + BK * BQ;  /* (BQ, dv) unnormalised output */
  float *m = o + BQ * dv;  /* running max per query */
  float *shift = m + BQ;   /* the max subtracted in this block */
  float *fac = shift + BQ; /* rescale of the previous blocks */
  double l[BQ], bsum[BQ];  /* softmax denominators */

  for (int64_t item = begin; item < end; item++)
    {
      const int64_t qb = item % a->n_qblocks, bh = item / a->n_qblocks;
      const int64_t h = bh % heads, b = bh / heads;
      const int64_t q0 = qb * BQ, nq = rm_min64 (BQ, d->nq - q0);
      const int64_t nqp = (nq + 7) / 8 * 8; /* padded queries (zeros) keep rows whole */
      const float *qbase = a->q + (b * d->nq + q0) * ldq + h * dh;
      const uint8_t *pad = a->key_pad != NULL ? a->key_pad + b * nk_all : NULL;

      for (int64_t c = 0; c < dh; c++)
        {
          for (int64_t i = 0; i < nq; i++)
            qt[c * BQ + i] = qbase[i * ldq + c];
          for (int64_t i = nq; i < nqp; i++)
            qt[c * BQ + i] = 0.0f;
        }
      for (int64_t i = 0; i < nqp; i++)
        {
          m[i] = -INFINITY;
          l[i] = 0.0;
        }
      memset (o, 0, (size_t) (nq * dv) * sizeof *o);

      for (int64_t k0 = 0; k0 < nk_all; k0 += BK)
        {
          const int64_t nk = rm_min64 (BK, nk_all - k0);
          const float *kbase = a->k + (b * nk_all + k0) * ldq + h * dh;
          const float *vbase = a->v + (b * nk_all + k0) * ldv + h * dv;

          /* s (nk, nqp) = K Q^T, then scaled, masked keys at -inf. */
          rm_tile_gemm (nk, nqp, dh, kbase, ldq, 1, qt, BQ, s, BQ, false);
          for (int64_t j = 0; j < nk; j++)
            {
              float *sj = s + j * BQ;
              if (pad != NULL && pad[k0 + j])
                for (int64_t i = 0; i < nqp; i++)
                  sj[i] = -INFINITY;
              else
                for (int64_t i = 0; i < nqp; i++)
                  sj[i] *= d->scale;
            }

          /* New running max; a query with nothing but masked keys so far keeps -inf and
           * shifts by 0, so its exps are exp(-inf) = 0 and nothing turns NaN. */
          for (int64_t i = 0; i < nqp; i++)
            shift[i] = m[i];
          for (int64_t j = 0; j < nk; j++)
            {
              const float *sj = s + j * BQ;
              for (int64_t i = 0; i < nqp; i++)
                shift[i] = sj[i] > shift[i] ? sj[i] : shift[i];
            }
          for (int64_t i = 0; i < nqp; i++)
            {
              const float new_m = shift[i];
              shift[i] = new_m == -INFINITY ? 0.0f : new_m;
              fac[i] = m[i] - shift[i]; /* exp: 1 when the max stays, 0 from -inf */
              m[i] = new_m;
            }
          rm_cpu_expf (fac, fac, nqp);

          for (int64_t i = 0; i < nqp; i++)
            bsum[i] = 0.0;
          for (int64_t j = 0; j < nk; j++)
            {
              float *sj = s + j * BQ;
              for (int64_t i = 0; i < nqp; i++)
                sj[i] -= shift[i];
              rm_cpu_expf (sj, sj, nqp);
              for (int64_t i = 0; i < nqp; i++)
                bsum[i] += sj[i];
            }
          for (int64_t i = 0; i < nq; i++)
            {
              l[i] = l[i] * fac[i] + bsum[i];
              if (fac[i] != 1.0f)
                for (int64_t c = 0; c < dv; c++)
                  o[i * dv + c] *= fac[i];
            }

          /* o (nq, dv) += P (nq, nk) V (nk, dv), P read transposed out of s. */
          rm_tile_gemm (nq, dv, nk, s, 1, BQ, vbase, ldv, o, dv, true);
        }

      float *out = a->dst + (b * d->nq + q0) * ldv + h * dv;
      for (int64_t i = 0; i < nq; i++)
        for (int64_t c = 0; c < dv; c++)
          out[i * ldv + c] = l[i] > 0.0 ? (float) (o[i * dv + c] / l[i]) : 0.0f;
    }
  free (qt);
}

static void
rm_cpu_attention (RmThreadPool *pool, float *dst, const float *q, const float *k, const float *v,
                  const RmAttnDims *d, const uint8_t *key_pad)
{
  RmAttnArgs a = { dst, q, k, v, d, key_pad, (d->nq + RM_ATT_BQ - 1) / RM_ATT_BQ };
  if (d->nq == 0 || d->dv == 0)
    return;
  rm_parallel_for (pool, d->batch * d->heads * a.n_qblocks, rm_attention_range, &a);
}

/* ---- convolutions ----------------------------------------------------------------------- */

/* Columns of im2col go in bands of output pixels so that the buffer stays bounded. */
#define RM_IM2COL_FLOATS ((int64_t) 4 << 20)

void
rm_cpu_im2col_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmIm2colArgs *a = p;
  const RmConvDims *d = a->d;
  for (int64_t row = begin; row < end; row++)
    {
      const int64_t kj = row % d->kw, ki = (row / d->kw) % d->kh, c = row / (d->kw * d->kh);
      const float *xc = a->x + c * d->h * d->w;
      float *dst = a->col + row * a->np;
      int64_t pix = a->p0, left = a->np;
      while (left > 0)
        {
          const int64_t oy = pix / d->ow, ox0 = pix % d->ow;
          const int64_t n = rm_min64 (left, d->ow - ox0);
          const int64_t iy = oy * d->stride - d->pad + ki;
          if (iy < 0 || iy >= d->h)
            memset (dst, 0, (size_t) n * sizeof *dst);
          else
            {
              const float *xr = xc + iy * d->w;
              for (int64_t t = 0; t < n; t++)
                {
                  int64_t ix = (ox0 + t) * d->stride - d->pad + kj;
                  dst[t] = (ix >= 0 && ix < d->w) ? xr[ix] : 0.0f;
                }
            }
          dst += n;
          pix += n;
          left -= n;
        }
    }
}

static void
rm_cpu_conv2d (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
               const RmConvDims *d)
{
  const int64_t pix = d->oh * d->ow, ck = d->cin * d->kh * d->kw;
  const bool direct = d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
  const int64_t band = rm_max64 (1, rm_min64 (pix, RM_IM2COL_FLOATS / rm_max64 (1, ck)));
  float *col = direct ? NULL : rm_scratch_alloc ((size_t) (ck * band) * sizeof (float));

  for (int64_t bi = 0; bi < d->batch; bi++)
    {
      const float *xb = x + bi * d->cin * d->h * d->w;
      float *yb = dst + bi * d->cout * pix;
      if (direct)
        {
          /* A 1x1 convolution is the GEMM (cout, cin) x (cin, pixels). */
          rm_par_sgemm (pool, CblasNoTrans, CblasNoTrans, d->cout, pix, d->cin, w, d->cin, xb, pix,
                        yb, pix, NULL);
          continue;
        }
      for (int64_t p0 = 0; p0 < pix; p0 += band)
        {
          const int64_t np = rm_min64 (band, pix - p0);
          RmIm2colArgs a = { col, xb, d, p0, np };
          rm_parallel_for_grain (pool, ck, rm_row_grain (np), rm_cpu_im2col_range, &a);
          rm_par_sgemm (pool, CblasNoTrans, CblasNoTrans, d->cout, np, ck, w, ck, col, np, yb + p0,
                        pix, NULL);
        }
    }
  free (col);
  if (b != NULL)
    rm_add_bias (pool, dst, b, d->batch * d->cout, pix, d->cout, true);
}

typedef struct
{
  float *dst;       /* (cout, 2h, 2w) of one image */
  const float *tmp; /* (cout*4, h*w): tap (dy, dx) of channel o in row o*4 + dy*2 + dx */
  const float *bias;
  int64_t h, w;
} RmScatter2x2Args;

static void
rm_scatter2x2_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmScatter2x2Args *a = p;
  const int64_t h = a->h, w = a->w;
  for (int64_t row = begin; row < end; row++) /* row = (o, y) */
    {
      const int64_t o = row / h, y = row % h;
      const float bv = a->bias != NULL ? a->bias[o] : 0.0f;
      for (int dy = 0; dy < 2; dy++)
        {
          float *out = a->dst + (o * 2 * h + 2 * y + dy) * 2 * w;
          const float *t0 = a->tmp + ((o * 4 + dy * 2) * h + y) * w;
          const float *t1 = t0 + h * w;
          for (int64_t xi = 0; xi < w; xi++)
            {
              out[2 * xi] = t0[xi] + bv;
              out[2 * xi + 1] = t1[xi] + bv;
            }
        }
    }
}

static void
rm_cpu_conv_transpose2x2 (RmThreadPool *pool, float *dst, const float *x, const float *w,
                          const float *b, int64_t batch, int64_t cin, int64_t h, int64_t width,
                          int64_t cout)
{
  const int64_t hw = h * width;
  if (hw == 0 || cout == 0)
    return;
  float *tmp = rm_scratch_alloc ((size_t) (4 * cout * hw) * sizeof (float));
  for (int64_t bi = 0; bi < batch; bi++)
    {
      /* Every output pixel has exactly one tap: tmp = W^T (4*cout, cin) x X (cin, hw). */
      if (cin == 0)
        memset (tmp, 0, (size_t) (4 * cout * hw) * sizeof *tmp);
      else
        rm_par_sgemm (pool, CblasTrans, CblasNoTrans, 4 * cout, hw, cin, w, 4 * cout,
                      x + bi * cin * hw, hw, tmp, hw, NULL);
      RmScatter2x2Args a = { dst + bi * cout * 4 * hw, tmp, b, h, width };
      rm_parallel_for_grain (pool, cout * h, rm_row_grain (4 * width), rm_scatter2x2_range, &a);
    }
  free (tmp);
}

/* ---- pooling and resampling ------------------------------------------------------------- */

typedef struct
{
  float *dst;
  const float *x;
  int64_t h, w, c, oh, ow;
} RmPoolArgs;

static inline float
rm_max_nan (float m, float v)
{
  /* torch's max pooling lets NaN win. */
  return (v > m || isnan (v)) ? v : m;
}

static void
rm_maxpool_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmPoolArgs *a = p;
  for (int64_t row = begin; row < end; row++) /* row = (b, oy) */
    {
      const int64_t bi = row / a->oh, oy = row % a->oh;
      const float *r0 = a->x + ((bi * a->h + 2 * oy) * a->w) * a->c;
      const float *r1 = r0 + a->w * a->c;
      float *out = a->dst + row * a->ow * a->c;
      for (int64_t ox = 0; ox < a->ow; ox++)
        {
          const float *p00 = r0 + 2 * ox * a->c, *p10 = r1 + 2 * ox * a->c;
          for (int64_t ch = 0; ch < a->c; ch++)
            {
              float mv = p00[ch];
              mv = rm_max_nan (mv, p00[a->c + ch]);
              mv = rm_max_nan (mv, p10[ch]);
              mv = rm_max_nan (mv, p10[a->c + ch]);
              out[ox * a->c + ch] = mv;
            }
        }
    }
}

static void
rm_cpu_maxpool2x2_nhwc (RmThreadPool *pool, float *dst, const float *x, int64_t batch, int64_t h,
                        int64_t width, int64_t c)
{
  RmPoolArgs a = { dst, x, h, width, c, h / 2, width / 2 };
  rm_parallel_for_grain (pool, batch * a.oh, rm_row_grain (a.ow * c), rm_maxpool_range, &a);
}

static void
rm_nearest2x_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmPoolArgs *a = p;
  for (int64_t row = begin; row < end; row++) /* output row of a plane */
    {
      const float *in = a->x + (row / 2) * a->w; /* (plane*2h + y) / 2 = plane*h + y/2 */
      float *out = a->dst + row * 2 * a->w;
      for (int64_t xi = 0; xi < a->w; xi++)
        out[2 * xi] = out[2 * xi + 1] = in[xi];
    }
}

static void
rm_cpu_upsample_nearest2x (RmThreadPool *pool, float *dst, const float *x, int64_t planes,
                           int64_t h, int64_t width)
{
  RmPoolArgs a = { dst, x, h, width, 1, 2 * h, 2 * width };
  rm_parallel_for_grain (pool, planes * 2 * h, rm_row_grain (2 * width), rm_nearest2x_range, &a);
}

/* Resampling is separable-by-table: for each output index along one axis, the input taps
 * (first index and count, clamped) and their weights. */
typedef struct
{
  int64_t n_out;
  int taps;       /* weights per output index */
  int64_t *first; /* n_out: first input index */
  int64_t *count; /* n_out: taps actually used */
  int64_t *index; /* n_out * taps: input index of each tap (for clamped cubic taps) */
  float *weight;  /* n_out * taps */
} RmTaps;

static void
rm_taps_alloc (RmTaps *t, int64_t n_out, int taps)
{
  t->n_out = n_out;
  t->taps = taps;
  t->first = rm_scratch_alloc ((size_t) n_out * sizeof (int64_t));
  t->count = rm_scratch_alloc ((size_t) n_out * sizeof (int64_t));
  t->index = rm_scratch_alloc ((size_t) (n_out * taps) * sizeof (int64_t));
  t->weight = rm_scratch_alloc ((size_t) (n_out * taps) * sizeof (float));
}

static void
rm_taps_free (RmTaps *t)
{
  free (t->first);
  free (t->count);
  free (t->index);
  free (t->weight);
}

/* area_pixel_compute_source_index of PyTorch (align_corners=False), with its fma. */
static float
rm_source_index (float scale, int64_t dst_index, bool cubic)
{
  float src = fmaf (scale, (float) dst_index + 0.5f, -0.5f);
  return (!cubic && src < 0.0f) ? 0.0f : src;
}

/* guard_index_and_lambda of PyTorch. */
static void
rm_guard_index (float real_index, int64_t n_in, int64_t *index, float *lambda)
{
  *index = rm_min64 ((int64_t) floorf (real_index), n_in - 1);
  *lambda = fminf (fmaxf (real_index - (float) *index, 0.0f), 1.0f);
}

/* Plain bilinear (upsample_bilinear2d, align_corners=False). */
static void
rm_taps_linear (RmTaps *t, int64_t n_in, int64_t n_out)
{
  const float scale = (float) n_in / (float) n_out;
  rm_taps_alloc (t, n_out, 2);
  for (int64_t i = 0; i < n_out; i++)
    {
      int64_t i0;
      float l1;
      rm_guard_index (rm_source_index (scale, i, false), n_in, &i0, &l1);
      t->first[i] = i0;
      t->count[i] = 2;
      t->index[2 * i] = i0;
      t->index[2 * i + 1] = i0 + (i0 < n_in - 1 ? 1 : 0);
      t->weight[2 * i] = 1.0f - l1;
      t->weight[2 * i + 1] = l1;
    }
}

/* Bicubic, A = -0.75 (get_cubic_upsample_coefficients), taps clamped to the border. */
static void
rm_taps_cubic (RmTaps *t, int64_t n_in, int64_t n_out)
{
  const float scale = (float) n_in / (float) n_out;
  const float A = -0.75f;
  rm_taps_alloc (t, n_out, 4);
  for (int64_t i = 0; i < n_out; i++)
    {
      int64_t i0;
      float lam;
      rm_guard_index (rm_source_index (scale, i, true), n_in, &i0, &lam);
      const float x1 = lam, x2 = 1.0f - lam;
      /* cubic_convolution1 ((A+2)x - (A+3)) x x + 1 for |x| <= 1, cubic_convolution2
       * ((A x - 5A) x + 8A) x - 4A for 1 < |x| < 2. */
      const float c1 = fmaf (fmaf (A + 2.0f, x1, -(A + 3.0f)) * x1, x1, 1.0f);
      const float c2 = fmaf (fmaf (A + 2.0f, x2, -(A + 3.0f)) * x2, x2, 1.0f);
      const float y0 = x1 + 1.0f, y3 = x2 + 1.0f;
      const float c0 = fmaf (fmaf (fmaf (A, y0, -5.0f * A), y0, 8.0f * A), y0, -4.0f * A);
      const float c3 = fmaf (fmaf (fmaf (A, y3, -5.0f * A), y3, 8.0f * A), y3, -4.0f * A);
      const float c[4] = { c0, c1, c2, c3 };
      t->first[i] = i0 - 1;
      t->count[i] = 4;
      for (int j = 0; j < 4; j++)
        {
          t->index[4 * i + j] = rm_max64 (rm_min64 (i0 + j - 1, n_in - 1), 0);
          t->weight[4 * i + j] = c[j];
        }
    }
}

/* The antialiased bilinear of PyTorch (_compute_indices_min_size_weights_aa): a triangle
 * filter widened by the scale when downsampling, weights normalised by their sum. The
 * mixed float/double arithmetic is PyTorch's, cast for cast. */
static void
rm_taps_linear_aa (RmTaps *t, int64_t n_in, int64_t n_out)
{
  const float scale = (float) n_in / (float) n_out;
  const float support = scale >= 1.0f ? (float) (1.0 * scale) : 1.0f;
  const int taps = (int) ceilf (support) * 2 + 1;
  const float invscale = scale >= 1.0f ? (float) (1.0 / scale) : 1.0f;
  rm_taps_alloc (t, n_out, taps);
  for (int64_t i = 0; i < n_out; i++)
    {
      const float center = (float) (scale * ((double) i + 0.5));
      const int64_t xmin = rm_max64 ((int64_t) ((double) (center - support) + 0.5), 0);
      int64_t xsize = rm_min64 ((int64_t) ((double) (center + support) + 0.5), n_in) - xmin;
      xsize = rm_max64 (0, rm_min64 (xsize, taps));
      float *w = t->weight + i * taps;
      float total = 0.0f;
      for (int64_t j = 0; j < xsize; j++)
        {
          float arg = (float) (((double) ((float) (j + xmin) - center) + 0.5) * invscale);
          arg = fabsf (arg);
          w[j] = arg < 1.0f ? 1.0f - arg : 0.0f;
          total += w[j];
        }
      if (total != 0.0f)
        for (int64_t j = 0; j < xsize; j++)
          w[j] /= total;
      t->first[i] = xmin;
      t->count[i] = xsize;
      for (int64_t j = 0; j < taps; j++)
        t->index[i * taps + j] = xmin + rm_min64 (j, rm_max64 (xsize - 1, 0));
    }
}

/* The tables for the backward kernels (rm-backend-cpu-grad.c). */
void
rm_cpu_taps_build (RmCpuTaps *out, RmCpuTapsKind kind, int64_t n_in, int64_t n_out)
{
  RmTaps t;
  if (kind == RM_CPU_TAPS_CUBIC)
    rm_taps_cubic (&t, n_in, n_out);
  else if (kind == RM_CPU_TAPS_LINEAR_AA)
    rm_taps_linear_aa (&t, n_in, n_out);
  else
    rm_taps_linear (&t, n_in, n_out);
  *out = (RmCpuTaps){ t.n_out, t.taps, t.first, t.count, t.index, t.weight };
}

void
rm_cpu_taps_free (RmCpuTaps *t)
{
  RmTaps tmp = { t->n_out, t->taps, t->first, t->count, t->index, t->weight };
  rm_taps_free (&tmp);
}

/* One pass along an axis: rows of `len` inputs -> rows of n_out outputs (horizontal), or
 * along the rows of (h, w) planes (vertical). acc = p0*w0, then acc = fmaf(p_j, w_j, acc),
 * as PyTorch's loops compile. */
typedef struct
{
  float *dst;
  const float *x;
  const RmTaps *t;
  int64_t h, w; /* input plane */
  bool vertical;
} RmResampleArgs;

static void
rm_resample_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmResampleArgs *a = p;
  const RmTaps *t = a->t;
  const int taps = t->taps;
  for (int64_t row = begin; row < end; row++)
    {
      if (!a->vertical)
        {
          /* row = one input row of w values -> t->n_out values */
          const float *in = a->x + row * a->w;
          float *out = a->dst + row * t->n_out;
          for (int64_t o = 0; o < t->n_out; o++)
            {
              const int64_t *ix = t->index + o * taps;
              const float *wt = t->weight + o * taps;
              const int64_t cnt = t->count[o];
              float acc = cnt > 0 ? in[ix[0]] * wt[0] : 0.0f;
              for (int64_t j = 1; j < cnt; j++)
                acc = fmaf (in[ix[j]], wt[j], acc);
              out[o] = acc;
            }
        }
      else
        {
          /* row = (plane, output row) */
          const int64_t plane = row / t->n_out, o = row % t->n_out;
          const float *in = a->x + plane * a->h * a->w;
          float *restrict out = a->dst + row * a->w;
          const int64_t *iy = t->index + o * taps;
          const float *wt = t->weight + o * taps;
          const int64_t cnt = t->count[o];
          if (cnt == 0)
            {
              memset (out, 0, (size_t) a->w * sizeof *out);
              continue;
            }
          const float *restrict r0 = in + iy[0] * a->w;
          for (int64_t xi = 0; xi < a->w; xi++)
            out[xi] = r0[xi] * wt[0];
          for (int64_t j = 1; j < cnt; j++)
            {
              const float *restrict rj = in + iy[j] * a->w;
              const float wj = wt[j];
              for (int64_t xi = 0; xi < a->w; xi++)
                out[xi] = fmaf (rj[xi], wj, out[xi]);
            }
        }
    }
}

static void
rm_resample_pass (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                  int64_t w, const RmTaps *t, bool vertical)
{
  RmResampleArgs a = { dst, x, t, h, w, vertical };
  int64_t rows = vertical ? planes * t->n_out : planes * h;
  int64_t per_row = vertical ? w * t->taps : t->n_out * t->taps;
  rm_parallel_for_grain (pool, rows, rm_row_grain (per_row), rm_resample_range, &a);
}

/* Non-separable 2-D interpolation of upsample_generic_Nd: for each output pixel,
 * sum_i hw_i * (sum_j ww_j * x[iy_i][ix_j]). PyTorch unrolls these fixed-size sums and GCC
 * fuses the first product into the addition of the second: fmaf(t0, w0, t1*w1), then
 * fmaf(t_j, w_j, acc) (checked bit for bit against PyTorch's AVX2 build). */
static inline float
rm_tap_sum (const float *t, const float *w, int n)
{
  if (n == 1)
    return t[0] * w[0];
  float acc = fmaf (t[0], w[0], t[1] * w[1]);
  for (int j = 2; j < n; j++)
    acc = fmaf (t[j], w[j], acc);
  return acc;
}

typedef struct
{
  float *dst;
  const float *x;
  const RmTaps *ty, *tx;
  int64_t h, w;
} RmInterp2dArgs;

static void
rm_interp2d_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmInterp2dArgs *a = p;
  const RmTaps *ty = a->ty, *tx = a->tx;
  const int ny = ty->taps, nx = tx->taps;
  float vals[4], rows[4];
  for (int64_t row = begin; row < end; row++) /* (plane, oy) */
    {
      const int64_t plane = row / ty->n_out, oy = row % ty->n_out;
      const float *in = a->x + plane * a->h * a->w;
      float *out = a->dst + row * tx->n_out;
      for (int64_t ox = 0; ox < tx->n_out; ox++)
        {
          const int64_t *ix = tx->index + ox * nx;
          for (int i = 0; i < ny; i++)
            {
              const float *r = in + ty->index[oy * ny + i] * a->w;
              for (int j = 0; j < nx; j++)
                vals[j] = r[ix[j]];
              rows[i] = rm_tap_sum (vals, tx->weight + ox * nx, nx);
            }
          out[ox] = rm_tap_sum (rows, ty->weight + oy * ny, ny);
        }
    }
}

static void
rm_interp2d (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h, int64_t w,
             const RmTaps *ty, const RmTaps *tx)
{
  RmInterp2dArgs a = { dst, x, ty, tx, h, w };
  rm_parallel_for_grain (pool, planes * ty->n_out, rm_row_grain (tx->n_out * ty->taps * tx->taps),
                         rm_interp2d_range, &a);
}

static void
rm_cpu_resize_bilinear (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                        int64_t width, int64_t oh, int64_t ow, bool antialias)
{
  RmTaps ty, tx;
  if (planes == 0 || oh == 0 || ow == 0)
    return;
  if (!antialias)
    {
      rm_taps_linear (&ty, h, oh);
      rm_taps_linear (&tx, width, ow);
      rm_interp2d (pool, dst, x, planes, h, width, &ty, &tx);
      rm_taps_free (&ty);
      rm_taps_free (&tx);
      return;
    }

  /* Separable, width first; an axis whose size does not change is not resampled. */
  if (width == ow && h == oh)
    {
      memcpy (dst, x, (size_t) (planes * h * width) * sizeof *dst);
      return;
    }
  const float *src = x;
  float *tmp = NULL;
  if (width != ow)
    {
      float *wdst = dst;
      if (h != oh)
        wdst = tmp = rm_scratch_alloc ((size_t) (planes * h * ow) * sizeof (float));
      rm_taps_linear_aa (&tx, width, ow);
      rm_resample_pass (pool, wdst, x, planes, h, width, &tx, false);
      rm_taps_free (&tx);
      src = wdst;
    }
  if (h != oh)
    {
      rm_taps_linear_aa (&ty, h, oh);
      rm_resample_pass (pool, dst, src, planes, h, ow, &ty, true);
      rm_taps_free (&ty);
    }
  free (tmp);
}

static void
rm_cpu_resize_bicubic (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                       int64_t width, int64_t oh, int64_t ow)
{
  RmTaps ty, tx;
  if (planes == 0 || oh == 0 || ow == 0)
    return;
  rm_taps_cubic (&ty, h, oh);
  rm_taps_cubic (&tx, width, ow);
  rm_interp2d (pool, dst, x, planes, h, width, &ty, &tx);
  rm_taps_free (&ty);
  rm_taps_free (&tx);
}

/* ---- Hiera windows ---------------------------------------------------------------------- */

typedef struct
{
  float *dst;
  const float *x;
  int64_t h, w, c, win, nwh, nww;
  int64_t hp, wp; /* unpartition: padded map */
} RmWindowArgs;

/* One row of a window = one (window, row-in-window) item: win*c floats, contiguous in
 * both layouts, some of them padding. */
static void
rm_window_rows (const RmWindowArgs *a, int64_t item, int64_t *bi, int64_t *y, int64_t *x0)
{
  const int64_t r = item % a->win, wi = item / a->win;
  const int64_t ww = wi % a->nww, wh = (wi / a->nww) % a->nwh;
  *bi = wi / (a->nww * a->nwh);
  *y = wh * a->win + r;
  *x0 = ww * a->win;
}

static void
rm_window_partition_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmWindowArgs *a = p;
  for (int64_t item = begin; item < end; item++)
    {
      int64_t bi, y, x0;
      rm_window_rows (a, item, &bi, &y, &x0);
      float *out = a->dst + item * a->win * a->c;
      int64_t valid = y < a->h ? rm_max64 (0, rm_min64 (a->win, a->w - x0)) : 0;
      if (valid > 0)
        memcpy (out, a->x + ((bi * a->h + y) * a->w + x0) * a->c,
                (size_t) (valid * a->c) * sizeof *out);
      memset (out + valid * a->c, 0, (size_t) ((a->win - valid) * a->c) * sizeof *out);
    }
}

static void
rm_window_unpartition_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmWindowArgs *a = p;
  for (int64_t item = begin; item < end; item++)
    {
      int64_t bi, y, x0;
      rm_window_rows (a, item, &bi, &y, &x0);
      int64_t valid = y < a->h ? rm_max64 (0, rm_min64 (a->win, a->w - x0)) : 0;
      if (valid > 0)
        memcpy (a->dst + ((bi * a->h + y) * a->w + x0) * a->c, a->x + item * a->win * a->c,
                (size_t) (valid * a->c) * sizeof (float));
    }
}

static void
rm_cpu_window_partition (RmThreadPool *pool, float *dst, const float *x, int64_t batch, int64_t h,
                         int64_t width, int64_t c, int64_t win)
{
  RmWindowArgs a = { dst, x, h, width, c, win, (h + win - 1) / win, (width + win - 1) / win, 0, 0 };
  rm_parallel_for_grain (pool, batch * a.nwh * a.nww * win, rm_row_grain (win * c),
                         rm_window_partition_range, &a);
}

static void
rm_cpu_window_unpartition (RmThreadPool *pool, float *dst, const float *x, int64_t batch,
                           int64_t hp, int64_t wp, int64_t h, int64_t width, int64_t c, int64_t win)
{
  RmWindowArgs a = { dst, x, h, width, c, win, hp / win, wp / win, hp, wp };
  rm_parallel_for_grain (pool, batch * a.nwh * a.nww * win, rm_row_grain (win * c),
                         rm_window_unpartition_range, &a);
}

/* ---- reductions ------------------------------------------------------------------------- */

/* Fixed blocks summed in double, then added in block order: the same result for any
 * number of threads. */
#define RM_SUM_BLOCK 65536

typedef struct
{
  const float *x;
  int64_t n;
  double *partial;
} RmSumArgs;

static void
rm_sum_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmSumArgs *a = p;
  for (int64_t blk = begin; blk < end; blk++)
    {
      int64_t i0 = blk * RM_SUM_BLOCK;
      a->partial[blk] = rm_sum_f64 (a->x + i0, rm_min64 (RM_SUM_BLOCK, a->n - i0));
    }
}

static void
rm_cpu_sum (RmThreadPool *pool, float *dst, const float *x, int64_t n, double divisor)
{
  int64_t n_blocks = (n + RM_SUM_BLOCK - 1) / RM_SUM_BLOCK;
  double *partial = rm_scratch_alloc ((size_t) rm_max64 (1, n_blocks) * sizeof (double));
  RmSumArgs a = { x, n, partial };
  rm_parallel_for (pool, n_blocks, rm_sum_range, &a);
  double s = 0.0;
  for (int64_t i = 0; i < n_blocks; i++)
    s += partial[i];
  free (partial);
  *dst = (float) (s / divisor);
}

/* Host memory is the CPU backend's memory: moving data in and out is a plain copy. */
static bool
rm_cpu_memcpy (void *dst, const void *src, size_t bytes)
{
  memcpy (dst, src, bytes);
  return true;
}

/* ---- the backend ------------------------------------------------------------------------ */

static const RmBackend rm_cpu_backend = {
  .name = "cpu",
  .device = RM_DEVICE_CPU,
  .fill = rm_cpu_fill,
  .copy_strided = rm_cpu_copy_strided,
  .gather_rows = rm_cpu_gather_rows,
  .binary = rm_cpu_binary,
  .axpby = rm_cpu_axpby,
  .unary = rm_cpu_unary,
  .layernorm = rm_cpu_layernorm,
  .layernorm_nchw = rm_cpu_layernorm_nchw,
  .linear = rm_cpu_linear,
  .matmul = rm_cpu_matmul,
  .attention = rm_cpu_attention,
  .conv2d = rm_cpu_conv2d,
  .conv_transpose2x2 = rm_cpu_conv_transpose2x2,
  .maxpool2x2_nhwc = rm_cpu_maxpool2x2_nhwc,
  .upsample_nearest2x = rm_cpu_upsample_nearest2x,
  .resize_bilinear = rm_cpu_resize_bilinear,
  .resize_bicubic = rm_cpu_resize_bicubic,
  .window_partition = rm_cpu_window_partition,
  .window_unpartition = rm_cpu_window_unpartition,
  .sum = rm_cpu_sum,
  .upload = rm_cpu_memcpy,
  .download = rm_cpu_memcpy,
  .gemm = rm_cpu_gemm,
  .axpy = rm_cpu_axpy,
  .add_strided = rm_cpu_add_strided,
  .scatter_add_rows = rm_cpu_scatter_add_rows,
  .mul_acc = rm_cpu_mul_acc,
  .reduce_broadcast = rm_cpu_reduce_broadcast,
  .unary_backward = rm_cpu_unary_backward,
  .layernorm_backward = rm_cpu_layernorm_backward,
  .layernorm_nchw_backward = rm_cpu_layernorm_nchw_backward,
  .attention_backward = rm_cpu_attention_backward,
  .conv2d_backward = rm_cpu_conv2d_backward,
  .conv_transpose2x2_backward = rm_cpu_conv_transpose2x2_backward,
  .maxpool2x2_nhwc_backward = rm_cpu_maxpool2x2_nhwc_backward,
  .upsample_nearest2x_backward = rm_cpu_upsample_nearest2x_backward,
  .resize_bilinear_backward = rm_cpu_resize_bilinear_backward,
  .resize_bicubic_backward = rm_cpu_resize_bicubic_backward,
  .window_partition_backward = rm_cpu_window_partition_backward,
  .window_unpartition_backward = rm_cpu_window_unpartition_backward,
};

const RmBackend *
rm_backend_cpu (void)
{
  return &rm_cpu_backend;
}
