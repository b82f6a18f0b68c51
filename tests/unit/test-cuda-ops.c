/* SPDX-License-Identifier: GPL-3.0-or-later
 * The CUDA backend against the CPU backend, kernel by kernel, on random inputs with awkward
 * sizes (odd, not multiples of the tiles, padded windows, masked keys). Every case is skipped,
 * with the reason, on a machine without a usable GPU.
 *
 * Tolerances, as |gpu - cpu| <= rtol |cpu| + atol max|cpu| per element:
 * - EXACT (0, 0): data movement and single IEEE operations (+, -, *, the GPU's / and sqrt are
 *   correctly rounded too, and the file is built without FMA contraction).
 * - POINTWISE (1e-6, 0): sigmoid, whose expf may differ by an ulp or two between CUDA and glibc.
 * - NORM (1e-6, 1e-6): GELU (an erff ulp, amplified where 1 + erf cancels), layer norms and
 *   resizes (same formulas and tap tables, but a mean or a sum in another order can move by an
 *   ulp, which the cancellation in x - mean makes relative to the row's scale, not the value).
 * - GEMM (0, 1e-5): GEMMs, attention, convolutions sum k terms in another order; rounding then
 *   grows like sqrt(k) eps |partial sums|, about 1e-6 of max|ref| for k ~ 2000 random terms.
 *   TF32 (10-bit mantissas) would miss this by two orders, so the bound also proves fp32.
 * - the sum of all elements: (1e-6, 0), both sum in double.
 *
 * The whole model (/cuda/model): every golden-check tap and output within
 * 1e-4 * max(1, max|cpu|), the tolerance golden-check grants the CPU against PyTorch for the same
 * reason (fp32 sums in another order, compounded over the network); mask pixels may differ only
 * where the CPU's logit is within that bound of the 0.5 threshold.
 */
#include "refmask-engine.h"
#include "rm-backend-cuda.h"
#include "rm-backend.h"
#include "rm-cuda.h"
#include "rm-error.h"
#include "rm-ops.h"
#include "test-golden-model.h"

#include <cuda_runtime_api.h>
#include <glib.h>
#include <math.h>
#include <string.h>

static const char *no_gpu; /* why the cases are skipped, or NULL */

#define SKIP_WITHOUT_GPU()      \
  do                            \
    {                           \
      if (no_gpu != NULL)       \
        {                       \
          g_test_skip (no_gpu); \
          return;               \
        }                       \
    }                           \
  while (0)

#define EXACT     0.0, 0.0
#define POINTWISE 1e-6, 0.0
#define NORM      1e-6, 1e-6
#define GEMM      0.0, 1e-5

/* ---- buffers ---------------------------------------------------------------------------- */

static uint64_t rng_state;
static GPtrArray *host_bufs, *dev_bufs; /* freed by end_case() */

static void
d_free (gpointer p)
{
  cudaFree (p);
}

static void
begin_case (void)
{
  rng_state = (uint64_t) g_test_rand_int () * 0x9E3779B97F4A7C15ull + 1;
  host_bufs = g_ptr_array_new_with_free_func (g_free);
  dev_bufs = g_ptr_array_new_with_free_func (d_free);
}

