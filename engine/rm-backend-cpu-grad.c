/* SPDX-License-Identifier: GPL-3.0-or-later
 * The CPU backend's backward kernels (the RmBackend entries after `sum`).
 *
 * Every kernel adds into its gradient outputs. Reductions (weight and bias gradients, broadcast
 * operands) are split into pieces whose size depends only on the problem, never on the number
 * of threads, and the pieces are summed in a fixed order: gradients are bit-identical for any
 * thread count. Sums over many terms are taken in double where that is cheap.
 */
#include "rm-backend-cpu-private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#include <immintrin.h>
#define RM_HAVE_VERFF 1
/* glibc's vector erff (libmvec), as the forward GELU uses it. */
__m256 _ZGVdN8v_erff (__m256 x);
#else
#define RM_HAVE_VERFF 0
#endif

/* ---- GEMM ------------------------------------------------------------------------------- */

/* Products with a long inner dimension (weight gradients: a sum over every token) are cut into
 * K pieces of this many terms, computed in parallel and added in order. */
#define RM_GEMM_KCHUNK 2048
/* Bound on the partial products of a K split (floats). */
#define RM_GEMM_PARTIAL_MAX ((int64_t) 16 << 20)

typedef struct
{
  const RmCpuGemm *g;
  int64_t kchunk, n_parts;
  float *partial; /* n_parts products (m, n) */
} RmGemmKSplit;

static void
rm_gemm_kpart_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmGemmKSplit *s = p;
  const RmCpuGemm *g = s->g;
  for (int64_t part = begin; part < end; part++)
    {
      const int64_t p0 = part * s->kchunk;
      RmCpuGemm piece = { .trans_a = g->trans_a,
                          .trans_b = g->trans_b,
                          .m = g->m,
                          .n = g->n,
                          .k = rm_min64 (s->kchunk, g->k - p0),
                          .lda = g->lda,
                          .ldb = g->ldb,
                          .ldc = g->n,
                          .alpha = g->alpha,
                          .beta = 0.0f,
                          .a = g->a + (g->trans_a ? p0 * g->lda : p0),
                          .b = g->b + (g->trans_b ? p0 : p0 * g->ldb),
                          .c = s->partial + part * g->m * g->n };
      rm_cpu_gemm_bands (NULL, &piece);
    }
}

static void
rm_gemm_sum_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmGemmKSplit *s = p;
  const RmCpuGemm *g = s->g;
  const int64_t mn = g->m * g->n;
  for (int64_t row = begin; row < end; row++)
    {
      float *c = g->c + row * g->ldc;
      for (int64_t j = 0; j < g->n; j++)
        {
          float acc = s->partial[row * g->n + j];
          for (int64_t part = 1; part < s->n_parts; part++)
            acc += s->partial[part * mn + row * g->n + j];
          c[j] = g->beta == 0.0f ? acc : g->beta * c[j] + acc;
        }
    }
}

void
rm_cpu_gemm (RmThreadPool *pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
             float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
             float *c, int64_t ldc)
{
  if (m == 0 || n == 0)
    return;
  if (k == 0)
    {
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
          c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
      return;
    }
  RmCpuGemm g = { trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, beta, a, b, NULL, c };
  const int64_t n_kparts = k / RM_GEMM_KCHUNK;
  if (n_kparts >= 2 && m * n * n_kparts <= RM_GEMM_PARTIAL_MAX)
    {
      /* A size-determined K split, summed in order: the same bits for any thread count. */
      RmGemmKSplit s = { &g, (k + n_kparts - 1) / n_kparts, 0, NULL };
      s.n_parts = (k + s.kchunk - 1) / s.kchunk;
      s.partial = rm_scratch_alloc ((size_t) (s.n_parts * m * n) * sizeof (float));
      rm_parallel_for_grain (pool, s.n_parts, 1, rm_gemm_kpart_range, &s);
      rm_parallel_for_grain (pool, m, rm_row_grain (n * s.n_parts), rm_gemm_sum_range, &s);
      free (s.partial);
      return;
    }
  rm_cpu_gemm_bands (pool, &g);
}

/* ---- element-wise ----------------------------------------------------------------------- */

typedef struct
{
  float *dst;
  const float *src, *other;
  float alpha;
} RmAxpyArgs;

static void
rm_axpy_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmAxpyArgs *a = p;
  float *restrict d = a->dst;
  const float *restrict s = a->src;
  const float alpha = a->alpha;
  if (a->other != NULL)
    {
      const float *restrict o = a->other;
      for (int64_t i = begin; i < end; i++)
        d[i] += alpha * s[i] * o[i];
    }
  else if (alpha == 1.0f)
    for (int64_t i = begin; i < end; i++)
      d[i] += s[i];
  else
    for (int64_t i = begin; i < end; i++)
      d[i] += alpha * s[i];
}

void
rm_cpu_axpy (RmThreadPool *pool, float *dst, float alpha, const float *src, int64_t n)
{
  RmAxpyArgs a = { dst, src, NULL, alpha };
  rm_parallel_for_grain (pool, n, RM_GRAIN, rm_axpy_range, &a);
}

/* Dims with size 1 dropped and dims merged where both sides run on contiguously. */
typedef struct
{
  int ndim;
  int64_t shape[RM_MAX_DIMS], ds[RM_MAX_DIMS], ss[RM_MAX_DIMS];
  float *dst;
  const float *src;
} RmStridedArgs;

static bool
rm_strided_collapse (RmStridedArgs *a, int ndim, const int64_t *shape, const int64_t *ds,
                     const int64_t *ss)
{
  a->ndim = 0;
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] == 0)
        return false;
      if (shape[i] == 1)
        continue;
      int k = a->ndim;
      if (k > 0 && a->ds[k - 1] == ds[i] * shape[i] && a->ss[k - 1] == ss[i] * shape[i])
        {
          a->shape[k - 1] *= shape[i];
          a->ds[k - 1] = ds[i];
          a->ss[k - 1] = ss[i];
          continue;
        }
      a->shape[k] = shape[i];
      a->ds[k] = ds[i];
      a->ss[k] = ss[i];
      a->ndim++;
    }
  if (a->ndim == 0)
    {
      a->ndim = 1;
      a->shape[0] = 1;
      a->ds[0] = a->ss[0] = 1;
    }
  return true;
}

static void
rm_add_strided_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmStridedArgs *a = p;
  const int last = a->ndim - 1;
  const int64_t n = a->shape[last], dsl = a->ds[last], ssl = a->ss[last];
  for (int64_t row = begin; row < end; row++)
    {
      int64_t doff = 0, soff = 0, r = row;
      for (int i = last - 1; i >= 0; i--)
        {
          const int64_t idx = r % a->shape[i];
          r /= a->shape[i];
          doff += idx * a->ds[i];
          soff += idx * a->ss[i];
        }
      float *d = a->dst + doff;
      const float *s = a->src + soff;
      if (dsl == 1 && ssl == 1)
        for (int64_t j = 0; j < n; j++)
          d[j] += s[j];
      else
        for (int64_t j = 0; j < n; j++)
          d[j * dsl] += s[j * ssl];
    }
}

