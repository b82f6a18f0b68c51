/* SPDX-License-Identifier: GPL-3.0-or-later
 * The op layer against naive double-precision references, on small random tensors with
 * awkward sizes (odd, not multiples of the kernels' tiles, padded, masked).
 */
#include "rm-backend.h"
#include "rm-ops.h"
#include "rm-tape.h"
#include "rm-threadpool.h"

#include <glib.h>
#include <math.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static uint64_t rng_state;

static void
rng_seed (uint64_t seed)
{
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
}

/* Uniform in [-1, 1). */
static float
rng_float (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (float) ((double) ((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (double) (1 << 23) - 1.0);
}

static RmTensor *
rand_tensor (RmCtx *ctx, int ndim, const int64_t *shape, float scale)
{
  RmTensor *t = rm_new (ctx, ndim, shape);
  for (int64_t i = 0; i < rm_tensor_numel (t); i++)
    t->data[i] = scale * rng_float ();
  return t;
}

#define SHAPE(...) \
  (const int64_t[]){ __VA_ARGS__ }, (int) (sizeof ((int64_t[]){ __VA_ARGS__ }) / sizeof (int64_t))
#define RAND(ctx, scale, ...)                                                         \
  rand_tensor ((ctx), (int) (sizeof ((int64_t[]){ __VA_ARGS__ }) / sizeof (int64_t)), \
               (const int64_t[]){ __VA_ARGS__ }, (scale))

static double *
ref_alloc (int64_t n)
{
  return g_new0 (double, n > 0 ? n : 1);
}

/* |got - ref| <= atol + rtol |ref| everywhere; on failure names the first bad element. */
static void
assert_close (const char *what, const float *got, const double *ref, int64_t n, double rtol,
              double atol)
{
  for (int64_t i = 0; i < n; i++)
    {
      double err = fabs ((double) got[i] - ref[i]);
      if (!(err <= atol + rtol * fabs (ref[i])))
        {
          g_test_fail_printf ("%s: element %" G_GINT64_FORMAT " is %.9g, expected %.9g (err %.3g)",
                              what, (gint64) i, (double) got[i], ref[i], err);
          return;
        }
    }
}

static void
assert_shape (const RmTensor *t, const int64_t *shape, int ndim)
{
  g_assert_cmpint (t->ndim, ==, ndim);
  for (int i = 0; i < ndim; i++)
    g_assert_cmpint (t->shape[i], ==, shape[i]);
  g_assert_true (rm_tensor_is_contiguous (t));
}

static RmCtx *
new_ctx (int n_threads)
{
  rng_seed ((uint64_t) g_test_rand_int ());
  return rm_ctx_new (n_threads);
}

/* Row-major index of a multi-index. */
static int64_t
flat_index (const int64_t *shape, const int64_t *idx, int ndim)
{
  int64_t f = 0;
  for (int i = 0; i < ndim; i++)
    f = f * shape[i] + idx[i];
  return f;
}

static void
unravel (int64_t f, const int64_t *shape, int ndim, int64_t *idx)
{
  for (int i = ndim - 1; i >= 0; i--)
    {
      idx[i] = f % shape[i];
      f /= shape[i];
    }
}

/* ---- infrastructure --------------------------------------------------------------------- */

static void
test_arena (void)
{
  RmArena *arena = rm_arena_new (4096);
  g_assert_cmpuint (rm_arena_bytes_in_use (arena), ==, 0);
  char *a = rm_arena_alloc (arena, 1);
  char *b = rm_arena_alloc (arena, 100);
  g_assert_cmpuint ((uintptr_t) a % 64, ==, 0);
  g_assert_cmpuint ((uintptr_t) b % 64, ==, 0);
  g_assert_true (b >= a + 64);
  memset (b, 1, 100);
  g_assert_cmpuint (rm_arena_bytes_in_use (arena), ==, 64 + 128);

  /* Larger than a chunk: its own block, still aligned and writable. */
  char *big = rm_arena_alloc (arena, 100000);
  g_assert_cmpuint ((uintptr_t) big % 64, ==, 0);
  memset (big, 2, 100000);
  char *c = rm_arena_alloc (arena, 64);
  g_assert_true (c == b + 128); /* the big block did not consume the current chunk */
  size_t peak = rm_arena_peak_bytes (arena);
  g_assert_cmpuint (peak, >=, 100000 + 256);

  /* Filling more chunks, then a reset: memory is reused, the peak remembered. */
  for (int i = 0; i < 10; i++)
    memset (rm_arena_alloc (arena, 3000), 3, 3000);
  peak = rm_arena_peak_bytes (arena);
  rm_arena_reset (arena);
  g_assert_cmpuint (rm_arena_bytes_in_use (arena), ==, 0);
  g_assert_cmpuint (rm_arena_peak_bytes (arena), ==, peak);
  g_assert_true (rm_arena_alloc (arena, 10) == a);
  rm_arena_free (arena);
}

typedef struct
{
  int *hits;
  RmThreadPool *pool;
  gint nested_sum;
} PoolArgs;

static void
pool_nested_range (void *p, int64_t begin, int64_t end, int worker)
{
  PoolArgs *a = p;
  g_atomic_int_add (&a->nested_sum, (gint) (end - begin));
}

static void
pool_range (void *p, int64_t begin, int64_t end, int worker)
{
  PoolArgs *a = p;
  g_assert_cmpint (worker, >=, 0);
  g_assert_cmpint (worker, <, rm_threadpool_size (a->pool));
  for (int64_t i = begin; i < end; i++)
    g_atomic_int_inc (&a->hits[i]);
  /* Nested sections run serially on the calling thread. */
  rm_parallel_for (a->pool, 3, pool_nested_range, a);
}

static void
test_threadpool (void)
{
  for (int threads = 1; threads <= 3; threads++)
    {
      RmThreadPool *pool = rm_threadpool_new (threads);
      g_assert_cmpint (rm_threadpool_size (pool), ==, threads);
      for (int64_t n = 0; n < 40; n += 7)
        for (int rep = 0; rep < 20; rep++)
          {
            int hits[40] = { 0 };
            PoolArgs a = { hits, pool, 0 };
            rm_parallel_for (pool, n, pool_range, &a);
            for (int64_t i = 0; i < n; i++)
              g_assert_cmpint (hits[i], ==, 1);
            if (n > 0)
              g_assert_cmpint (a.nested_sum % 3, ==, 0);
          }
      rm_threadpool_free (pool);
    }
}

typedef struct
{
  int64_t grain;
  gint misaligned;
  gint covered;
} GrainArgs;

static void
grain_range (void *p, int64_t begin, int64_t end, int worker)
{
  GrainArgs *a = p;
  if (begin % a->grain != 0)
    g_atomic_int_inc (&a->misaligned);
  g_atomic_int_add (&a->covered, (gint) (end - begin));
}

/* Ranges are whole grains for any thread count (only the last may end short): a vector loop
 * and its scalar tail then fall on the same items as on one thread, so the bits do not depend
 * on the thread count. */
static void
test_threadpool_grains (void)
{
  for (int threads = 1; threads <= 5; threads++)
    {
      RmThreadPool *pool = rm_threadpool_new (threads);
      for (int64_t grain = 1; grain <= 64; grain *= 4)
        for (int64_t n = 1; n < 3000; n = n * 3 + 1)
          {
            GrainArgs a = { grain, 0, 0 };
            rm_parallel_for_grain (pool, n, grain, grain_range, &a);
            g_assert_cmpint (a.misaligned, ==, 0);
            g_assert_cmpint (a.covered, ==, n);
          }
      rm_threadpool_free (pool);
    }
}

static void
test_shapes (void)
{
  RmCtx *ctx = new_ctx (1);
  RmTensor *t = rm_new_4d (ctx, 2, 3, 4, 5);
  char buf[64];
  g_assert_cmpstr (rm_shape_str (t, buf, sizeof buf), ==, "[2, 3, 4, 5]");
  g_assert_cmpint (rm_tensor_numel (t), ==, 120);
  g_assert_cmpint (t->stride[0], ==, 60);
  g_assert_true (rm_tensor_is_contiguous (t));
  RmTensor *s = rm_new (ctx, 0, NULL);
  g_assert_cmpint (rm_tensor_numel (s), ==, 1);
  g_assert_cmpstr (rm_shape_str (s, buf, sizeof buf), ==, "[]");

  RmTensor *z = rm_zeros (ctx, 2, (const int64_t[]){ 3, 7 });
  for (int i = 0; i < 21; i++)
    g_assert_cmpfloat (z->data[i], ==, 0.0f);

  RmTensor *r = rm_reshape (ctx, t, 2, (const int64_t[]){ 6, 20 });
  g_assert_true (r->data == t->data);
  g_assert_true (rm_tensor_is_contiguous (r));
  g_assert_false (rm_tensor_same_shape (r, t));

  RmTensor v = *t;
  v.stride[1] = 1;
  v.stride[3] = 3;
  g_assert_false (rm_tensor_is_contiguous (&v));
  rm_ctx_free (ctx);
}

/* ---- layout ----------------------------------------------------------------------------- */

static void
check_permute (RmCtx *ctx, const int64_t *shape, int ndim, const int *perm)
{
  RmTensor *x = rand_tensor (ctx, ndim, shape, 1.0f);
  RmTensor *y = rm_permute (ctx, x, perm);
  int64_t oshape[RM_MAX_DIMS], idx[RM_MAX_DIMS], src[RM_MAX_DIMS];
  for (int i = 0; i < ndim; i++)
    oshape[i] = shape[perm[i]];
  assert_shape (y, oshape, ndim);
  for (int64_t f = 0; f < rm_tensor_numel (y); f++)
    {
      unravel (f, oshape, ndim, idx);
      for (int i = 0; i < ndim; i++)
        src[perm[i]] = idx[i];
      if (y->data[f] != x->data[flat_index (shape, src, ndim)])
        {
          g_test_fail_printf ("permute: element %" G_GINT64_FORMAT " wrong", (gint64) f);
          return;
        }
    }
}

static void
test_permute (void)
{
  RmCtx *ctx = new_ctx (2);
  check_permute (ctx, SHAPE (2, 3, 5, 7), (const int[]){ 0, 3, 1, 2 });    /* NCHW -> NHWC */
  check_permute (ctx, SHAPE (2, 37, 45, 33), (const int[]){ 0, 3, 1, 2 }); /* tiled path */
  check_permute (ctx, SHAPE (2, 33, 40, 35), (const int[]){ 0, 2, 3, 1 }); /* NHWC -> NCHW */
  check_permute (ctx, SHAPE (70, 33), (const int[]){ 1, 0 });
  check_permute (ctx, SHAPE (1, 4, 1, 6, 5), (const int[]){ 4, 2, 3, 0, 1 });
  check_permute (ctx, SHAPE (3, 2, 2, 4, 3, 2), (const int[]){ 5, 1, 3, 0, 2, 4 });
  rm_ctx_free (ctx);
}

static void
test_copy_strided (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *x = RAND (ctx, 1.0f, 40, 36);
  /* A transposed view: (36, 40) with strides (1, 36). */
  RmTensor v;
  rm_tensor_init (&v, x->data, 2, (const int64_t[]){ 36, 40 });
  v.stride[0] = 1;
  v.stride[1] = 36;
  RmTensor *y = rm_copy (ctx, &v);
  assert_shape (y, (const int64_t[]){ 36, 40 }, 2);
  for (int i = 0; i < 36; i++)
    for (int j = 0; j < 40; j++)
      g_assert_cmpfloat (y->data[i * 40 + j], ==, x->data[j * 36 + i]);
  RmTensor *z = rm_copy (ctx, x);
  g_assert_cmpmem (z->data, 40 * 36 * 4, x->data, 40 * 36 * 4);
  rm_ctx_free (ctx);
}

static void
test_concat_slice (void)
{
  RmCtx *ctx = new_ctx (2);
  for (int dim = 0; dim < 3; dim++)
    {
      int64_t sa[3] = { 3, 4, 5 }, sb[3] = { 3, 4, 5 };
      sb[dim] = 2;
      RmTensor *a = rand_tensor (ctx, 3, sa, 1.0f), *b = rand_tensor (ctx, 3, sb, 1.0f);
      RmTensor *c = rm_concat (ctx, a, b, dim);
      int64_t sc[3] = { 3, 4, 5 }, idx[3];
      sc[dim] += 2;
      assert_shape (c, sc, 3);
      for (int64_t f = 0; f < rm_tensor_numel (c); f++)
        {
          unravel (f, sc, 3, idx);
          float expect;
          if (idx[dim] < sa[dim])
            expect = a->data[flat_index (sa, idx, 3)];
          else
            {
              idx[dim] -= sa[dim];
              expect = b->data[flat_index (sb, idx, 3)];
            }
          g_assert_cmpfloat (c->data[f], ==, expect);
        }

      /* Slicing the concatenation gives the parts back. */
      RmTensor *back_a = rm_slice (ctx, c, dim, 0, sa[dim]);
      RmTensor *back_b = rm_slice (ctx, c, dim - 3, sa[dim], 2); /* negative dim */
      assert_shape (back_b, sb, 3);
      g_assert_cmpmem (back_a->data, 60 * 4, a->data, 60 * 4);
      g_assert_cmpmem (back_b->data, rm_tensor_numel (b) * 4, b->data, rm_tensor_numel (b) * 4);
    }
  /* An empty slice. */
  RmTensor *x = RAND (ctx, 1.0f, 4, 6);
  RmTensor *e = rm_slice (ctx, x, 1, 6, 0);
  g_assert_cmpint (rm_tensor_numel (e), ==, 0);
  rm_ctx_free (ctx);
}

static void
test_embedding (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *table = RAND (ctx, 1.0f, 11, 13);
  const int64_t ids[] = { 3, 0, 10, 3, 7 };
  RmTensor *y = rm_embedding (ctx, table, ids, 5);
  assert_shape (y, (const int64_t[]){ 5, 13 }, 2);
  for (int i = 0; i < 5; i++)
    g_assert_cmpmem (y->data + i * 13, 13 * 4, table->data + ids[i] * 13, 13 * 4);
  rm_ctx_free (ctx);
}

/* ---- element-wise ----------------------------------------------------------------------- */

static void
check_broadcast (RmCtx *ctx, const int64_t *sa, int na, const int64_t *sb, int nb)
{
  RmTensor *a = rand_tensor (ctx, na, sa, 2.0f), *b = rand_tensor (ctx, nb, sb, 2.0f);
  RmTensor *out[3] = { rm_add (ctx, a, b), rm_sub (ctx, a, b), rm_mul (ctx, a, b) };
  int64_t idx[RM_MAX_DIMS], bidx[RM_MAX_DIMS];
  for (int op = 0; op < 3; op++)
    {
      assert_shape (out[op], sa, na);
      for (int64_t f = 0; f < rm_tensor_numel (a); f++)
        {
          unravel (f, sa, na, idx);
          for (int i = 0; i < nb; i++)
            bidx[i] = sb[i] == 1 ? 0 : idx[na - nb + i];
          float x = a->data[f], y = b->data[nb ? flat_index (sb, bidx, nb) : 0];
          float expect = op == 0 ? x + y : op == 1 ? x - y : x * y;
          if (out[op]->data[f] != expect)
            {
              g_test_fail_printf ("broadcast op %d: element %" G_GINT64_FORMAT " wrong", op,
                                  (gint64) f);
              return;
            }
        }
    }
}

static void
test_broadcast (void)
{
  RmCtx *ctx = new_ctx (2);
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (2, 3, 5, 7));
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (7));
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (1, 3, 1, 1)); /* per channel, NCHW */
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (3, 1, 1));
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (1, 5, 7)); /* positional, NHWC-like */
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (5, 1));
  check_broadcast (ctx, SHAPE (2, 3, 5, 7), SHAPE (2, 1, 5, 1));
  check_broadcast (ctx, SHAPE (4, 9), SHAPE (1));
  check_broadcast (ctx, SHAPE (200, 300), SHAPE (300)); /* threaded */
  check_broadcast (ctx, SHAPE (3, 1, 4), SHAPE (1, 4));
  /* A 0-dim b. */
  RmTensor *a = RAND (ctx, 1.0f, 3, 4);
  RmTensor *s = rm_new (ctx, 0, NULL);
  s->data[0] = 0.5f;
  RmTensor *y = rm_mul (ctx, a, s);
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (y->data[i], ==, a->data[i] * 0.5f);
  rm_ctx_free (ctx);
}