static void
end_case (void)
{
  g_assert_true (rm_cuda_backend_sync ());
  g_clear_pointer (&host_bufs, g_ptr_array_unref);
  g_clear_pointer (&dev_bufs, g_ptr_array_unref);
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

static void *
h_alloc (size_t bytes)
{
  void *p = g_malloc0 (bytes > 0 ? bytes : 1);
  g_ptr_array_add (host_bufs, p);
  return p;
}

static float *
h_rand (int64_t n, float scale)
{
  float *p = h_alloc ((size_t) n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    p[i] = scale * rng_float ();
  return p;
}

/* Device memory filled with NaN bytes, so that an element a kernel forgets shows. */
static void *
d_alloc (size_t bytes)
{
  void *p = NULL;
  g_assert_cmpint (cudaMalloc (&p, bytes > 0 ? bytes : 1), ==, cudaSuccess);
  g_assert_cmpint (cudaMemset (p, 0xff, bytes > 0 ? bytes : 1), ==, cudaSuccess);
  g_ptr_array_add (dev_bufs, p);
  return p;
}

static void *
d_copy (const void *h, size_t bytes)
{
  void *p = d_alloc (bytes);
  g_assert_cmpint (cudaMemcpy (p, h, bytes, cudaMemcpyHostToDevice), ==, cudaSuccess);
  return p;
}

static float *
d_from (const float *h, int64_t n)
{
  return d_copy (h, (size_t) n * sizeof (float));
}

static float *
d_new (int64_t n)
{
  return d_alloc ((size_t) n * sizeof (float));
}

/* Waits for the GPU, then compares its result with the CPU's (see the tolerances above). */
static void
compare (const char *what, const float *cpu, const float *d_gpu, int64_t n, double rtol,
         double atol)
{
  g_assert_true (rm_cuda_backend_sync ());
  g_assert_null (rm_cuda_backend_error ());
  float *gpu = h_alloc ((size_t) n * sizeof (float));
  g_assert_cmpint (cudaMemcpy (gpu, d_gpu, (size_t) n * sizeof (float), cudaMemcpyDeviceToHost), ==,
                   cudaSuccess);
  double max_ref = 0.0;
  for (int64_t i = 0; i < n; i++)
    if (isfinite (cpu[i]))
      max_ref = fmax (max_ref, fabs (cpu[i]));
  for (int64_t i = 0; i < n; i++)
    {
      const double c = cpu[i], g = gpu[i];
      if ((isnan (c) && isnan (g)) || c == g)
        continue;
      if (!(fabs (g - c) <= rtol * fabs (c) + atol * max_ref))
        {
          g_test_fail_printf ("%s: element %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                              ": GPU %.9g, CPU %.9g (max |cpu| %.3g)",
                              what, (gint64) i, (gint64) n, g, c, max_ref);
          return;
        }
    }
}

static const RmBackend *cpu, *gpu;

/* ---- fill, copies, gathers -------------------------------------------------------------- */

static void
test_fill_copy (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  float *c = h_alloc (1001 * sizeof (float)), *g = d_new (1001);
  cpu->fill (NULL, c, 1001, -2.5f);
  gpu->fill (NULL, g, 1001, -2.5f);
  compare ("fill", c, g, 1001, EXACT);

  /* A permute (3, 5, 7, 2) -> dims (2, 0, 3, 1), and a slice read at a source offset. */
  const int64_t n = 3 * 5 * 7 * 2;
  float *x = h_rand (n, 1.0f), *dx = d_from (x, n);
  const int64_t shape[] = { 7, 3, 2, 5 }, dst_stride[] = { 30, 10, 5, 1 },
                src_stride[] = { 2, 70, 1, 14 };
  c = h_alloc (n * sizeof (float));
  g = d_new (n);
  cpu->copy_strided (NULL, 4, shape, c, dst_stride, x, src_stride);
  gpu->copy_strided (NULL, 4, shape, g, dst_stride, dx, src_stride);
  compare ("copy_strided permute", c, g, n, EXACT);
  const int64_t sl_shape[] = { 3, 2, 7, 2 }, sl_dst[] = { 28, 14, 2, 1 },
                sl_src[] = { 70, 14, 2, 1 };
  cpu->copy_strided (NULL, 4, sl_shape, c, sl_dst, x + 14, sl_src);
  gpu->copy_strided (NULL, 4, sl_shape, g, sl_dst, dx + 14, sl_src);
  compare ("copy_strided slice", c, g, 84, EXACT);
  cpu->copy_strided (NULL, 0, NULL, c, NULL, x + 5, NULL); /* a scalar */
  gpu->copy_strided (NULL, 0, NULL, g, NULL, dx + 5, NULL);
  compare ("copy_strided scalar", c, g, 1, EXACT);
  end_case ();
}

static void
test_gather (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t rows = 50, dim = 37, n = 23;
  float *table = h_rand (rows * dim, 1.0f), *dtable = d_from (table, rows * dim);
  int64_t *ids = h_alloc (n * sizeof (int64_t));
  for (int64_t i = 0; i < n; i++)
    ids[i] = (i * 17 + 3) % rows; /* repeats included */
  float *c = h_alloc (n * dim * sizeof (float)), *g = d_new (n * dim);
  cpu->gather_rows (NULL, c, table, dim, ids, n);
  gpu->gather_rows (NULL, g, dtable, dim, ids, n); /* ids in host memory */
  compare ("gather_rows host ids", c, g, n * dim, EXACT);
  g = d_new (n * dim);
  gpu->gather_rows (NULL, g, dtable, dim, d_copy (ids, n * sizeof (int64_t)), n);
  compare ("gather_rows device ids", c, g, n * dim, EXACT);
  end_case ();
}

/* ---- element-wise ----------------------------------------------------------------------- */

static void
test_binary (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  /* a (4, 9, 13) with b broadcast along the middle dim, b scalar, b full. */
  const int64_t shape[] = { 4, 9, 13 }, n = 4 * 9 * 13;
  const int64_t bs_row[] = { 13, 0, 1 }, bs_scalar[] = { 0, 0, 0 }, bs_full[] = { 117, 13, 1 };
  const int64_t *strides[] = { bs_row, bs_scalar, bs_full };
  float *a = h_rand (n, 3.0f), *b = h_rand (n, 3.0f), *da = d_from (a, n), *db = d_from (b, n);
  float *c = h_alloc (n * sizeof (float)), *g = d_new (n);
  for (int op = RM_BINARY_ADD; op <= RM_BINARY_MUL; op++)
    for (int s = 0; s < 3; s++)
      {
        cpu->binary (NULL, (RmBinaryOp) op, c, a, b, 3, shape, strides[s]);
        gpu->binary (NULL, (RmBinaryOp) op, g, da, db, 3, shape, strides[s]);
        char what[48];
        g_snprintf (what, sizeof what, "binary op %d, b strides %d", op, s);
        compare (what, c, g, n, EXACT);
      }
  end_case ();
}

static void
test_axpby_unary (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t n = 10007;
  float *a = h_rand (n, 6.0f), *b = h_rand (n, 6.0f), *da = d_from (a, n), *db = d_from (b, n);
  float *c = h_alloc (n * sizeof (float)), *g = d_new (n);
  cpu->axpby (NULL, c, 0.3f, a, 0.7f, b, n);
  gpu->axpby (NULL, g, 0.3f, da, 0.7f, db, n);
  compare ("axpby", c, g, n, EXACT);

  /* NaN and infinities for the exact ops only: the CPU's vector expf clamps its argument, so
   * they are outside its contract (the model never feeds them). */
  float *special = h_alloc ((size_t) n * sizeof (float));
  memcpy (special, a, (size_t) n * sizeof (float));
  special[0] = NAN; /* relu keeps it, scale and rsub propagate it */
  special[1] = -INFINITY;
  a[1] = -30.0f; /* sigmoid's tail */
  a[2] = 120.0f; /* sigmoid saturates */
  float *dspecial = d_from (special, n);
  da = d_from (a, n);
  static const struct
  {
    RmUnaryOp op;
    const char *name;
    double rtol, atol;
    bool specials;
  } ops[] = {
    { RM_UNARY_SCALE, "scale", EXACT, true }, { RM_UNARY_RSUB, "rsub", EXACT, true },
    { RM_UNARY_RELU, "relu", EXACT, true },   { RM_UNARY_SIGMOID, "sigmoid", POINTWISE, false },
    { RM_UNARY_GELU, "gelu", NORM, false },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      cpu->unary (NULL, ops[i].op, c, ops[i].specials ? special : a, n, 1.7f);
      gpu->unary (NULL, ops[i].op, g, ops[i].specials ? dspecial : da, n, 1.7f);
      compare (ops[i].name, c, g, n, ops[i].rtol, ops[i].atol);
    }
  end_case ();
}

/* ---- layer norms ------------------------------------------------------------------------ */

static void
test_layernorm (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t sizes[][2] = { { 37, 301 }, { 5, 1 }, { 3, 1152 } };
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      const int64_t rows = sizes[s][0], dim = sizes[s][1], n = rows * dim;
      float *x = h_rand (n, 4.0f), *w = h_rand (dim, 1.0f), *b = h_rand (dim, 1.0f);
      for (int64_t i = 0; i < n; i++)
        x[i] += 2.0f; /* an offset, so that x - mean matters */
      float *c = h_alloc (n * sizeof (float)), *g = d_new (n);
      cpu->layernorm (NULL, c, x, w, b, rows, dim, 1e-6f);
      gpu->layernorm (NULL, g, d_from (x, n), d_from (w, dim), d_from (b, dim), rows, dim, 1e-6f);
      compare ("layernorm", c, g, n, NORM);
    }
  /* NCHW (2, 19, 13, 11): statistics down the channels. */
  const int64_t batch = 2, ch = 19, pix = 13 * 11, n = batch * ch * pix;
  float *x = h_rand (n, 4.0f), *w = h_rand (ch, 1.0f), *b = h_rand (ch, 1.0f);
  float *c = h_alloc (n * sizeof (float)), *g = d_new (n);
  cpu->layernorm_nchw (NULL, c, x, w, b, batch, ch, pix, 1e-6f);
  gpu->layernorm_nchw (NULL, g, d_from (x, n), d_from (w, ch), d_from (b, ch), batch, ch, pix,
                       1e-6f);
  compare ("layernorm_nchw", c, g, n, NORM);
  end_case ();
}

/* ---- GEMMs ------------------------------------------------------------------------------ */

static void
test_linear (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t sizes[][3] = { { 77, 129, 65 }, { 1, 2048, 3 }, { 300, 7, 1 }, { 4, 0, 5 } };
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      {
        const int64_t m = sizes[s][0], k = sizes[s][1], n = sizes[s][2];
        float *x = h_rand (m * k, 1.0f), *w = h_rand (n * k, 1.0f), *b = h_rand (n, 1.0f);
        float *c = h_alloc (m * n * sizeof (float)), *g = d_new (m * n);
        cpu->linear (NULL, c, x, w, with_bias ? b : NULL, m, k, n);
        gpu->linear (NULL, g, d_from (x, m * k), d_from (w, n * k),
                     with_bias ? d_from (b, n) : NULL, m, k, n);
        char what[64];
        g_snprintf (what, sizeof what, "linear %dx%d -> %d, bias %d", (int) m, (int) k, (int) n,
                    with_bias);
        compare (what, c, g, m * n, GEMM);
      }
  end_case ();
}

static void
test_matmul (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t sizes[][4] = {
    { 3, 33, 17, 65 }, { 1, 1, 40, 9 }, { 5, 12, 11, 1 }, { 2, 4, 3, 0 }
  };
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int trans_b = 0; trans_b < 2; trans_b++)
      {
        const int64_t batch = sizes[s][0], m = sizes[s][1], n = sizes[s][2], k = sizes[s][3];
        float *a = h_rand (batch * m * k, 1.0f), *b = h_rand (batch * k * n, 1.0f);
        float *c = h_alloc (batch * m * n * sizeof (float)), *g = d_new (batch * m * n);
        cpu->matmul (NULL, c, a, b, batch, m, n, k, trans_b);
        gpu->matmul (NULL, g, d_from (a, batch * m * k), d_from (b, batch * k * n), batch, m, n, k,
                     trans_b);
        char what[64];
        g_snprintf (what, sizeof what, "matmul %dx(%dx%d)(%d), trans_b %d", (int) batch, (int) m,
                    (int) n, (int) k, trans_b);
        compare (what, c, g, batch * m * n, GEMM);
      }
  end_case ();
}