void
rm_cpu_add_strided (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                    const int64_t *dst_stride, const float *src, const int64_t *src_stride)
{
  RmStridedArgs a = { .dst = dst, .src = src };
  if (!rm_strided_collapse (&a, ndim, shape, dst_stride, src_stride))
    return;
  int64_t rows = 1;
  for (int i = 0; i < a.ndim - 1; i++)
    rows *= a.shape[i];
  rm_parallel_for_grain (pool, rows, rm_row_grain (a.shape[a.ndim - 1]), rm_add_strided_range, &a);
}

typedef struct
{
  float *dtable;
  const float *src;
  int64_t dim, n, cols;
  const int64_t *ids;
} RmScatterArgs;

/* Parallel over column blocks: every id in order, so repeated ids never race. */
static void
rm_scatter_rows_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmScatterArgs *a = p;
  const int64_t c0 = begin * a->cols, c1 = rm_min64 (end * a->cols, a->dim);
  for (int64_t i = 0; i < a->n; i++)
    {
      float *d = a->dtable + a->ids[i] * a->dim;
      const float *s = a->src + i * a->dim;
      for (int64_t j = c0; j < c1; j++)
        d[j] += s[j];
    }
}

void
rm_cpu_scatter_add_rows (RmThreadPool *pool, float *dtable, const float *src, int64_t dim,
                         const int64_t *ids, int64_t n)
{
  RmScatterArgs a = { dtable, src, dim, n, 64, ids };
  rm_parallel_for_grain (pool, (dim + a.cols - 1) / a.cols, rm_row_grain (64 * n),
                         rm_scatter_rows_range, &a);
}

typedef struct
{
  float *dst;
  const float *a, *b;
  int ndim;
  const int64_t *shape, *b_stride;
} RmMulAccArgs;

static void
rm_mul_acc_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmMulAccArgs *m = p;
  const int last = m->ndim - 1;
  const int64_t n = m->shape[last], bsl = m->b_stride[last];
  for (int64_t row = begin; row < end; row++)
    {
      int64_t boff = 0, r = row;
      for (int i = last - 1; i >= 0; i--)
        {
          boff += (r % m->shape[i]) * m->b_stride[i];
          r /= m->shape[i];
        }
      float *restrict d = m->dst + row * n;
      const float *restrict x = m->a + row * n;
      const float *restrict y = m->b + boff;
      if (bsl == 0)
        for (int64_t j = 0; j < n; j++)
          d[j] += x[j] * y[0];
      else
        for (int64_t j = 0; j < n; j++)
          d[j] += x[j] * y[j * bsl];
    }
}

void
rm_cpu_mul_acc (RmThreadPool *pool, float *dst, const float *a, const float *b, int ndim,
                const int64_t *shape, const int64_t *b_stride)
{
  RmMulAccArgs args = { dst, a, b, ndim, shape, b_stride };
  int64_t rows = 1;
  for (int i = 0; i < ndim - 1; i++)
    rows *= shape[i];
  rm_parallel_for_grain (pool, rows, rm_row_grain (shape[ndim - 1]), rm_mul_acc_range, &args);
}

/* reduce_broadcast: outputs (the kept dims, b_stride != 0) go in blocks; the reduced positions
 * (b_stride == 0) in size-determined chunks with partial sums in double, added in order. */
#define RM_RED_BLOCK 64
#define RM_RED_CHUNK 16384

typedef struct
{
  float *dst;
  float alpha;
  const float *src, *other;
  int nk, nr;                                    /* kept / reduced dims */
  int64_t kshape[RM_MAX_DIMS], kss[RM_MAX_DIMS]; /* kept: sizes, src strides */
  int64_t kbs[RM_MAX_DIMS];                      /* kept: dst strides */
  int64_t rshape[RM_MAX_DIMS], rss[RM_MAX_DIMS]; /* reduced: sizes, src strides */
  int64_t n_out, n_red, n_blocks, n_chunks, chunk;
  double *partial; /* (n_chunks, n_out) */
} RmReduceArgs;

static void
rm_unravel (int n, const int64_t *shape, const int64_t *stride, int64_t idx, int64_t *off)
{
  int64_t o = 0;
  for (int i = n - 1; i >= 0; i--)
    {
      o += (idx % shape[i]) * stride[i];
      idx /= shape[i];
    }
  *off = o;
}

static void
rm_reduce_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmReduceArgs *a = p;
  int64_t soff[RM_RED_BLOCK];
  double acc[RM_RED_BLOCK];
  for (int64_t item = begin; item < end; item++)
    {
      const int64_t blk = item % a->n_blocks, ch = item / a->n_blocks;
      const int64_t o0 = blk * RM_RED_BLOCK, no = rm_min64 (RM_RED_BLOCK, a->n_out - o0);
      for (int64_t o = 0; o < no; o++)
        {
          rm_unravel (a->nk, a->kshape, a->kss, o0 + o, &soff[o]);
          acc[o] = 0.0;
        }
      const int64_t r0 = ch * a->chunk, r1 = rm_min64 (r0 + a->chunk, a->n_red);
      for (int64_t r = r0; r < r1; r++)
        {
          int64_t roff;
          rm_unravel (a->nr, a->rshape, a->rss, r, &roff);
          const float *s = a->src + roff;
          if (a->other != NULL)
            {
              const float *t = a->other + roff;
              for (int64_t o = 0; o < no; o++)
                acc[o] += (double) s[soff[o]] * (double) t[soff[o]];
            }
          else
            for (int64_t o = 0; o < no; o++)
              acc[o] += s[soff[o]];
        }
      double *out = a->partial + ch * a->n_out + o0;
      for (int64_t o = 0; o < no; o++)
        out[o] = acc[o];
    }
}

void
rm_cpu_reduce_broadcast (RmThreadPool *pool, float *dst, float alpha, const float *src,
                         const float *other, int ndim, const int64_t *shape,
                         const int64_t *b_stride)
{
  RmReduceArgs a = { .dst = dst, .alpha = alpha, .src = src, .other = other };
  int64_t sstride[RM_MAX_DIMS], s = 1;
  for (int i = ndim - 1; i >= 0; i--)
    {
      sstride[i] = s;
      s *= shape[i];
    }
  if (s == 0)
    return;
  a.n_out = a.n_red = 1;
  for (int i = 0; i < ndim; i++)
    {
      if (shape[i] == 1)
        continue;
      if (b_stride[i] != 0)
        {
          a.kshape[a.nk] = shape[i];
          a.kss[a.nk] = sstride[i];
          a.kbs[a.nk] = b_stride[i];
          a.nk++;
          a.n_out *= shape[i];
        }
      else
        {
          a.rshape[a.nr] = shape[i];
          a.rss[a.nr] = sstride[i];
          a.nr++;
          a.n_red *= shape[i];
        }
    }
  if (a.n_red == 1 && a.nk <= 1 && (a.nk == 0 || (a.kss[0] == 1 && a.kbs[0] == 1)))
    {
      /* Nothing broadcast: element-wise. */
      RmAxpyArgs e = { dst, src, other, alpha };
      rm_parallel_for_grain (pool, a.n_out, RM_GRAIN, rm_axpy_range, &e);
      return;
    }
  a.n_blocks = (a.n_out + RM_RED_BLOCK - 1) / RM_RED_BLOCK;
  a.n_chunks = rm_max64 (1, rm_min64 (64, a.n_red / RM_RED_CHUNK));
  if (a.n_out > 4096)
    a.n_chunks = 1;
  a.chunk = (a.n_red + a.n_chunks - 1) / a.n_chunks;
  a.partial = rm_scratch_alloc ((size_t) (a.n_chunks * a.n_out) * sizeof (double));
  rm_parallel_for_grain (pool, a.n_blocks * a.n_chunks,
                         rm_max64 (1, RM_GRAIN / rm_max64 (1, RM_RED_BLOCK * a.chunk)),
                         rm_reduce_range, &a);
  for (int64_t o = 0; o < a.n_out; o++)
    {
      double sum = 0.0;
      for (int64_t ch = 0; ch < a.n_chunks; ch++)
        sum += a.partial[ch * a.n_out + o];
      int64_t doff;
      rm_unravel (a.nk, a.kshape, a.kbs, o, &doff);
      dst[doff] += (float) ((double) alpha * sum);
    }
  free (a.partial);
}