static void
test_scalar_ops (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *a = RAND (ctx, 3.0f, 300, 101), *b = RAND (ctx, 3.0f, 300, 101);
  int64_t n = rm_tensor_numel (a);
  RmTensor *ax = rm_axpby (ctx, 0.8f, a, 0.2f, b);
  RmTensor *sc = rm_scale (ctx, a, -1.5f);
  RmTensor *rs = rm_rsub_scalar (ctx, 1.0f, a);
  double *r1 = ref_alloc (n), *r2 = ref_alloc (n), *r3 = ref_alloc (n);
  for (int64_t i = 0; i < n; i++)
    {
      r1[i] = 0.8 * a->data[i] + 0.2 * b->data[i];
      r2[i] = -1.5f * a->data[i];
      r3[i] = 1.0 - a->data[i];
    }
  assert_close ("axpby", ax->data, r1, n, 1e-6, 1e-7);
  assert_close ("scale", sc->data, r2, n, 0, 0);
  assert_close ("rsub_scalar", rs->data, r3, n, 1e-7, 0);
  g_free (r1);
  g_free (r2);
  g_free (r3);
  rm_ctx_free (ctx);
}

static void
test_activations (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *x = RAND (ctx, 12.0f, 257, 131); /* odd length: vector tails */
  x->data[0] = -200.0f;
  x->data[1] = 200.0f;
  x->data[2] = 0.0f;
  int64_t n = rm_tensor_numel (x);
  RmTensor *g = rm_gelu (ctx, x), *r = rm_relu (ctx, x), *s = rm_sigmoid (ctx, x);
  double *rg = ref_alloc (n), *rr = ref_alloc (n), *rsg = ref_alloc (n);
  for (int64_t i = 0; i < n; i++)
    {
      double v = x->data[i];
      rg[i] = 0.5 * v * (1.0 + erf (v / sqrt (2.0)));
      rr[i] = v > 0 ? v : 0;
      rsg[i] = 1.0 / (1.0 + exp (-v));
    }
  /* For x < -3, 1 + erf(x) cancels: an ulp of erf (6e-8) times |x| / 2 is the floor. */
  assert_close ("gelu", g->data, rg, n, 2e-6, 4e-7);
  assert_close ("relu", r->data, rr, n, 0, 0);
  assert_close ("sigmoid", s->data, rsg, n, 1e-6, 1e-30);
  g_free (rg);
  g_free (rr);
  g_free (rsg);
  rm_ctx_free (ctx);
}