/* ---- attention -------------------------------------------------------------------------- */

typedef enum
{
  MASK_NONE,
  MASK_RANDOM,
  MASK_ALL_FIRST_BATCH, /* a batch whose queries see no key at all: output 0 */
  MASK_FIRST_TILE,      /* the first 32 keys (a whole GPU tile) masked */
} MaskKind;

static void
check_attention (int64_t batch, int64_t nq, int64_t nk, int64_t heads, int64_t dh, int64_t dv,
                 float scale, MaskKind mask, bool device_mask)
{
  const RmAttnDims d = { batch, nq, nk, heads, dh, dv, scale };
  const int64_t nqe = batch * nq * heads, nke = batch * nk * heads;
  float *q = h_rand (nqe * dh, 1.0f), *k = h_rand (nke * dh, 1.0f), *v = h_rand (nke * dv, 1.0f);
  uint8_t *pad = NULL;
  if (mask != MASK_NONE)
    {
      pad = h_alloc ((size_t) (batch * nk));
      for (int64_t b = 0; b < batch; b++)
        for (int64_t j = 0; j < nk; j++)
          pad[b * nk + j] = mask == MASK_RANDOM       ? rng_float () > 0.4f
                            : mask == MASK_FIRST_TILE ? j < 32
                                                      : b == 0;
    }
  float *c = h_alloc (nqe * dv * sizeof (float)), *g = d_new (nqe * dv);
  cpu->attention (NULL, c, q, k, v, &d, pad);
  gpu->attention (NULL, g, d_from (q, nqe * dh), d_from (k, nke * dh), d_from (v, nke * dv), &d,
                  pad != NULL && device_mask ? d_copy (pad, (size_t) (batch * nk)) : pad);
  char what[96];
  g_snprintf (what, sizeof what, "attention b%d q%d k%d h%d dh%d dv%d mask %d%s", (int) batch,
              (int) nq, (int) nk, (int) heads, (int) dh, (int) dv, mask,
              device_mask ? " (device)" : "");
  compare (what, c, g, nqe * dv, GEMM);
}