typedef struct
{
  RmUnaryOp op;
  float *dx;
  const float *dy, *x, *y;
} RmUnaryBwdArgs;

static void
rm_unary_backward_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmUnaryBwdArgs *a = p;
  float *restrict dx = a->dx;
  const float *restrict dy = a->dy;
  switch (a->op)
    {
    case RM_UNARY_GELU:
      {
        /* PyTorch's GeluBackward (approximate='none'): dy (cdf + x pdf), with
         * cdf = (1 + erf(x / sqrt 2)) / 2 and pdf = exp(-x^2 / 2) / sqrt(2 pi); erf and exp
         * vectorised a block at a time. */
        const float alpha = (float) M_SQRT1_2, beta = (float) (M_2_SQRTPI * M_SQRT1_2 * 0.5);
        const float *restrict x = a->x;
        float erfv[256], expv[256];
        for (int64_t i0 = begin; i0 < end; i0 += 256)
          {
            const int64_t m = rm_min64 (256, end - i0);
            const float *restrict xb = x + i0;
            int64_t j = 0;
#if RM_HAVE_VERFF
            for (; j + 8 <= m; j += 8)
              _mm256_storeu_ps (erfv + j, _ZGVdN8v_erff (_mm256_mul_ps (_mm256_loadu_ps (xb + j),
                                                                        _mm256_set1_ps (alpha))));
#endif
            for (; j < m; j++)
              erfv[j] = erff (xb[j] * alpha);
            for (j = 0; j < m; j++)
              expv[j] = -0.5f * xb[j] * xb[j];
            rm_cpu_expf (expv, expv, m);
            for (j = 0; j < m; j++)
              dx[i0 + j] += dy[i0 + j] * (0.5f * (1.0f + erfv[j]) + xb[j] * (beta * expv[j]));
          }
        break;
      }
    case RM_UNARY_RELU:
      {
        const float *restrict y = a->y;
        for (int64_t i = begin; i < end; i++)
          dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
        break;
      }
    case RM_UNARY_SIGMOID:
      {
        const float *restrict y = a->y;
        for (int64_t i = begin; i < end; i++)
          dx[i] += dy[i] * (1.0f - y[i]) * y[i];
        break;
      }
    case RM_UNARY_SCALE:
    case RM_UNARY_RSUB:
    default:
      RM_CHECK (false, "unary_backward: op %d is linear (use axpy)", (int) a->op);
    }
}

void
rm_cpu_unary_backward (RmThreadPool *pool, RmUnaryOp op, float *dx, const float *dy, const float *x,
                       const float *y, int64_t n)
{
  RmUnaryBwdArgs a = { op, dx, dy, x, y };
  rm_parallel_for_grain (pool, n, op == RM_UNARY_GELU ? RM_GRAIN / 8 : RM_GRAIN,
                         rm_unary_backward_range, &a);
}

/* ---- layer norms ------------------------------------------------------------------------ */

/* Rows of this many per partial sum of the weight and bias gradients. */
#define RM_LN_CHUNK_ROWS 256

typedef struct
{
  float *dx, *dw, *db;
  const float *dy, *x, *w;
  int64_t rows, dim, pixels, batch;
  float eps;
  double *mean, *rstd;
  double *partial; /* (chunks, 2 * dim) */
  int64_t chunk_rows;
} RmLnBwdArgs;

/* Per row: the statistics (kept for the weight pass), and dx. */
static void
rm_ln_bwd_rows (void *p, int64_t begin, int64_t end, int worker)
{
  const RmLnBwdArgs *a = p;
  const int64_t n = a->dim;
  for (int64_t r = begin; r < end; r++)
    {
      const float *x = a->x + r * n, *dy = a->dy + r * n;
      double s = 0.0;
      for (int64_t i = 0; i < n; i++)
        s += x[i];
      const double mean = s / (double) n;
      double v = 0.0;
      for (int64_t i = 0; i < n; i++)
        v += (x[i] - mean) * (x[i] - mean);
      const double rstd = 1.0 / sqrt (v / (double) n + (double) a->eps);
      a->mean[r] = mean;
      a->rstd[r] = rstd;
      if (a->dx == NULL)
        continue;
      /* dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy w */
      double sg = 0.0, sgx = 0.0;
      for (int64_t i = 0; i < n; i++)
        {
          const double g = (double) dy[i] * a->w[i];
          sg += g;
          sgx += g * (x[i] - mean) * rstd;
        }
      sg /= (double) n;
      sgx /= (double) n;
      float *dx = a->dx + r * n;
      for (int64_t i = 0; i < n; i++)
        {
          const double g = (double) dy[i] * a->w[i];
          const double xh = (x[i] - mean) * rstd;
          dx[i] += (float) (rstd * (g - sg - xh * sgx));
        }
    }
}

static void
rm_ln_bwd_weights (void *p, int64_t begin, int64_t end, int worker)
{
  const RmLnBwdArgs *a = p;
  const int64_t n = a->dim;
  for (int64_t ch = begin; ch < end; ch++)
    {
      double *pw = a->partial + ch * 2 * n, *pb = pw + n;
      memset (pw, 0, (size_t) (2 * n) * sizeof *pw);
      const int64_t r1 = rm_min64 ((ch + 1) * a->chunk_rows, a->rows);
      for (int64_t r = ch * a->chunk_rows; r < r1; r++)
        {
          const float *x = a->x + r * n, *dy = a->dy + r * n;
          const double mean = a->mean[r], rstd = a->rstd[r];
          for (int64_t i = 0; i < n; i++)
            {
              pw[i] += (double) dy[i] * ((x[i] - mean) * rstd);
              pb[i] += dy[i];
            }
        }
    }
}