/* The vectorised exp must give libm's bits. */
static void
test_expf (void)
{
  enum
  {
    N = 200003
  };
  float *x = g_new (float, N), *y = g_new (float, N);
  for (int i = 0; i < N; i++)
    x[i] = -110.0f + 200.0f * (float) i / N;
  x[0] = -INFINITY;
  x[1] = 0.0f;
  x[2] = -0.0f;
  x[3] = 88.72f;
  x[4] = -87.5f;
  x[5] = -103.9f;
  x[6] = 1e-8f;
  rm_cpu_expf (y, x, N);
  for (int i = 0; i < N; i++)
    if (memcmp (&y[i], &(float){ expf (x[i]) }, sizeof (float)) != 0)
      {
        g_test_fail_printf ("expf(%.9g): %.9g, libm %.9g", (double) x[i], (double) y[i],
                            (double) expf (x[i]));
        break;
      }
  g_free (x);
  g_free (y);
}

/* ---- normalisation ---------------------------------------------------------------------- */

static void
ref_layernorm_row (const float *x, const float *w, const float *b, int64_t n, int64_t stride,
                   double eps, double *out, int64_t out_stride)
{
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; i++)
    mean += x[i * stride];
  /* The mean as the kernel holds it, in float: with a large offset its rounding dominates
   * the error, as in torch. */
  mean = (float) (mean / (double) n);
  for (int64_t i = 0; i < n; i++)
    var += (x[i * stride] - mean) * (x[i * stride] - mean);
  var /= (double) n;
  for (int64_t i = 0; i < n; i++)
    out[i * out_stride] = (x[i * stride] - mean) / sqrt (var + eps) * w[i] + b[i];
}