static void
test_attention (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  check_attention (1, 1, 1, 1, 1, 1, 1.0f, MASK_NONE, false);
  check_attention (2, 45, 70, 3, 24, 16, 0.2f, MASK_NONE, false);   /* tails in q and k, dh != dv */
  check_attention (1, 64, 64, 2, 72, 72, 0.118f, MASK_NONE, false); /* Hiera windows: 2 x 72 */
  check_attention (1, 130, 520, 1, 9, 13, 8.0f, MASK_NONE, false);  /* peaky softmax */
  check_attention (2, 33, 290, 2, 7, 24, 1.0f, MASK_RANDOM, false);
  check_attention (2, 33, 290, 2, 7, 24, 1.0f, MASK_RANDOM, true);
  check_attention (2, 17, 40, 4, 5, 3, 1.0f, MASK_ALL_FIRST_BATCH, false);
  check_attention (1, 9, 100, 2, 8, 17, 1.0f, MASK_FIRST_TILE, true);
  check_attention (1, 40, 901, 4, 64, 64, 0.125f, MASK_NONE, false); /* BEiT-3 head size */
  check_attention (1, 20, 30, 2, 128, 96, 0.09f, MASK_NONE, false);  /* over 48 KiB of tiles */
  end_case ();
}

/* ---- convolutions ----------------------------------------------------------------------- */