void
rm_cpu_layernorm_backward (RmThreadPool *pool, float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, int64_t rows, int64_t dim, float eps)
{
  if (rows == 0 || dim == 0)
    return;
  RmLnBwdArgs a = { dx, dw, db, dy, x, w, rows, dim, 1, 1, eps };
  a.mean = rm_scratch_alloc ((size_t) rows * sizeof (double));
  a.rstd = rm_scratch_alloc ((size_t) rows * sizeof (double));
  rm_parallel_for_grain (pool, rows, rm_row_grain (4 * dim), rm_ln_bwd_rows, &a);
  if (dw != NULL || db != NULL)
    {
      a.chunk_rows = RM_LN_CHUNK_ROWS;
      while ((rows + a.chunk_rows - 1) / a.chunk_rows * 2 * dim > ((int64_t) 8 << 20))
        a.chunk_rows *= 2;
      const int64_t chunks = (rows + a.chunk_rows - 1) / a.chunk_rows;
      a.partial = rm_scratch_alloc ((size_t) (chunks * 2 * dim) * sizeof (double));
      rm_parallel_for_grain (pool, chunks, 1, rm_ln_bwd_weights, &a);
      for (int64_t i = 0; i < dim; i++)
        {
          double sw = 0.0, sb = 0.0;
          for (int64_t ch = 0; ch < chunks; ch++)
            {
              sw += a.partial[ch * 2 * dim + i];
              sb += a.partial[ch * 2 * dim + dim + i];
            }
          if (dw != NULL)
            dw[i] += (float) sw;
          if (db != NULL)
            db[i] += (float) sb;
        }
      free (a.partial);
    }
  free (a.mean);
  free (a.rstd);
}

/* NCHW: statistics per (image, pixel) over the channels; items are blocks of pixels. */
#define RM_LN_PIX 64

static void
rm_ln_nchw_bwd_pixels (void *p, int64_t begin, int64_t end, int worker)
{
  const RmLnBwdArgs *a = p;
  const int64_t cn = a->dim, hw = a->pixels, n_blocks = (hw + RM_LN_PIX - 1) / RM_LN_PIX;
  double s[RM_LN_PIX], sg[RM_LN_PIX], sgx[RM_LN_PIX];
  for (int64_t item = begin; item < end; item++)
    {
      const int64_t bi = item / n_blocks, p0 = (item % n_blocks) * RM_LN_PIX;
      const int64_t np = rm_min64 (RM_LN_PIX, hw - p0);
      const float *x = a->x + bi * cn * hw + p0, *dy = a->dy + bi * cn * hw + p0;
      double *mean = a->mean + bi * hw + p0, *rstd = a->rstd + bi * hw + p0;
      for (int64_t j = 0; j < np; j++)
        s[j] = sg[j] = sgx[j] = 0.0;
      for (int64_t c = 0; c < cn; c++)
        for (int64_t j = 0; j < np; j++)
          s[j] += x[c * hw + j];
      for (int64_t j = 0; j < np; j++)
        {
          mean[j] = s[j] / (double) cn;
          s[j] = 0.0;
        }
      for (int64_t c = 0; c < cn; c++)
        for (int64_t j = 0; j < np; j++)
          {
            const double d = x[c * hw + j] - mean[j];
            s[j] += d * d;
          }
      for (int64_t j = 0; j < np; j++)
        rstd[j] = 1.0 / sqrt (s[j] / (double) cn + (double) a->eps);
      if (a->dx == NULL)
        continue;
      for (int64_t c = 0; c < cn; c++)
        for (int64_t j = 0; j < np; j++)
          {
            const double g = (double) dy[c * hw + j] * a->w[c];
            sg[j] += g;
            sgx[j] += g * (x[c * hw + j] - mean[j]) * rstd[j];
          }
      float *dx = a->dx + bi * cn * hw + p0;
      for (int64_t c = 0; c < cn; c++)
        for (int64_t j = 0; j < np; j++)
          {
            const double g = (double) dy[c * hw + j] * a->w[c];
            const double xh = (x[c * hw + j] - mean[j]) * rstd[j];
            dx[c * hw + j] +=
                (float) (rstd[j] * (g - sg[j] / (double) cn - xh * sgx[j] / (double) cn));
          }
    }
}

static void
rm_ln_nchw_bwd_weights (void *p, int64_t begin, int64_t end, int worker)
{
  const RmLnBwdArgs *a = p;
  const int64_t cn = a->dim, hw = a->pixels;
  for (int64_t c = begin; c < end; c++)
    {
      double sw = 0.0, sb = 0.0;
      for (int64_t bi = 0; bi < a->batch; bi++)
        {
          const float *x = a->x + (bi * cn + c) * hw, *dy = a->dy + (bi * cn + c) * hw;
          const double *mean = a->mean + bi * hw, *rstd = a->rstd + bi * hw;
          for (int64_t j = 0; j < hw; j++)
            {
              sw += (double) dy[j] * ((x[j] - mean[j]) * rstd[j]);
              sb += dy[j];
            }
        }
      if (a->dw != NULL)
        a->dw[c] += (float) sw;
      if (a->db != NULL)
        a->db[c] += (float) sb;
    }
}

void
rm_cpu_layernorm_nchw_backward (RmThreadPool *pool, float *dx, float *dw, float *db,
                                const float *dy, const float *x, const float *w, int64_t batch,
                                int64_t channels, int64_t pixels, float eps)
{
  if (batch == 0 || channels == 0 || pixels == 0)
    return;
  RmLnBwdArgs a = { dx, dw, db, dy, x, w, 0, channels, pixels, batch, eps };
  a.mean = rm_scratch_alloc ((size_t) (batch * pixels) * sizeof (double));
  a.rstd = rm_scratch_alloc ((size_t) (batch * pixels) * sizeof (double));
  const int64_t items = batch * ((pixels + RM_LN_PIX - 1) / RM_LN_PIX);
  rm_parallel_for_grain (pool, items, rm_row_grain (4 * channels * RM_LN_PIX),
                         rm_ln_nchw_bwd_pixels, &a);
  if (dw != NULL || db != NULL)
    rm_parallel_for_grain (pool, channels, rm_row_grain (2 * batch * pixels),
                           rm_ln_nchw_bwd_weights, &a);
  free (a.mean);
  free (a.rstd);
}

/* ---- attention -------------------------------------------------------------------------- */

/* Recomputes the probabilities block by block (nothing of size Nq x Nk is kept):
 *   pass 1, per (batch, head, block of queries): the softmax statistics (row max m and 1/l),
 *     delta = rowsum(dO * O), and dQ = scale dS K with dS = P (dP - delta), dP = dO V^T;
 *   pass 2, per (batch, head, block of keys): dV = P^T dO and dK = scale dS^T Q.
 * Scores are kept transposed (keys x queries) as in the forward. A masked key has P = 0; a
 * query whose keys are all masked (output 0) gets no gradient. */
#define RM_ABW_BQ 64  /* pass 1: queries per item */
#define RM_ABW_BK 256 /* pass 1: keys per step */
#define RM_ABW_KB 64  /* pass 2: keys per item */
#define RM_ABW_QS 256 /* pass 2: queries per step */

typedef struct
{
  float *dq, *dk, *dv;
  const float *dout, *q, *k, *v, *out;
  const RmAttnDims *d;
  const uint8_t *key_pad;
  float *m, *inv_l, *delta; /* (batch, heads, nq) */
  int64_t n_qblocks, n_kblocks;
} RmAttnBwdArgs;

/* t (c, ld) = the transpose of rows [0, n) x channels [0, c) of a (row stride lda). */
static void
rm_transpose_block (float *t, int64_t ld, const float *a, int64_t lda, int64_t n, int64_t c)
{
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t i = 0; i < n; i++)
      t[ch * ld + i] = a[i * lda + ch];
}