static void
test_layernorm (void)
{
  RmCtx *ctx = new_ctx (2);
  const int64_t dims[] = { 1, 7, 33, 100, 256 };
  for (size_t t = 0; t < G_N_ELEMENTS (dims); t++)
    {
      const int64_t d = dims[t];
      RmTensor *x = RAND (ctx, 2.0f, 3, 5, d);
      /* A common offset tests the two-pass variance (torch's x * rstd - mean * rstd loses
       * about an ulp of |x| * rstd, hence the absolute tolerance). */
      for (int64_t i = 0; i < rm_tensor_numel (x); i++)
        x->data[i] += t == 2 ? 30.0f : 0.5f;
      RmTensor *w = RAND (ctx, 1.0f, d), *b = RAND (ctx, 1.0f, d);
      RmTensor *y = rm_layernorm (ctx, x, w, b, 1e-6f);
      double *ref = ref_alloc (rm_tensor_numel (x));
      for (int64_t r = 0; r < 15; r++)
        ref_layernorm_row (x->data + r * d, w->data, b->data, d, 1, 1e-6, ref + r * d, 1);
      /* With d = 1, rstd = 1/sqrt(eps) = 1000 magnifies that ulp: x * rstd reaches 2500, whose
       * half-ulp is 2^-13 = 1.22e-4, times |w| <= 1 — so the output is b +- 1.25e-4. */
      assert_close ("layernorm", y->data, ref, rm_tensor_numel (x), 2e-6, d == 1 ? 1.25e-4 : 1e-5);
      g_free (ref);
    }
  rm_ctx_free (ctx);
}

static void
test_layernorm_nchw (void)
{
  RmCtx *ctx = new_ctx (2);
  const int64_t c = 19, h = 9, wd = 11; /* 99 pixels: one block and a tail */
  RmTensor *x = RAND (ctx, 3.0f, 2, c, h, wd);
  RmTensor *w = RAND (ctx, 1.0f, c), *b = RAND (ctx, 1.0f, c);
  RmTensor *y = rm_layernorm_nchw (ctx, x, w, b, 1e-6f);
  double *ref = ref_alloc (rm_tensor_numel (x));
  for (int64_t bi = 0; bi < 2; bi++)
    for (int64_t p = 0; p < h * wd; p++)
      ref_layernorm_row (x->data + bi * c * h * wd + p, w->data, b->data, c, h * wd, 1e-6,
                         ref + bi * c * h * wd + p, h * wd);
  assert_close ("layernorm_nchw", y->data, ref, rm_tensor_numel (x), 2e-6, 1e-6);
  g_free (ref);
  rm_ctx_free (ctx);
}

/* ---- products --------------------------------------------------------------------------- */

static void
test_linear (void)
{
  RmCtx *ctx = new_ctx (2);
  for (int with_bias = 0; with_bias < 2; with_bias++)
    {
      const int64_t in = 37, out = 29;
      RmTensor *x = RAND (ctx, 1.0f, 2, 13, in);
      RmTensor *w = RAND (ctx, 1.0f, out, in), *b = with_bias ? RAND (ctx, 1.0f, out) : NULL;
      RmTensor *y = rm_linear (ctx, x, w, b);
      assert_shape (y, (const int64_t[]){ 2, 13, out }, 3);
      double *ref = ref_alloc (26 * out);
      for (int64_t m = 0; m < 26; m++)
        for (int64_t o = 0; o < out; o++)
          {
            double s = b ? b->data[o] : 0;
            for (int64_t k = 0; k < in; k++)
              s += (double) x->data[m * in + k] * w->data[o * in + k];
            ref[m * out + o] = s;
          }
      assert_close ("linear", y->data, ref, 26 * out, 1e-5, 1e-5);
      g_free (ref);
    }
  rm_ctx_free (ctx);
}

static void
test_matmul (void)
{
  RmCtx *ctx = new_ctx (2);
  const int64_t m = 17, k = 23, n = 19;
  for (int tb = 0; tb < 2; tb++)
    {
      RmTensor *a = RAND (ctx, 1.0f, 2, 3, m, k);
      RmTensor *b = tb ? RAND (ctx, 1.0f, 2, 3, n, k) : RAND (ctx, 1.0f, 2, 3, k, n);
      RmTensor *c = rm_matmul (ctx, a, b, tb);
      assert_shape (c, (const int64_t[]){ 2, 3, m, n }, 4);
      double *ref = ref_alloc (6 * m * n);
      for (int64_t bi = 0; bi < 6; bi++)
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++)
            {
              double s = 0;
              for (int64_t p = 0; p < k; p++)
                s += (double) a->data[(bi * m + i) * k + p] *
                     (tb ? b->data[(bi * n + j) * k + p] : b->data[(bi * k + p) * n + j]);
              ref[(bi * m + i) * n + j] = s;
            }
      assert_close ("matmul", c->data, ref, 6 * m * n, 1e-5, 1e-5);
      g_free (ref);
    }
  rm_ctx_free (ctx);
}