static void
check_conv2d (int64_t batch, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh,
              int64_t kw, int64_t stride, int64_t pad, bool bias)
{
  RmConvDims d = { batch, cin, h, w, cout, kh, kw, stride, pad, 0, 0 };
  d.oh = (h + 2 * pad - kh) / stride + 1;
  d.ow = (w + 2 * pad - kw) / stride + 1;
  const int64_t nx = batch * cin * h * w, nw = cout * cin * kh * kw,
                ny = batch * cout * d.oh * d.ow;
  float *x = h_rand (nx, 1.0f), *wt = h_rand (nw, 0.5f), *b = bias ? h_rand (cout, 1.0f) : NULL;
  float *c = h_alloc (ny * sizeof (float)), *g = d_new (ny);
  cpu->conv2d (NULL, c, x, wt, b, &d);
  gpu->conv2d (NULL, g, d_from (x, nx), d_from (wt, nw), bias ? d_from (b, cout) : NULL, &d);
  char what[96];
  g_snprintf (what, sizeof what, "conv2d %dx%dx%dx%d k%dx%d s%d p%d -> %d", (int) batch, (int) cin,
              (int) h, (int) w, (int) kh, (int) kw, (int) stride, (int) pad, (int) cout);
  compare (what, c, g, ny, GEMM);
}

static void
test_conv2d (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  check_conv2d (2, 3, 37, 41, 5, 7, 7, 4, 3, true);    /* Hiera patch embed */
  check_conv2d (1, 3, 32, 48, 6, 16, 16, 16, 0, true); /* ViT patches */
  check_conv2d (2, 4, 15, 17, 16, 2, 2, 2, 0, true);   /* mask downscaling (odd: floor) */
  check_conv2d (2, 9, 6, 7, 11, 1, 1, 1, 0, true);     /* 1x1 */
  check_conv2d (1, 64, 19, 13, 7, 3, 3, 1, 1, false);  /* 3x3, k = 576 */
  check_conv2d (1, 2, 9, 9, 3, 3, 3, 2, 1, true);
  end_case ();
}