/* s (nk, ld) of raw scores K Q^T -> probabilities P^T with the saved statistics of queries
 * [0, nq) (m, inv_l), masked keys at 0. */
static void
rm_attn_probs (float *s, int64_t ld, int64_t nk, int64_t nq, float scale, const uint8_t *pad,
               const float *m, const float *inv_l)
{
  for (int64_t j = 0; j < nk; j++)
    {
      float *sj = s + j * ld;
      if (pad != NULL && pad[j])
        {
          memset (sj, 0, (size_t) nq * sizeof *sj);
          continue;
        }
      for (int64_t i = 0; i < nq; i++)
        sj[i] = sj[i] * scale - m[i];
      rm_cpu_expf (sj, sj, nq);
      for (int64_t i = 0; i < nq; i++)
        sj[i] *= inv_l[i];
    }
}

static void
rm_attn_bwd_queries (void *p, int64_t begin, int64_t end, int worker)
{
  const RmAttnBwdArgs *a = p;
  const RmAttnDims *d = a->d;
  const int64_t dh = d->dh, dv = d->dv, heads = d->heads, nk_all = d->nk;
  const int64_t ldq = heads * dh, ldv = heads * dv;
  enum
  {
    BQ = RM_ABW_BQ,
    BK = RM_ABW_BK
  };
  float *qt =
      rm_scratch_alloc ((size_t) (dh * BQ + dv * BQ + 2 * BK * BQ + BQ * dh) * sizeof (float));
  float *dot = qt + dh * BQ; /* dO^T (dv, BQ) */
  float *s = dot + dv * BQ;  /* (BK, BQ) */
  float *dp = s + BK * BQ;   /* (BK, BQ) */
  float *dqa = dp + BK * BQ; /* (BQ, dh) */
  double l[BQ];
  float mnew[BQ], fac[BQ], shift[BQ];

  for (int64_t item = begin; item < end; item++)
    {
      const int64_t qb = item % a->n_qblocks, bh = item / a->n_qblocks;
      const int64_t h = bh % heads, b = bh / heads;
      const int64_t q0 = qb * BQ, nq = rm_min64 (BQ, d->nq - q0);
      const float *qbase = a->q + (b * d->nq + q0) * ldq + h * dh;
      const float *obase = a->out + (b * d->nq + q0) * ldv + h * dv;
      const float *gbase = a->dout + (b * d->nq + q0) * ldv + h * dv;
      const uint8_t *pad = a->key_pad != NULL ? a->key_pad + b * nk_all : NULL;
      float *m = a->m + bh * d->nq + q0, *inv_l = a->inv_l + bh * d->nq + q0;
      float *delta = a->delta + bh * d->nq + q0;

      rm_transpose_block (qt, BQ, qbase, ldq, nq, dh);
      rm_transpose_block (dot, BQ, gbase, ldv, nq, dv);

      /* Softmax statistics in one sweep with the forward's online rescaling (running max m,
       * sum l rescaled by exp(m_old - m_new) when the max grows). */
      for (int64_t i = 0; i < nq; i++)
        {
          m[i] = -INFINITY;
          l[i] = 0.0;
        }
      for (int64_t k0 = 0; k0 < nk_all; k0 += BK)
        {
          const int64_t nk = rm_min64 (BK, nk_all - k0);
          rm_cpu_tile_gemm (nk, nq, dh, a->k + (b * nk_all + k0) * ldq + h * dh, ldq, 1, qt, BQ, s,
                            BQ, false);
          for (int64_t i = 0; i < nq; i++)
            mnew[i] = m[i];
          for (int64_t j = 0; j < nk; j++)
            {
              float *sj = s + j * BQ;
              if (pad != NULL && pad[k0 + j])
                continue;
              for (int64_t i = 0; i < nq; i++)
                {
                  sj[i] *= d->scale;
                  mnew[i] = fmaxf (mnew[i], sj[i]);
                }
            }
          for (int64_t i = 0; i < nq; i++)
            {
              /* exp(m - mnew): 1 when the max stays, 0 from -inf; a row with only masked keys
               * so far keeps -inf and shifts by 0. */
              fac[i] = m[i] == -INFINITY ? 0.0f : m[i] - mnew[i];
              shift[i] = mnew[i] == -INFINITY ? 0.0f : mnew[i];
              m[i] = mnew[i];
            }
          rm_cpu_expf (fac, fac, nq);
          for (int64_t i = 0; i < nq; i++)
            l[i] *= m[i] == -INFINITY ? 0.0 : (double) fac[i];
          for (int64_t j = 0; j < nk; j++)
            {
              if (pad != NULL && pad[k0 + j])
                continue;
              float *sj = s + j * BQ;
              for (int64_t i = 0; i < nq; i++)
                sj[i] -= shift[i];
              rm_cpu_expf (sj, sj, nq);
              for (int64_t i = 0; i < nq; i++)
                l[i] += sj[i];
            }
        }
      for (int64_t i = 0; i < nq; i++)
        {
          if (m[i] == -INFINITY || l[i] <= 0.0)
            {
              m[i] = 0.0f; /* every key masked: P = 0 */
              inv_l[i] = 0.0f;
            }
          else
            inv_l[i] = (float) (1.0 / l[i]);
          double dl = 0.0;
          for (int64_t c = 0; c < dv; c++)
            dl += (double) gbase[i * ldv + c] * obase[i * ldv + c];
          delta[i] = (float) dl;
        }
      if (a->dq == NULL)
        continue;

      memset (dqa, 0, (size_t) (nq * dh) * sizeof *dqa);
      for (int64_t k0 = 0; k0 < nk_all; k0 += BK)
        {
          const int64_t nk = rm_min64 (BK, nk_all - k0);
          const float *kbase = a->k + (b * nk_all + k0) * ldq + h * dh;
          const float *vbase = a->v + (b * nk_all + k0) * ldv + h * dv;
          rm_cpu_tile_gemm (nk, nq, dh, kbase, ldq, 1, qt, BQ, s, BQ, false);
          rm_attn_probs (s, BQ, nk, nq, d->scale, pad != NULL ? pad + k0 : NULL, m, inv_l);
          rm_cpu_tile_gemm (nk, nq, dv, vbase, ldv, 1, dot, BQ, dp, BQ, false);
          for (int64_t j = 0; j < nk; j++)
            for (int64_t i = 0; i < nq; i++)
              s[j * BQ + i] *= (dp[j * BQ + i] - delta[i]) * d->scale;
          /* dQ (nq, dh) += dS (nq, nk) K (nk, dh); dS read transposed out of s. */
          rm_cpu_tile_gemm (nq, dh, nk, s, 1, BQ, kbase, ldq, dqa, dh, true);
        }
      float *dq = a->dq + (b * d->nq + q0) * ldq + h * dh;
      for (int64_t i = 0; i < nq; i++)
        for (int64_t c = 0; c < dh; c++)
          dq[i * ldq + c] += dqa[i * dh + c];
    }
  free (qt);
}