/* softmax(q k^T scale) v per head, in double; all-masked rows give zeros. */
static void
ref_attention (const RmTensor *q, const RmTensor *k, const RmTensor *v, int heads, double scale,
               const uint8_t *pad, double *out)
{
  const int64_t B = q->shape[0], nq = q->shape[1], nk = k->shape[1];
  const int64_t dh = q->shape[2] / heads, dv = v->shape[2] / heads;
  double *s = g_new (double, nk);
  for (int64_t b = 0; b < B; b++)
    for (int h = 0; h < heads; h++)
      for (int64_t i = 0; i < nq; i++)
        {
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < nk; j++)
            {
              double d = 0;
              for (int64_t c = 0; c < dh; c++)
                d += (double) q->data[(b * nq + i) * heads * dh + h * dh + c] *
                     k->data[(b * nk + j) * heads * dh + h * dh + c];
              s[j] = pad && pad[b * nk + j] ? -INFINITY : d * scale;
              mx = fmax (mx, s[j]);
            }
          for (int64_t j = 0; j < nk; j++)
            {
              s[j] = mx == -INFINITY ? 0 : exp (s[j] - mx);
              sum += s[j];
            }
          for (int64_t c = 0; c < dv; c++)
            {
              double o = 0;
              for (int64_t j = 0; j < nk; j++)
                o += s[j] * v->data[(b * nk + j) * heads * dv + h * dv + c];
              out[(b * nq + i) * heads * dv + h * dv + c] = sum > 0 ? o / sum : 0;
            }
        }
  g_free (s);
}

typedef enum
{
  MASK_NONE,
  MASK_RANDOM,
  MASK_ALL_FIRST_BATCH,
  MASK_FIRST_BLOCK
} MaskKind;

static void
check_attention (RmCtx *ctx, int64_t B, int64_t nq, int64_t nk, int heads, int64_t dh, int64_t dv,
                 float qscale, MaskKind mask)
{
  RmTensor *q = RAND (ctx, qscale, B, nq, heads * dh);
  RmTensor *k = RAND (ctx, 1.0f, B, nk, heads * dh);
  RmTensor *v = RAND (ctx, 1.0f, B, nk, heads * dv);
  uint8_t *pad = NULL;
  if (mask != MASK_NONE)
    {
      pad = g_new0 (uint8_t, B * nk);
      for (int64_t i = 0; i < B * nk; i++)
        switch (mask)
          {
          case MASK_RANDOM:
            pad[i] = rng_float () > 0.3f;
            break;
          case MASK_ALL_FIRST_BATCH:
            pad[i] = i < nk || rng_float () > 0.5f;
            break;
          case MASK_FIRST_BLOCK: /* the first 256-key block entirely masked */
            pad[i] = i % nk < 256 || rng_float () > 0.8f;
            break;
          case MASK_NONE:
            break;
          }
    }
  const float scale = 1.0f / sqrtf ((float) dh);
  RmTensor *y = rm_attention (ctx, q, k, v, heads, scale, pad);
  assert_shape (y, (const int64_t[]){ B, nq, heads * dv }, 3);
  int64_t n = rm_tensor_numel (y);
  double *ref = ref_alloc (n);
  ref_attention (q, k, v, heads, scale, pad, ref);
  char what[96];
  g_snprintf (what, sizeof what, "attention B%d nq%d nk%d h%d dh%d dv%d mask%d", (int) B, (int) nq,
              (int) nk, heads, (int) dh, (int) dv, mask);
  assert_close (what, y->data, ref, n, 1e-5, 2e-6);
  if (mask == MASK_ALL_FIRST_BATCH)
    for (int64_t i = 0; i < nq * heads * dv; i++)
      g_assert_cmpfloat (y->data[i], ==, 0.0f);
  g_free (ref);
  g_free (pad);
}

static void
test_attention (void)
{
  RmCtx *ctx = new_ctx (2);
  check_attention (ctx, 1, 1, 1, 1, 1, 1, 1.0f, MASK_NONE);
  check_attention (ctx, 2, 5, 7, 2, 8, 8, 1.0f, MASK_NONE);
  check_attention (ctx, 2, 70, 300, 3, 12, 20, 1.0f, MASK_NONE); /* tails in q, k and dv */
  check_attention (ctx, 1, 64, 256, 2, 16, 16, 1.0f, MASK_NONE); /* exact tiles */
  check_attention (ctx, 1, 130, 520, 1, 9, 13, 8.0f, MASK_NONE); /* peaky, 3 key blocks */
  check_attention (ctx, 2, 33, 290, 2, 7, 24, 1.0f, MASK_RANDOM);
  check_attention (ctx, 2, 17, 40, 4, 5, 3, 1.0f, MASK_ALL_FIRST_BATCH);
  check_attention (ctx, 1, 9, 600, 2, 8, 17, 1.0f, MASK_FIRST_BLOCK);
  check_attention (ctx, 1, 300, 6, 8, 4, 4, 1.0f, MASK_RANDOM); /* few keys, many queries */
  rm_ctx_free (ctx);
}

/* ---- convolutions ----------------------------------------------------------------------- */

static void
check_conv2d (RmCtx *ctx, int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int64_t kh,
              int64_t kw, int stride, int pad, bool bias)
{
  RmTensor *x = RAND (ctx, 1.0f, B, C, H, W);
  RmTensor *w = RAND (ctx, 0.5f, O, C, kh, kw);
  RmTensor *b = bias ? RAND (ctx, 1.0f, O) : NULL;
  RmTensor *y = rm_conv2d (ctx, x, w, b, stride, pad);
  const int64_t oh = (H + 2 * pad - kh) / stride + 1, ow = (W + 2 * pad - kw) / stride + 1;
  assert_shape (y, (const int64_t[]){ B, O, oh, ow }, 4);
  double *ref = ref_alloc (rm_tensor_numel (y));
  for (int64_t bi = 0; bi < B; bi++)
    for (int64_t o = 0; o < O; o++)
      for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++)
          {
            double s = b ? b->data[o] : 0;
            for (int64_t c = 0; c < C; c++)
              for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                  {
                    int64_t iy = oy * stride - pad + i, ix = ox * stride - pad + j;
                    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                      s += (double) x->data[((bi * C + c) * H + iy) * W + ix] *
                           w->data[((o * C + c) * kh + i) * kw + j];
                  }
            ref[((bi * O + o) * oh + oy) * ow + ox] = s;
          }
  assert_close ("conv2d", y->data, ref, rm_tensor_numel (y), 1e-5, 1e-5);
  g_free (ref);
}