static void
test_conv_transpose (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t sizes[][5] = { { 2, 6, 5, 7, 3 }, { 1, 32, 16, 16, 8 }, { 1, 0, 3, 3, 2 } };
  for (size_t s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      {
        const int64_t batch = sizes[s][0], cin = sizes[s][1], h = sizes[s][2], w = sizes[s][3],
                      cout = sizes[s][4];
        const int64_t nx = batch * cin * h * w, nw = cin * cout * 4, ny = batch * cout * 4 * h * w;
        float *x = h_rand (nx, 1.0f), *wt = h_rand (nw, 1.0f), *b = h_rand (cout, 1.0f);
        float *c = h_alloc (ny * sizeof (float)), *g = d_new (ny);
        cpu->conv_transpose2x2 (NULL, c, x, wt, with_bias ? b : NULL, batch, cin, h, w, cout);
        gpu->conv_transpose2x2 (NULL, g, d_from (x, nx), d_from (wt, nw),
                                with_bias ? d_from (b, cout) : NULL, batch, cin, h, w, cout);
        compare ("conv_transpose2x2", c, g, ny, GEMM);
      }
  end_case ();
}

/* ---- pooling and resampling ------------------------------------------------------------- */

static void
test_pool_nearest (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  /* NHWC (2, 7, 9, 5): odd sizes drop the last row and column, as floor. */
  const int64_t batch = 2, h = 7, w = 9, ch = 5, n = batch * h * w * ch;
  const int64_t no = batch * (h / 2) * (w / 2) * ch;
  float *x = h_rand (n, 1.0f);
  x[3] = NAN; /* wins its window */
  float *c = h_alloc (no * sizeof (float)), *g = d_new (no);
  cpu->maxpool2x2_nhwc (NULL, c, x, batch, h, w, ch);
  gpu->maxpool2x2_nhwc (NULL, g, d_from (x, n), batch, h, w, ch);
  compare ("maxpool2x2_nhwc", c, g, no, EXACT);

  const int64_t planes = 3, ph = 5, pw = 7;
  float *p = h_rand (planes * ph * pw, 1.0f);
  c = h_alloc (planes * 4 * ph * pw * sizeof (float));
  g = d_new (planes * 4 * ph * pw);
  cpu->upsample_nearest2x (NULL, c, p, planes, ph, pw);
  gpu->upsample_nearest2x (NULL, g, d_from (p, planes * ph * pw), planes, ph, pw);
  compare ("upsample_nearest2x", c, g, planes * 4 * ph * pw, EXACT);
  end_case ();
}

static void
check_resize (int64_t h, int64_t w, int64_t oh, int64_t ow, int mode)
{
  const int64_t planes = 6, n = planes * h * w, no = planes * oh * ow;
  float *x = h_rand (n, 1.0f), *dx = d_from (x, n);
  float *c = h_alloc (no * sizeof (float)), *g = d_new (no);
  if (mode == 2)
    {
      cpu->resize_bicubic (NULL, c, x, planes, h, w, oh, ow);
      gpu->resize_bicubic (NULL, g, dx, planes, h, w, oh, ow);
    }
  else
    {
      cpu->resize_bilinear (NULL, c, x, planes, h, w, oh, ow, mode == 1);
      gpu->resize_bilinear (NULL, g, dx, planes, h, w, oh, ow, mode == 1);
    }
  char what[64];
  g_snprintf (what, sizeof what, "resize mode %d %dx%d -> %dx%d", mode, (int) h, (int) w, (int) oh,
              (int) ow);
  compare (what, c, g, no, NORM);
}

static void
test_resize (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  for (int mode = 0; mode < 3; mode++) /* bilinear, antialiased bilinear, bicubic */
    {
      check_resize (5, 7, 13, 16, mode);  /* up */
      check_resize (37, 29, 9, 11, mode); /* down, non-integer */
      check_resize (40, 30, 13, 11, mode);
      check_resize (9, 30, 20, 7, mode);  /* up in h, down in w */
      check_resize (9, 30, 9, 7, mode);   /* only w changes (antialias: one pass) */
      check_resize (9, 30, 20, 30, mode); /* only h changes */
      check_resize (6, 6, 6, 6, mode);    /* identity (antialias: a copy) */
      check_resize (1, 5, 3, 1, mode);    /* degenerate sizes */
    }
  end_case ();
}

/* ---- windows and reductions ------------------------------------------------------------- */

static void
test_windows (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  /* (2, 10, 13, 6) in windows of 4: padded to (12, 16), 3 x 4 windows an image. */
  const int64_t batch = 2, h = 10, w = 13, ch = 6, win = 4, hp = 12, wp = 16;
  const int64_t n = batch * h * w * ch, nw = batch * hp * wp * ch;
  float *x = h_rand (n, 1.0f);
  float *c = h_alloc (nw * sizeof (float)), *g = d_new (nw);
  cpu->window_partition (NULL, c, x, batch, h, w, ch, win);
  gpu->window_partition (NULL, g, d_from (x, n), batch, h, w, ch, win);
  compare ("window_partition", c, g, nw, EXACT);

  float *wins = h_rand (nw, 1.0f);
  float *cu = h_alloc (n * sizeof (float)), *gu = d_new (n);
  cpu->window_unpartition (NULL, cu, wins, batch, hp, wp, h, w, ch, win);
  gpu->window_unpartition (NULL, gu, d_from (wins, nw), batch, hp, wp, h, w, ch, win);
  compare ("window_unpartition", cu, gu, n, EXACT);
  end_case ();
}

static void
test_sum (void)
{
  SKIP_WITHOUT_GPU ();
  begin_case ();
  const int64_t n = 100003;
  float *x = h_rand (n, 5.0f), *dx = d_from (x, n);
  float c, *g = d_new (1);
  cpu->sum (NULL, &c, x, n, (double) n);
  gpu->sum (NULL, g, dx, n, (double) n);
  compare ("mean", &c, g, 1, 1e-6, 0.0);
  cpu->sum (NULL, &c, x, 1, 1.0);
  gpu->sum (NULL, g, dx, 1, 1.0);
  compare ("sum of one", &c, g, 1, EXACT);
  end_case ();
}

/* ---- the device context ----------------------------------------------------------------- */

/* Ops on a context from rm_ctx_new_cuda, tensors copied there and back. Without a GPU: only that
 * the context is refused cleanly. */
static void
test_ctx (void)
{
  g_autoptr (GError) error = NULL;
  if (no_gpu != NULL)
    {
      g_assert_null (rm_ctx_new_cuda (0, &error));
      g_assert_error (error, RM_ERROR, RM_ERROR_UNSUPPORTED);
      g_test_skip (no_gpu);
      return;
    }
  g_assert_null (rm_ctx_new_cuda (-1, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_INPUT);
  g_clear_error (&error);

  RmCtx *host = rm_ctx_new (1), *dev = rm_ctx_new_cuda (0, &error);
  g_assert_no_error (error);
  g_assert_true (dev->backend == rm_backend_cuda ());
  rng_state = 12345;
  RmTensor *x = rm_new_3d (host, 5, 7, 33), *w = rm_new_2d (host, 19, 33),
           *b = rm_new_1d (host, 19);
  RmTensor *all[] = { x, w, b };
  for (size_t t = 0; t < G_N_ELEMENTS (all); t++)
    for (int64_t i = 0; i < rm_tensor_numel (all[t]); i++)
      all[t]->data[i] = rng_float ();
  RmTensor *ref = rm_gelu (host, rm_linear (host, x, w, b));
  RmTensor *ref_mean = rm_mean_all (host, ref);

  RmTensor *dx = rm_tensor_to_device (dev, x, &error);
  g_assert_no_error (error);
  g_assert_cmpint (dx->device, ==, RM_DEVICE_CUDA);
  RmTensor *dy = rm_gelu (dev, rm_linear (dev, dx, rm_tensor_to_device (dev, w, &error),
                                          rm_tensor_to_device (dev, b, &error)));
  g_assert_no_error (error);
  RmTensor *y = rm_tensor_to_host (host, dy, &error);
  g_assert_no_error (error);
  RmTensor *mean = rm_tensor_to_host (host, rm_mean_all (dev, dy), &error);
  g_assert_no_error (error);
  g_assert_cmpint (y->device, ==, RM_DEVICE_CPU);
  g_assert_cmpint (y->ndim, ==, 3);
  double max_ref = 0.0;
  for (int64_t i = 0; i < rm_tensor_numel (ref); i++)
    max_ref = fmax (max_ref, fabs (ref->data[i]));
  for (int64_t i = 0; i < rm_tensor_numel (ref); i++)
    g_assert_cmpfloat_with_epsilon (y->data[i], ref->data[i], 1e-5 * max_ref);
  g_assert_cmpfloat_with_epsilon (mean->data[0], ref_mean->data[0], 1e-5 * max_ref);

  /* A non-contiguous source is refused with a GError. */
  RmTensor view = *x;
  view.stride[2] = 2;
  g_assert_null (rm_tensor_to_device (dev, &view, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_SHAPE);

  rm_ctx_reset (dev);
  rm_ctx_free (dev);
  rm_ctx_free (host);
}

/* ---- the whole model -------------------------------------------------------------------- */

#define MODEL_TOL 1e-4

/* max |a - b| / max(1, max |a|) over n floats. */
static double
model_error (const float *a, const float *b, size_t n)
{
  double max_abs = 0.0, max_ref = 1.0;
  for (size_t i = 0; i < n; i++)
    {
      const double d = fabs ((double) a[i] - (double) b[i]);
      max_abs = isnan (d) || d > max_abs ? (isnan (d) ? INFINITY : d) : max_abs;
      max_ref = fmax (max_ref, fabs ((double) a[i]));
    }
  return max_abs / max_ref;
}

/* The golden set's batched forward on the GPU: every tap, fetched back to the host, within
 * MODEL_TOL of the CPU's. */
static void
test_model_golden (void)
{
  SKIP_WITHOUT_GPU ();
  RmModelCore core;
  if (!rm_test_golden_core (&core))
    return;
  g_autoptr (GError) error = NULL;
  RmModelCore dev_core;
  RmCtx *weights_ctx = rm_ctx_new_cuda (0, &error);
  g_assert_no_error (error);
  g_assert_true (rm_model_core_to_device (&core, weights_ctx, &dev_core, &error));
  g_assert_no_error (error);
  RmCtx *host = rm_ctx_new (1), *dev = rm_ctx_new_cuda (0, &error);
  g_assert_no_error (error);
  RmTestTaps want, got;
  RmForwardOutput out_cpu, out_dev;
  rm_test_golden_forward_pair (host, &core, dev, &dev_core, &want, &got, &out_cpu, &out_dev);
  double worst = 0.0;
  for (guint i = 0; i < want.names->len; i++)
    {
      g_assert_cmpstr (got.names->pdata[i], ==, want.names->pdata[i]);
      gsize n = 0, m = 0;
      const float *a = g_bytes_get_data (want.data->pdata[i], &n);
      const float *b = g_bytes_get_data (got.data->pdata[i], &m);
      g_assert_cmpuint (n, ==, m);
      const double e = model_error (a, b, n / sizeof (float));
      g_test_message ("%-36s %.3e", (const char *) want.names->pdata[i], e);
      worst = fmax (worst, e);
      if (!(e <= MODEL_TOL))
        g_error ("tap %s: CUDA differs from the CPU by %.3e of its scale",
                 (const char *) want.names->pdata[i], e);
    }
  g_test_message ("worst tap: %.3e of its scale (tolerance %.0e)", worst, MODEL_TOL);
  const RmTensor *z = rm_tensor_to_host (host, out_dev.pred_masks, &error);
  g_assert_no_error (error);
  const int64_t n = rm_tensor_numel (z);
  g_assert_cmpint (n, ==, rm_tensor_numel (out_cpu.pred_masks));
  g_assert_cmpfloat (model_error (out_cpu.pred_masks->data, z->data, (size_t) n), <=, MODEL_TOL);
  rm_test_taps_clear (&want);
  rm_test_taps_clear (&got);
  rm_ctx_free (dev);
  rm_ctx_free (host);
  rm_model_core_clear (&dev_core);
  rm_model_core_clear (&core);
}

/* A CUDA session (rm_session_new_on_device) segmenting a real image against a CPU session: logits
 * and prior within MODEL_TOL, the mask equal wherever the CPU's resized logit is clear of the
 * threshold by more than that. Several requests, so the device arenas' reuse is exercised. */
static void
test_model_session (void)
{
  SKIP_WITHOUT_GPU ();
  g_autofree char *image_path =
      rm_test_shared_file_or_skip ("data/dubai-aerial/images/tile1_part001.jpg");
  g_autofree char *dir = image_path ? rm_test_golden_model_dir () : NULL;
  if (dir == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmModel) model = rm_model_load (dir, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (RmImage) image = rm_image_load (image_path, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (RmSession) cpu_session =
      rm_session_new_on_device (model, RM_DEVICE_CHOICE_CPU, 1, &error);
  g_assert_no_error (error);
  g_autoptr (RmSession) gpu_session =
      rm_session_new_on_device (model, RM_DEVICE_CHOICE_CUDA, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rm_session_get_device_name (gpu_session), ==, "cuda");
  const char *texts[] = { "the largest building on the right", "all water" };
  const int n_texts = G_N_ELEMENTS (texts);
  RmSegmentParams params = rm_segment_default_params ();
  RmSegmentResult **want = rm_session_segment (cpu_session, image, texts, n_texts, &params, &error);
  g_assert_no_error (error);
  RmCtx *host = rm_ctx_new (1);
  for (int round = 0; round < 3; round++)
    {
      RmSegmentResult **got =
          rm_session_segment (gpu_session, image, texts, n_texts, &params, &error);
      g_assert_no_error (error);
      for (int i = 0; i < n_texts; i++)
        {
          const RmSegmentResult *a = want[i], *b = got[i];
          const size_t s = (size_t) a->model_size, g = (size_t) a->prior_size;
          g_assert_cmpfloat (model_error (a->logits, b->logits, s * s), <=, MODEL_TOL);
          g_assert_cmpfloat (model_error (a->prior, b->prior, g * g), <=, MODEL_TOL);
          double max_z = 1.0;
          for (size_t k = 0; k < s * s; k++)
            max_z = fmax (max_z, fabs (a->logits[k]));
          rm_ctx_reset (host);
          const RmTensor *z = rm_resize_bilinear (
              host, rm_wrap (host, a->logits, 4, (int64_t[]){ 1, 1, (int64_t) s, (int64_t) s }),
              a->height, a->width, false);
          for (size_t k = 0; k < (size_t) a->width * a->height; k++)
            if (a->mask[k] != b->mask[k] && fabs (z->data[k] - 0.5) > MODEL_TOL * max_z)
              g_error ("mask pixel %zu differs with the CPU's logit %.6f clear of 0.5", k,
                       z->data[k]);
        }
      rm_segment_results_free (got, n_texts);
    }
  rm_ctx_free (host);
  rm_segment_results_free (want, n_texts);
  rm_test_rmdir_recursive (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  cpu = rm_backend_cpu ();
  gpu = rm_backend_cuda ();
  g_autofree char *why = NULL;
  if (rm_cuda_device_count () == 0)
    no_gpu = "no CUDA device found at run time: the CUDA kernels cannot be compared with the CPU";
  else if (!rm_cuda_backend_init (0))
    no_gpu = why = g_strdup_printf ("CUDA device 0 unusable: %s", rm_cuda_backend_error ());

  g_test_add_func ("/cuda/fill-copy", test_fill_copy);
  g_test_add_func ("/cuda/gather", test_gather);
  g_test_add_func ("/cuda/binary", test_binary);
  g_test_add_func ("/cuda/axpby-unary", test_axpby_unary);
  g_test_add_func ("/cuda/layernorm", test_layernorm);
  g_test_add_func ("/cuda/linear", test_linear);
  g_test_add_func ("/cuda/matmul", test_matmul);
  g_test_add_func ("/cuda/attention", test_attention);
  g_test_add_func ("/cuda/conv2d", test_conv2d);
  g_test_add_func ("/cuda/conv-transpose2x2", test_conv_transpose);
  g_test_add_func ("/cuda/pool-nearest", test_pool_nearest);
  g_test_add_func ("/cuda/resize", test_resize);
  g_test_add_func ("/cuda/windows", test_windows);
  g_test_add_func ("/cuda/sum", test_sum);
  g_test_add_func ("/cuda/ctx", test_ctx);
  g_test_add_func ("/cuda/model/golden", test_model_golden);
  g_test_add_func ("/cuda/model/session", test_model_session);
  return g_test_run ();
}