static void
rm_attn_bwd_keys (void *p, int64_t begin, int64_t end, int worker)
{
  const RmAttnBwdArgs *a = p;
  const RmAttnDims *d = a->d;
  const int64_t dh = d->dh, dv = d->dv, heads = d->heads, nk_all = d->nk;
  const int64_t ldq = heads * dh, ldv = heads * dv;
  enum
  {
    KB = RM_ABW_KB,
    QS = RM_ABW_QS
  };
  float *qt = rm_scratch_alloc ((size_t) (dh * QS + dv * QS + 2 * KB * QS + KB * dh + KB * dv) *
                                sizeof (float));
  float *dot = qt + dh * QS;
  float *s = dot + dv * QS; /* P^T (KB, QS) */
  float *dp = s + KB * QS;  /* dP^T, then dS^T (KB, QS) */
  float *dka = dp + KB * QS;
  float *dva = dka + KB * dh;

  for (int64_t item = begin; item < end; item++)
    {
      const int64_t kb = item % a->n_kblocks, bh = item / a->n_kblocks;
      const int64_t h = bh % heads, b = bh / heads;
      const int64_t k0 = kb * KB, nk = rm_min64 (KB, nk_all - k0);
      const float *kbase = a->k + (b * nk_all + k0) * ldq + h * dh;
      const float *vbase = a->v + (b * nk_all + k0) * ldv + h * dv;
      const uint8_t *pad = a->key_pad != NULL ? a->key_pad + b * nk_all + k0 : NULL;
      memset (dka, 0, (size_t) (nk * dh) * sizeof *dka);
      memset (dva, 0, (size_t) (nk * dv) * sizeof *dva);

      for (int64_t q0 = 0; q0 < d->nq; q0 += QS)
        {
          const int64_t nq = rm_min64 (QS, d->nq - q0);
          const float *qbase = a->q + (b * d->nq + q0) * ldq + h * dh;
          const float *gbase = a->dout + (b * d->nq + q0) * ldv + h * dv;
          const float *m = a->m + bh * d->nq + q0, *inv_l = a->inv_l + bh * d->nq + q0;
          const float *delta = a->delta + bh * d->nq + q0;
          rm_transpose_block (qt, QS, qbase, ldq, nq, dh);
          rm_transpose_block (dot, QS, gbase, ldv, nq, dv);
          rm_cpu_tile_gemm (nk, nq, dh, kbase, ldq, 1, qt, QS, s, QS, false);
          rm_attn_probs (s, QS, nk, nq, d->scale, pad, m, inv_l);
          if (a->dv != NULL) /* dV (nk, dv) += P^T (nk, nq) dO (nq, dv) */
            rm_cpu_tile_gemm (nk, dv, nq, s, QS, 1, gbase, ldv, dva, dv, true);
          if (a->dk == NULL)
            continue;
          rm_cpu_tile_gemm (nk, nq, dv, vbase, ldv, 1, dot, QS, dp, QS, false);
          for (int64_t j = 0; j < nk; j++)
            for (int64_t i = 0; i < nq; i++)
              dp[j * QS + i] = s[j * QS + i] * (dp[j * QS + i] - delta[i]) * d->scale;
          /* dK (nk, dh) += dS^T (nk, nq) Q (nq, dh) */
          rm_cpu_tile_gemm (nk, dh, nq, dp, QS, 1, qbase, ldq, dka, dh, true);
        }
      if (a->dk != NULL)
        {
          float *dk = a->dk + (b * nk_all + k0) * ldq + h * dh;
          for (int64_t j = 0; j < nk; j++)
            for (int64_t c = 0; c < dh; c++)
              dk[j * ldq + c] += dka[j * dh + c];
        }
      if (a->dv != NULL)
        {
          float *dvo = a->dv + (b * nk_all + k0) * ldv + h * dv;
          for (int64_t j = 0; j < nk; j++)
            for (int64_t c = 0; c < dv; c++)
              dvo[j * ldv + c] += dva[j * dv + c];
        }
    }
  free (qt);
}

void
rm_cpu_attention_backward (RmThreadPool *pool, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *out,
                           const RmAttnDims *d, const uint8_t *key_pad)
{
  if (d->batch == 0 || d->heads == 0 || d->nq == 0 || d->nk == 0)
    return;
  const int64_t rows = d->batch * d->heads * d->nq;
  RmAttnBwdArgs a = { dq, dk, dv, dout, q, k, v, out, d, key_pad };
  a.m = rm_scratch_alloc ((size_t) (3 * rows) * sizeof (float));
  a.inv_l = a.m + rows;
  a.delta = a.inv_l + rows;
  a.n_qblocks = (d->nq + RM_ABW_BQ - 1) / RM_ABW_BQ;
  a.n_kblocks = (d->nk + RM_ABW_KB - 1) / RM_ABW_KB;
  rm_parallel_for (pool, d->batch * d->heads * a.n_qblocks, rm_attn_bwd_queries, &a);
  if (dk != NULL || dv != NULL)
    rm_parallel_for (pool, d->batch * d->heads * a.n_kblocks, rm_attn_bwd_keys, &a);
  free (a.m);
}

/* ---- convolutions ----------------------------------------------------------------------- */

#define RM_COL_FLOATS ((int64_t) 4 << 20)

typedef struct
{
  float *col;
  const float *x; /* one image (cin, h, w) */
  float *dx;      /* col2im target, one image */
  const RmConvDims *d;
  int64_t p0, np;
} RmColArgs;

/* Parallel over input channels: the taps of one channel only touch that channel's plane. */
static void
rm_col2im_channels (void *p, int64_t begin, int64_t end, int worker)
{
  const RmColArgs *a = p;
  const RmConvDims *d = a->d;
  for (int64_t c = begin; c < end; c++)
    {
      float *xc = a->dx + c * d->h * d->w;
      for (int64_t ki = 0; ki < d->kh; ki++)
        for (int64_t kj = 0; kj < d->kw; kj++)
          {
            const float *src = a->col + ((c * d->kh + ki) * d->kw + kj) * a->np;
            for (int64_t t = 0; t < a->np; t++)
              {
                const int64_t pix = a->p0 + t, oy = pix / d->ow, ox = pix % d->ow;
                const int64_t iy = oy * d->stride - d->pad + ki, ix = ox * d->stride - d->pad + kj;
                if (iy >= 0 && iy < d->h && ix >= 0 && ix < d->w)
                  xc[iy * d->w + ix] += src[t];
              }
          }
    }
}

typedef struct
{
  float *db;
  const float *dy;
  int64_t batch, channels, pixels;
} RmBiasGradArgs;

/* db[c] += sum over images and pixels of dy (batch, channels, pixels), in double. */
static void
rm_bias_grad_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmBiasGradArgs *a = p;
  for (int64_t c = begin; c < end; c++)
    {
      double s = 0.0;
      for (int64_t bi = 0; bi < a->batch; bi++)
        {
          const float *row = a->dy + (bi * a->channels + c) * a->pixels;
          for (int64_t j = 0; j < a->pixels; j++)
            s += row[j];
        }
      a->db[c] += (float) s;
    }
}

static void
rm_bias_grad (RmThreadPool *pool, float *db, const float *dy, int64_t batch, int64_t channels,
              int64_t pixels)
{
  RmBiasGradArgs a = { db, dy, batch, channels, pixels };
  rm_parallel_for_grain (pool, channels, rm_row_grain (batch * pixels), rm_bias_grad_range, &a);
}