static void
test_conv2d (void)
{
  RmCtx *ctx = new_ctx (2);
  check_conv2d (ctx, 2, 3, 37, 41, 5, 7, 7, 4, 3, true);    /* patch embed */
  check_conv2d (ctx, 1, 3, 32, 48, 6, 16, 16, 16, 0, true); /* ViT patches */
  check_conv2d (ctx, 2, 4, 15, 17, 16, 2, 2, 2, 0, true);   /* mask downscaling (odd: floor) */
  check_conv2d (ctx, 2, 9, 6, 7, 11, 1, 1, 1, 0, true);     /* direct GEMM */
  check_conv2d (ctx, 1, 5, 8, 9, 3, 1, 1, 1, 0, false);
  check_conv2d (ctx, 1, 3, 10, 12, 4, 3, 3, 1, 1, false);
  check_conv2d (ctx, 1, 2, 9, 9, 3, 3, 3, 2, 1, true);
  rm_ctx_free (ctx);
}

static void
test_conv_transpose (void)
{
  RmCtx *ctx = new_ctx (2);
  const int64_t B = 2, I = 7, O = 5, H = 6, W = 9;
  for (int bias = 0; bias < 2; bias++)
    {
      RmTensor *x = RAND (ctx, 1.0f, B, I, H, W), *w = RAND (ctx, 1.0f, I, O, 2, 2);
      RmTensor *b = bias ? RAND (ctx, 1.0f, O) : NULL;
      RmTensor *y = rm_conv_transpose2x2 (ctx, x, w, b);
      assert_shape (y, (const int64_t[]){ B, O, 2 * H, 2 * W }, 4);
      double *ref = ref_alloc (rm_tensor_numel (y));
      for (int64_t bi = 0; bi < B; bi++)
        for (int64_t o = 0; o < O; o++)
          for (int64_t yy = 0; yy < 2 * H; yy++)
            for (int64_t xx = 0; xx < 2 * W; xx++)
              {
                double s = b ? b->data[o] : 0;
                for (int64_t i = 0; i < I; i++)
                  s += (double) x->data[((bi * I + i) * H + yy / 2) * W + xx / 2] *
                       w->data[((i * O + o) * 2 + yy % 2) * 2 + xx % 2];
                ref[((bi * O + o) * 2 * H + yy) * 2 * W + xx] = s;
              }
      assert_close ("conv_transpose2x2", y->data, ref, rm_tensor_numel (y), 1e-5, 1e-5);
      g_free (ref);
    }
  rm_ctx_free (ctx);
}

/* ---- pooling and resampling ------------------------------------------------------------- */

static void
test_maxpool_nearest (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *x = RAND (ctx, 1.0f, 2, 7, 9, 3); /* odd: the last row and column are dropped */
  RmTensor *y = rm_maxpool2x2_nhwc (ctx, x);
  assert_shape (y, (const int64_t[]){ 2, 3, 4, 3 }, 4);
  for (int64_t b = 0; b < 2; b++)
    for (int64_t i = 0; i < 3; i++)
      for (int64_t j = 0; j < 4; j++)
        for (int64_t c = 0; c < 3; c++)
          {
            float m = -INFINITY;
            for (int dy = 0; dy < 2; dy++)
              for (int dx = 0; dx < 2; dx++)
                m = fmaxf (m, x->data[((b * 7 + 2 * i + dy) * 9 + 2 * j + dx) * 3 + c]);
            g_assert_cmpfloat (y->data[((b * 3 + i) * 4 + j) * 3 + c], ==, m);
          }

  RmTensor *u = rm_upsample_nearest2x (ctx, x);
  assert_shape (u, (const int64_t[]){ 2, 7, 18, 6 }, 4);
  for (int64_t p = 0; p < 14; p++)
    for (int64_t i = 0; i < 18; i++)
      for (int64_t j = 0; j < 6; j++)
        g_assert_cmpfloat (u->data[(p * 18 + i) * 6 + j], ==, x->data[(p * 9 + i / 2) * 3 + j / 2]);
  rm_ctx_free (ctx);
}

/* Per-axis taps and weights of the references, in double, except that the scale and the
 * source position are rounded to float as PyTorch does (on noise, their rounding shows). */
static double
ref_scale (int64_t in, int64_t out)
{
  return (float) in / (float) out;
}

static double
ref_source (int64_t in, int64_t out, int64_t i)
{
  return (float) (ref_scale (in, out) * (i + 0.5) - 0.5);
}

typedef struct
{
  int64_t idx[64];
  double w[64];
  int n;
} RefTaps;

static void
ref_taps_linear (int64_t in, int64_t out, int64_t i, RefTaps *t)
{
  double src = fmax (ref_source (in, out, i), 0.0);
  int64_t i0 = MIN ((int64_t) floor (src), in - 1);
  double l1 = fmin (fmax (src - (double) i0, 0.0), 1.0);
  t->n = 2;
  t->idx[0] = i0;
  t->idx[1] = MIN (i0 + 1, in - 1);
  t->w[0] = 1 - l1;
  t->w[1] = l1;
}

static void
ref_taps_cubic (int64_t in, int64_t out, int64_t i, RefTaps *t)
{
  const double A = -0.75;
  double src = ref_source (in, out, i);
  int64_t i0 = (int64_t) floor (src);
  double x = src - (double) i0;
  double d[4] = { x + 1, x, 1 - x, 2 - x };
  t->n = 4;
  for (int j = 0; j < 4; j++)
    {
      double a = d[j];
      t->w[j] =
          a <= 1 ? ((A + 2) * a - (A + 3)) * a * a + 1 : ((A * a - 5 * A) * a + 8 * A) * a - 4 * A;
      t->idx[j] = CLAMP (i0 - 1 + j, 0, in - 1);
    }
}

static void
ref_taps_aa (int64_t in, int64_t out, int64_t i, RefTaps *t)
{
  double scale = ref_scale (in, out);
  double support = scale >= 1 ? scale : 1.0;
  double center = (float) (scale * (i + 0.5)), total = 0;
  int64_t lo = MAX ((int64_t) (center - support + 0.5), 0);
  int64_t hi = MIN ((int64_t) (center + support + 0.5), in);
  t->n = 0;
  for (int64_t j = lo; j < hi; j++)
    {
      double w = fmax (0.0, 1.0 - fabs ((j + 0.5 - center) / support));
      t->idx[t->n] = j;
      t->w[t->n++] = w;
      total += w;
    }
  for (int j = 0; j < t->n; j++)
    t->w[j] /= total;
}

typedef void (*RefTapsFn) (int64_t in, int64_t out, int64_t i, RefTaps *t);

static void
check_resize (RmCtx *ctx, int64_t h, int64_t w, int64_t oh, int64_t ow, int mode)
{
  RmTensor *x = RAND (ctx, 1.0f, 2, 3, h, w);
  RmTensor *y = mode == 2 ? rm_resize_bicubic (ctx, x, oh, ow)
                          : rm_resize_bilinear (ctx, x, oh, ow, mode == 1);
  assert_shape (y, (const int64_t[]){ 2, 3, oh, ow }, 4);
  RefTapsFn fn = mode == 0 ? ref_taps_linear : mode == 1 ? ref_taps_aa : ref_taps_cubic;
  double *ref = ref_alloc (rm_tensor_numel (y));
  RefTaps ty, tx;
  for (int64_t p = 0; p < 6; p++)
    for (int64_t i = 0; i < oh; i++)
      {
        fn (h, oh, i, &ty);
        for (int64_t j = 0; j < ow; j++)
          {
            fn (w, ow, j, &tx);
            double s = 0;
            for (int a = 0; a < ty.n; a++)
              for (int b = 0; b < tx.n; b++)
                s += ty.w[a] * tx.w[b] * x->data[(p * h + ty.idx[a]) * w + tx.idx[b]];
            ref[(p * oh + i) * ow + j] = s;
          }
      }
  char what[64];
  g_snprintf (what, sizeof what, "resize mode %d %dx%d -> %dx%d", mode, (int) h, (int) w, (int) oh,
              (int) ow);
  assert_close (what, y->data, ref, rm_tensor_numel (y), 1e-5, 3e-6);
  g_free (ref);
}

static void
test_resize (void)
{
  RmCtx *ctx = new_ctx (2);
  for (int mode = 0; mode < 3; mode++)
    {
      check_resize (ctx, 5, 7, 13, 16, mode);  /* up */
      check_resize (ctx, 37, 29, 9, 11, mode); /* down, non-integer */
      check_resize (ctx, 32, 24, 8, 6, mode);  /* down by 4 */
      check_resize (ctx, 9, 30, 20, 7, mode);  /* up in h, down in w */
      check_resize (ctx, 6, 6, 6, 6, mode);    /* identity */
      check_resize (ctx, 1, 5, 3, 1, mode);    /* degenerate sizes */
    }
  rm_ctx_free (ctx);
}

/* ---- windows ---------------------------------------------------------------------------- */

static void
check_windows (RmCtx *ctx, int64_t B, int64_t H, int64_t W, int64_t C, int win)
{
  RmTensor *x = RAND (ctx, 1.0f, B, H, W, C);
  RmTensor *p = rm_window_partition (ctx, x, win);
  const int64_t hp = (H + win - 1) / win * win, wp = (W + win - 1) / win * win;
  const int64_t nwh = hp / win, nww = wp / win;
  assert_shape (p, (const int64_t[]){ B * nwh * nww, win, win, C }, 4);
  /* SAM2: pad -> view (B, nwh, win, nww, win, C) -> permute (0, 1, 3, 2, 4, 5). */
  for (int64_t b = 0; b < B; b++)
    for (int64_t wh = 0; wh < nwh; wh++)
      for (int64_t ww = 0; ww < nww; ww++)
        for (int64_t i = 0; i < win; i++)
          for (int64_t j = 0; j < win; j++)
            for (int64_t c = 0; c < C; c++)
              {
                int64_t y = wh * win + i, xx = ww * win + j;
                float expect = (y < H && xx < W) ? x->data[((b * H + y) * W + xx) * C + c] : 0.0f;
                float got = p->data[((((b * nwh + wh) * nww + ww) * win + i) * win + j) * C + c];
                g_assert_cmpfloat (got, ==, expect);
              }
  RmTensor *back = rm_window_unpartition (ctx, p, win, hp, wp, H, W);
  assert_shape (back, (const int64_t[]){ B, H, W, C }, 4);
  g_assert_cmpmem (back->data, rm_tensor_numel (x) * 4, x->data, rm_tensor_numel (x) * 4);
}

static void
test_windows (void)
{
  RmCtx *ctx = new_ctx (2);
  check_windows (ctx, 2, 8, 8, 3, 4);   /* no padding */
  check_windows (ctx, 2, 9, 13, 5, 4);  /* padding at the bottom and right */
  check_windows (ctx, 1, 14, 14, 2, 8); /* more padding than data in the last window */
  check_windows (ctx, 1, 3, 2, 1, 7);   /* one window, mostly padding */
  rm_ctx_free (ctx);
}

/* ---- reductions ------------------------------------------------------------------------- */

static void
test_reductions (void)
{
  RmCtx *ctx = new_ctx (2);
  const int64_t sizes[] = { 1, 15, 17, 200003 };
  for (size_t t = 0; t < G_N_ELEMENTS (sizes); t++)
    {
      RmTensor *x = RAND (ctx, 1.0f, sizes[t]);
      double s = 0;
      for (int64_t i = 0; i < sizes[t]; i++)
        s += x->data[i] + 0.25;
      for (int64_t i = 0; i < sizes[t]; i++)
        x->data[i] += 0.25f;
      RmTensor *sum = rm_sum_all (ctx, x), *mean = rm_mean_all (ctx, x);
      g_assert_cmpint (sum->ndim, ==, 0);
      double ref_mean = s / (double) sizes[t];
      assert_close ("sum_all", sum->data, &s, 1, 1e-6, 1e-6);
      assert_close ("mean_all", mean->data, &ref_mean, 1, 1e-6, 1e-7);
    }
  rm_ctx_free (ctx);
}

/* ---- determinism across thread counts --------------------------------------------------- */

static void
test_thread_invariance (void)
{
  RmCtx *c1 = new_ctx (1), *c2 = rm_ctx_new (2);
  uint64_t seed = rng_state;
  RmTensor *q1 = RAND (c1, 1.0f, 2, 150, 32), *k1 = RAND (c1, 1.0f, 2, 400, 32);
  RmTensor *x1 = RAND (c1, 1.0f, 300, 77);
  rng_state = seed;
  RmTensor *q2 = RAND (c2, 1.0f, 2, 150, 32), *k2 = RAND (c2, 1.0f, 2, 400, 32);
  RmTensor *x2 = RAND (c2, 1.0f, 300, 77);
  RmTensor *w1 = RAND (c1, 1.0f, 77), *w2 = rm_copy (c2, w1);
  size_t n = 2 * 150 * 32 * sizeof (float);

  RmTensor *a1 = rm_attention (c1, q1, k1, k1, 4, 0.3f, NULL);
  RmTensor *a2 = rm_attention (c2, q2, k2, k2, 4, 0.3f, NULL);
  g_assert_cmpmem (a1->data, n, a2->data, n);
  RmTensor *l1 = rm_layernorm (c1, x1, w1, w1, 1e-5f), *l2 = rm_layernorm (c2, x2, w2, w2, 1e-5f);
  g_assert_cmpmem (l1->data, 300 * 77 * 4, l2->data, 300 * 77 * 4);
  RmTensor *s1 = rm_sum_all (c1, x1), *s2 = rm_sum_all (c2, x2);
  g_assert_cmpfloat (s1->data[0], ==, s2->data[0]);
  rm_ctx_free (c1);
  rm_ctx_free (c2);
}