void
rm_cpu_conv2d_backward (RmThreadPool *pool, float *dx, float *dw, float *db, const float *dy,
                        const float *x, const float *w, const RmConvDims *d)
{
  const int64_t pix = d->oh * d->ow, ck = d->cin * d->kh * d->kw;
  if (pix == 0 || d->batch == 0)
    return;
  if (db != NULL)
    rm_bias_grad (pool, db, dy, d->batch, d->cout, pix);
  if (dx == NULL && dw == NULL)
    return;
  const bool direct = d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
  const int64_t band = rm_max64 (1, rm_min64 (pix, RM_COL_FLOATS / rm_max64 (1, ck)));
  float *col = direct ? NULL : rm_scratch_alloc ((size_t) (ck * band) * sizeof (float));
  for (int64_t bi = 0; bi < d->batch; bi++)
    {
      const float *xb = x + bi * d->cin * d->h * d->w, *gb = dy + bi * d->cout * pix;
      float *dxb = dx != NULL ? dx + bi * d->cin * d->h * d->w : NULL;
      if (direct)
        {
          if (dw != NULL) /* dW (cout, cin) += dY (cout, pix) X^T */
            rm_cpu_gemm (pool, false, true, d->cout, d->cin, pix, 1.0f, gb, pix, xb, pix, 1.0f, dw,
                         d->cin);
          if (dxb != NULL) /* dX (cin, pix) += W^T dY */
            rm_cpu_gemm (pool, true, false, d->cin, pix, d->cout, 1.0f, w, d->cin, gb, pix, 1.0f,
                         dxb, pix);
          continue;
        }
      for (int64_t p0 = 0; p0 < pix; p0 += band)
        {
          const int64_t np = rm_min64 (band, pix - p0);
          RmColArgs a = { col, xb, dxb, d, p0, np };
          if (dw != NULL)
            {
              RmIm2colArgs ia = { col, xb, d, p0, np };
              rm_parallel_for_grain (pool, ck, rm_row_grain (np), rm_cpu_im2col_range, &ia);
              rm_cpu_gemm (pool, false, true, d->cout, ck, np, 1.0f, gb + p0, pix, col, np, 1.0f,
                           dw, ck);
            }
          if (dxb != NULL)
            {
              /* col (ck, np) = W^T (ck, cout) dY (cout, np), then scattered back. */
              rm_cpu_gemm (pool, true, false, ck, np, d->cout, 1.0f, w, ck, gb + p0, pix, 0.0f, col,
                           np);
              rm_parallel_for_grain (pool, d->cin, rm_row_grain (d->kh * d->kw * np),
                                     rm_col2im_channels, &a);
            }
        }
    }
  free (col);
}

typedef struct
{
  float *tmp;      /* (cout*4, h*w) */
  const float *dy; /* (cout, 2h, 2w) of one image */
  int64_t h, w;
} RmGather2x2Args;

static void
rm_gather2x2_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmGather2x2Args *a = p;
  const int64_t h = a->h, w = a->w;
  for (int64_t row = begin; row < end; row++) /* (o, y) */
    {
      const int64_t o = row / h, y = row % h;
      for (int dy = 0; dy < 2; dy++)
        {
          const float *in = a->dy + (o * 2 * h + 2 * y + dy) * 2 * w;
          float *t0 = a->tmp + ((o * 4 + dy * 2) * h + y) * w, *t1 = t0 + h * w;
          for (int64_t xi = 0; xi < w; xi++)
            {
              t0[xi] = in[2 * xi];
              t1[xi] = in[2 * xi + 1];
            }
        }
    }
}

void
rm_cpu_conv_transpose2x2_backward (RmThreadPool *pool, float *dx, float *dw, float *db,
                                   const float *dy, const float *x, const float *w, int64_t batch,
                                   int64_t cin, int64_t h, int64_t width, int64_t cout)
{
  const int64_t hw = h * width;
  if (hw == 0 || cout == 0 || batch == 0)
    return;
  if (db != NULL)
    rm_bias_grad (pool, db, dy, batch, cout, 4 * hw);
  if (dx == NULL && dw == NULL)
    return;
  float *tmp = rm_scratch_alloc ((size_t) (4 * cout * hw) * sizeof (float));
  for (int64_t bi = 0; bi < batch; bi++)
    {
      RmGather2x2Args a = { tmp, dy + bi * cout * 4 * hw, h, width };
      rm_parallel_for_grain (pool, cout * h, rm_row_grain (4 * width), rm_gather2x2_range, &a);
      if (dx != NULL) /* dX (cin, hw) += W (cin, 4 cout) T (4 cout, hw) */
        rm_cpu_gemm (pool, false, false, cin, hw, 4 * cout, 1.0f, w, 4 * cout, tmp, hw, 1.0f,
                     dx + bi * cin * hw, hw);
      if (dw != NULL) /* dW (cin, 4 cout) += X (cin, hw) T^T */
        rm_cpu_gemm (pool, false, true, cin, 4 * cout, hw, 1.0f, x + bi * cin * hw, hw, tmp, hw,
                     1.0f, dw, 4 * cout);
    }
  free (tmp);
}

/* ---- pooling, resampling, windows ------------------------------------------------------- */

typedef struct
{
  float *dx;
  const float *dy, *x;
  int64_t h, w, c, oh, ow;
} RmPoolBwdArgs;

static void
rm_maxpool_bwd_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmPoolBwdArgs *a = p;
  for (int64_t row = begin; row < end; row++) /* (b, oy) */
    {
      const int64_t bi = row / a->oh, oy = row % a->oh;
      const int64_t base = ((bi * a->h + 2 * oy) * a->w) * a->c;
      const float *g = a->dy + row * a->ow * a->c;
      for (int64_t ox = 0; ox < a->ow; ox++)
        {
          /* Candidates in PyTorch's scan order: (0,0), (0,1), (1,0), (1,1). */
          const int64_t off[4] = { base + 2 * ox * a->c, base + (2 * ox + 1) * a->c,
                                   base + (a->w + 2 * ox) * a->c,
                                   base + (a->w + 2 * ox + 1) * a->c };
          for (int64_t ch = 0; ch < a->c; ch++)
            {
              int best = 0;
              float mv = a->x[off[0] + ch];
              for (int t = 1; t < 4; t++)
                {
                  const float v = a->x[off[t] + ch];
                  if (v > mv || isnan (v))
                    {
                      mv = v;
                      best = t;
                    }
                }
              a->dx[off[best] + ch] += g[ox * a->c + ch];
            }
        }
    }
}

void
rm_cpu_maxpool2x2_nhwc_backward (RmThreadPool *pool, float *dx, const float *dy, const float *x,
                                 int64_t batch, int64_t h, int64_t width, int64_t c)
{
  RmPoolBwdArgs a = { dx, dy, x, h, width, c, h / 2, width / 2 };
  rm_parallel_for_grain (pool, batch * a.oh, rm_row_grain (4 * a.ow * c), rm_maxpool_bwd_range, &a);
}

static void
rm_nearest_bwd_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmPoolBwdArgs *a = p;
  for (int64_t row = begin; row < end; row++) /* input row of a plane: plane*h + y */
    {
      const float *g0 = a->dy + 2 * row * 2 * a->w, *g1 = g0 + 2 * a->w;
      float *d = a->dx + row * a->w;
      for (int64_t xi = 0; xi < a->w; xi++)
        d[xi] += (g0[2 * xi] + g0[2 * xi + 1]) + (g1[2 * xi] + g1[2 * xi + 1]);
    }
}