/* ---- tape ------------------------------------------------------------------------------- */

static void
test_tape (void)
{
  RmCtx *ctx = new_ctx (2);
  RmTensor *x = RAND (ctx, 1.0f, 2, 5, 8), *w = RAND (ctx, 1.0f, 8), *b = RAND (ctx, 1.0f, 8);
  const uint8_t pad[] = { 0, 1, 0, 0, 0, 0, 1, 1, 1, 0 };

  /* Off: nothing recorded, no nodes. */
  g_assert_null (ctx->tape);
  RmTensor *y = rm_layernorm (ctx, x, w, b, 1e-6f);
  g_assert_null (y->node);

  ctx->tape = rm_tape_new ();
  g_assert_cmpuint (rm_tape_len (ctx->tape), ==, 0);
  RmTensor *n1 = rm_layernorm (ctx, x, w, b, 1e-6f);
  RmTensor *n2 = rm_permute (ctx, n1, (const int[]){ 0, 2, 1 });
  RmTensor *n3 = rm_attention (ctx, x, x, x, 2, 0.25f, pad);
  RmTensor *n4 = rm_linear (ctx, x, RAND (ctx, 1.0f, 3, 8), NULL);
  RmTensor *n5 = rm_add (ctx, n3, b);
  g_assert_cmpmem (n1->data, 80 * 4, y->data, 80 * 4); /* recording changes no result */

  /* rand_tensor records nothing: only ops do. */
  g_assert_cmpuint (rm_tape_len (ctx->tape), ==, 5);
  const RmTapeNode *r0 = rm_tape_node (ctx->tape, 0);
  g_assert_cmpint (r0->op, ==, RM_OP_LAYERNORM);
  g_assert_cmpstr (rm_op_kind_name (r0->op), ==, "layernorm");
  g_assert_true (r0->out == n1 && n1->node == r0);
  g_assert_cmpint (r0->n_inputs, ==, 3);
  g_assert_true (r0->in[0] == x && r0->in[1] == w && r0->in[2] == b);
  g_assert_cmpfloat (r0->f[0], ==, 1e-6f);

  const RmTapeNode *r1 = rm_tape_node (ctx->tape, 1);
  g_assert_cmpint (r1->op, ==, RM_OP_PERMUTE);
  g_assert_true (r1->in[0] == n1 && n2->node == r1);
  g_assert_cmpint (r1->i[1], ==, 2);

  const RmTapeNode *r2 = rm_tape_node (ctx->tape, 2);
  g_assert_cmpint (r2->op, ==, RM_OP_ATTENTION);
  g_assert_cmpint (r2->i[0], ==, 2);
  g_assert_cmpfloat (r2->f[0], ==, 0.25f);
  g_assert_cmpint (r2->mask_len, ==, 10);
  g_assert_true (r2->mask != pad);
  g_assert_cmpmem (r2->mask, 10, pad, 10);
  g_assert_true (n3->node == r2);

  const RmTapeNode *r3 = rm_tape_node (ctx->tape, 3);
  g_assert_cmpint (r3->op, ==, RM_OP_LINEAR);
  g_assert_null (r3->in[2]);
  g_assert_true (n4->node == r3);
  g_assert_cmpint (rm_tape_node (ctx->tape, 4)->op, ==, RM_OP_ADD);
  g_assert_cmpuint (rm_tape_node (ctx->tape, 4)->index, ==, 4);
  g_assert_true (n5->node == rm_tape_node (ctx->tape, 4));

  /* Growing past a storage block keeps earlier nodes where they were. */
  for (int i = 0; i < 600; i++)
    rm_scale (ctx, x, 2.0f);
  g_assert_cmpuint (rm_tape_len (ctx->tape), ==, 605);
  g_assert_true (rm_tape_node (ctx->tape, 0) == r0 && n1->node == r0);

  /* Off again: the tape does not grow. */
  RmTape *tape = ctx->tape;
  ctx->tape = NULL;
  RmTensor *z = rm_gelu (ctx, x);
  g_assert_null (z->node);
  g_assert_cmpuint (rm_tape_len (tape), ==, 605);
  rm_tape_reset (tape);
  g_assert_cmpuint (rm_tape_len (tape), ==, 0);
  rm_tape_free (tape);
  rm_ctx_free (ctx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/arena", test_arena);
  g_test_add_func ("/ops/threadpool", test_threadpool);
  g_test_add_func ("/ops/threadpool-grains", test_threadpool_grains);
  g_test_add_func ("/ops/shapes", test_shapes);
  g_test_add_func ("/ops/permute", test_permute);
  g_test_add_func ("/ops/copy-strided", test_copy_strided);
  g_test_add_func ("/ops/concat-slice", test_concat_slice);
  g_test_add_func ("/ops/embedding", test_embedding);
  g_test_add_func ("/ops/broadcast", test_broadcast);
  g_test_add_func ("/ops/scalar-ops", test_scalar_ops);
  g_test_add_func ("/ops/activations", test_activations);
  g_test_add_func ("/ops/expf", test_expf);
  g_test_add_func ("/ops/layernorm", test_layernorm);
  g_test_add_func ("/ops/layernorm-nchw", test_layernorm_nchw);
  g_test_add_func ("/ops/linear", test_linear);
  g_test_add_func ("/ops/matmul", test_matmul);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/conv2d", test_conv2d);
  g_test_add_func ("/ops/conv-transpose2x2", test_conv_transpose);
  g_test_add_func ("/ops/maxpool-nearest", test_maxpool_nearest);
  g_test_add_func ("/ops/resize", test_resize);
  g_test_add_func ("/ops/windows", test_windows);
  g_test_add_func ("/ops/reductions", test_reductions);
  g_test_add_func ("/ops/thread-invariance", test_thread_invariance);
  g_test_add_func ("/ops/tape", test_tape);
  return g_test_run ();
}