void
rm_cpu_upsample_nearest2x_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                    int64_t h, int64_t width)
{
  RmPoolBwdArgs a = { dx, dy, NULL, h, width, 1, 2 * h, 2 * width };
  rm_parallel_for_grain (pool, planes * h, rm_row_grain (4 * width), rm_nearest_bwd_range, &a);
}

/* Resampling is linear: out = Ty X Tx^T per plane, so dX = Ty^T dY Tx, taken as two sparse
 * passes (along x into a (oh, w) buffer, then along y). An axis the forward leaves alone (the
 * antialiased path when its size does not change) has the identity table. */
typedef struct
{
  float *dx;
  const float *dy;
  const RmCpuTaps *ty, *tx;
  int64_t h, w, oh, ow;
} RmResizeBwdArgs;

static void
rm_resize_bwd_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmResizeBwdArgs *a = p;
  const RmCpuTaps *ty = a->ty, *tx = a->tx;
  float *tmp = rm_scratch_alloc ((size_t) (a->oh * a->w) * sizeof (float));
  for (int64_t plane = begin; plane < end; plane++)
    {
      const float *g = a->dy + plane * a->oh * a->ow;
      float *d = a->dx + plane * a->h * a->w;
      memset (tmp, 0, (size_t) (a->oh * a->w) * sizeof *tmp);
      for (int64_t oy = 0; oy < a->oh; oy++)
        {
          float *t = tmp + oy * a->w;
          const float *gr = g + oy * a->ow;
          for (int64_t ox = 0; ox < a->ow; ox++)
            for (int64_t j = 0; j < tx->count[ox]; j++)
              t[tx->index[ox * tx->taps + j]] += tx->weight[ox * tx->taps + j] * gr[ox];
        }
      for (int64_t oy = 0; oy < a->oh; oy++)
        {
          const float *t = tmp + oy * a->w;
          for (int64_t i = 0; i < ty->count[oy]; i++)
            {
              float *dr = d + ty->index[oy * ty->taps + i] * a->w;
              const float wy = ty->weight[oy * ty->taps + i];
              for (int64_t xi = 0; xi < a->w; xi++)
                dr[xi] += wy * t[xi];
            }
        }
    }
  free (tmp);
}

static void
rm_taps_identity (RmCpuTaps *t, int64_t n)
{
  t->n_out = n;
  t->taps = 1;
  t->first = rm_scratch_alloc ((size_t) n * sizeof (int64_t));
  t->count = rm_scratch_alloc ((size_t) n * sizeof (int64_t));
  t->index = rm_scratch_alloc ((size_t) n * sizeof (int64_t));
  t->weight = rm_scratch_alloc ((size_t) n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    {
      t->first[i] = t->index[i] = i;
      t->count[i] = 1;
      t->weight[i] = 1.0f;
    }
}

static void
rm_resize_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t planes, int64_t h,
                    int64_t width, int64_t oh, int64_t ow, RmCpuTapsKind kind)
{
  if (planes == 0 || oh == 0 || ow == 0)
    return;
  RmCpuTaps ty, tx;
  /* The antialiased forward skips an axis whose size does not change; the others always
   * resample (plain bilinear with equal sizes is the identity up to its weights anyway). */
  if (kind == RM_CPU_TAPS_LINEAR_AA && h == oh)
    rm_taps_identity (&ty, h);
  else
    rm_cpu_taps_build (&ty, kind, h, oh);
  if (kind == RM_CPU_TAPS_LINEAR_AA && width == ow)
    rm_taps_identity (&tx, width);
  else
    rm_cpu_taps_build (&tx, kind, width, ow);
  /* The non-antialiased tables use all their taps (count may be left unset by them). */
  if (kind != RM_CPU_TAPS_LINEAR_AA)
    {
      for (int64_t i = 0; i < oh; i++)
        ty.count[i] = ty.taps;
      for (int64_t i = 0; i < ow; i++)
        tx.count[i] = tx.taps;
    }
  RmResizeBwdArgs a = { dx, dy, &ty, &tx, h, width, oh, ow };
  rm_parallel_for_grain (pool, planes, rm_row_grain (oh * ow * 4), rm_resize_bwd_range, &a);
  rm_cpu_taps_free (&ty);
  rm_cpu_taps_free (&tx);
}

void
rm_cpu_resize_bilinear_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                 int64_t h, int64_t width, int64_t oh, int64_t ow, bool antialias)
{
  rm_resize_backward (pool, dx, dy, planes, h, width, oh, ow,
                      antialias ? RM_CPU_TAPS_LINEAR_AA : RM_CPU_TAPS_LINEAR);
}

void
rm_cpu_resize_bicubic_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t planes,
                                int64_t h, int64_t width, int64_t oh, int64_t ow)
{
  rm_resize_backward (pool, dx, dy, planes, h, width, oh, ow, RM_CPU_TAPS_CUBIC);
}

typedef struct
{
  float *dx;
  const float *dy;
  int64_t h, w, c, win, nwh, nww;
  bool partition; /* partition backward: dy windows -> dx map; else dy map -> dx windows */
} RmWindowBwdArgs;

static void
rm_window_bwd_range (void *p, int64_t begin, int64_t end, int worker)
{
  const RmWindowBwdArgs *a = p;
  for (int64_t item = begin; item < end; item++) /* (window, row in window) */
    {
      const int64_t r = item % a->win, wi = item / a->win;
      const int64_t ww = wi % a->nww, wh = (wi / a->nww) % a->nwh, bi = wi / (a->nww * a->nwh);
      const int64_t y = wh * a->win + r, x0 = ww * a->win;
      const int64_t valid = y < a->h ? rm_max64 (0, rm_min64 (a->win, a->w - x0)) : 0;
      const int64_t n = valid * a->c;
      const int64_t map_off = ((bi * a->h + y) * a->w + x0) * a->c, win_off = item * a->win * a->c;
      float *d = a->dx + (a->partition ? map_off : win_off);
      const float *s = a->dy + (a->partition ? win_off : map_off);
      for (int64_t i = 0; i < n; i++)
        d[i] += s[i];
    }
}

void
rm_cpu_window_partition_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t batch,
                                  int64_t h, int64_t width, int64_t c, int64_t win)
{
  RmWindowBwdArgs a = {
    dx, dy, h, width, c, win, (h + win - 1) / win, (width + win - 1) / win, true
  };
  rm_parallel_for_grain (pool, batch * a.nwh * a.nww * win, rm_row_grain (win * c),
                         rm_window_bwd_range, &a);
}

void
rm_cpu_window_unpartition_backward (RmThreadPool *pool, float *dx, const float *dy, int64_t batch,
                                    int64_t hp, int64_t wp, int64_t h, int64_t width, int64_t c,
                                    int64_t win)
{
  RmWindowBwdArgs a = { dx, dy, h, width, c, win, hp / win, wp / win, false };
  rm_parallel_for_grain (pool, batch * a.nwh * a.nww * win, rm_row_grain (win * c),
                         rm_window_bwd_range, &a);
}
