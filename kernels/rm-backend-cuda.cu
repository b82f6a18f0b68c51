/* SPDX-License-Identifier: GPL-3.0-or-later
 * The CUDA backend's forward kernels (see rm-backend-cuda.h).
 *
 * Each kernel mirrors its twin in engine/rm-backend-cpu.c: same formulas, same fmaf where the
 * CPU writes one, separate roundings where it does not (the file is built with --fmad=false so
 * that nvcc never contracts a*b+c behind our back), sums in double where the CPU sums in
 * double. The resize kernels even use the CPU's own tap tables (rm_cpu_taps_build). What still
 * differs is summation order (GEMMs, convolutions, the layer norm's double sums, attention's
 * online softmax blocks) and the last ulp of expf / erff.
 */
extern "C"
{
#include "rm-backend-cpu-private.h"
}
#include "rm-backend-cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- state and error reporting ---------------------------------------------------------- */

static struct
{
  bool ready;
  int device;
  cudaStream_t stream;
  cublasHandle_t blas;
  cudnnHandle_t dnn; /* created by the first convolution: loading cuDNN is slow */
  int smem_optin;    /* largest dynamic shared memory a block may ask for */
  size_t attn_smem;  /* what the attention kernel is allowed so far */
  bool failed;
  int reported;
  char error[512];
} rm_cu;

/* Remembers the first failure and prints the first few (a failing device makes every later
 * call fail too: no need for thousands of lines). */
static bool
rm_cu_fail (const char *file, int line, const char *call, const char *msg)
{
  if (!rm_cu.failed)
    snprintf (rm_cu.error, sizeof rm_cu.error, "%s:%d: %s: %s", file, line, call, msg);
  rm_cu.failed = true;
  if (rm_cu.reported++ < 8)
    fprintf (stderr, "refmask CUDA backend: %s:%d: %s failed: %s\n", file, line, call, msg);
  return false;
}

static bool
rm_cu_status (cudaError_t e, const char *call, const char *file, int line)
{
  return e == cudaSuccess || rm_cu_fail (file, line, call, cudaGetErrorString (e));
}

static bool
rm_cu_status (cublasStatus_t s, const char *call, const char *file, int line)
{
  return s == CUBLAS_STATUS_SUCCESS || rm_cu_fail (file, line, call, cublasGetStatusString (s));
}

static bool
rm_cu_status (cudnnStatus_t s, const char *call, const char *file, int line)
{
  return s == CUDNN_STATUS_SUCCESS || rm_cu_fail (file, line, call, cudnnGetErrorString (s));
}

/* true when the CUDA / cuBLAS / cuDNN call succeeded; else reported with file and line. */
#define RM_CU_OK(call) rm_cu_status ((call), #call, __FILE__, __LINE__)

extern "C" bool
rm_cuda_backend_init (int device)
{
  if (rm_cu.ready)
    {
      if (device == rm_cu.device)
        return true;
      char msg[96];
      snprintf (msg, sizeof msg, "the backend is bound to device %d", rm_cu.device);
      return rm_cu_fail (__FILE__, __LINE__, "rm_cuda_backend_init", msg);
    }
  if (!RM_CU_OK (cudaSetDevice (device)) || !RM_CU_OK (cudaFree (NULL)) /* creates the context */
      || !RM_CU_OK (cudaDeviceGetAttribute (&rm_cu.smem_optin,
                                            cudaDevAttrMaxSharedMemoryPerBlockOptin, device)))
    return false;
  if (rm_cu.stream == NULL && !RM_CU_OK (cudaStreamCreate (&rm_cu.stream)))
    return false;
  if (rm_cu.blas == NULL && !RM_CU_OK (cublasCreate (&rm_cu.blas)))
    return false;
  /* Plain fp32: the default math mode with CUBLAS_COMPUTE_32F never uses TF32. */
  if (!RM_CU_OK (cublasSetStream (rm_cu.blas, rm_cu.stream)) ||
      !RM_CU_OK (cublasSetMathMode (rm_cu.blas, CUBLAS_DEFAULT_MATH)))
    return false;
  rm_cu.device = device;
  rm_cu.attn_smem = 48 << 10;
  rm_cu.ready = true;
  return true;
}

extern "C" cudaStream_t
rm_cuda_backend_stream (void)
{
  return rm_cu.ready ? rm_cu.stream : NULL;
}

extern "C" bool
rm_cuda_backend_sync (void)
{
  if (rm_cu.ready)
    RM_CU_OK (cudaStreamSynchronize (rm_cu.stream));
  return !rm_cu.failed;
}

extern "C" const char *
rm_cuda_backend_error (void)
{
  return rm_cu.failed ? rm_cu.error : NULL;
}

extern "C" void
rm_cuda_backend_clear_error (void)
{
  rm_cu.failed = false;
  rm_cu.reported = 0;
  rm_cu.error[0] = '\0';
  (void) cudaGetLastError (); /* the runtime's own copy of a non-sticky error */
}

/* Every kernel entry starts here: binds the current device on first use; does nothing while
 * an earlier failure is pending (the results would be garbage anyway). */
static bool
rm_cu_ready (void)
{
  if (rm_cu.failed)
    return false;
  if (rm_cu.ready)
    return true;
  int device = 0;
  return RM_CU_OK (cudaGetDevice (&device)) && rm_cuda_backend_init (device);
}

/* Scratch in stream order (the pool of cudaMallocAsync keeps it cheap). */
static void *
rm_cu_scratch (size_t bytes)
{
  void *p = NULL;
  if (!RM_CU_OK (cudaMallocAsync (&p, bytes > 0 ? bytes : 1, rm_cu.stream)))
    return NULL;
  return p;
}

static void
rm_cu_scratch_free (void *p)
{
  if (p != NULL)
    RM_CU_OK (cudaFreeAsync (p, rm_cu.stream));
}

/* p itself when it is device memory, else a device copy in *owned (free it after use). The
 * copy from pageable memory is staged before cudaMemcpyAsync returns: p may go right after. */
static const void *
rm_cu_on_device (const void *p, size_t bytes, void **owned)
{
  cudaPointerAttributes attr;
  *owned = NULL;
  if (cudaPointerGetAttributes (&attr, p) == cudaSuccess &&
      (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged))
    return p;
  (void) cudaGetLastError (); /* a plain host pointer is not an error */
  void *d = rm_cu_scratch (bytes);
  if (d == NULL)
    return NULL;
  if (!RM_CU_OK (cudaMemcpyAsync (d, p, bytes, cudaMemcpyHostToDevice, rm_cu.stream)))
    {
      rm_cu_scratch_free (d);
      return NULL;
    }
  *owned = d;
  return d;
}

static bool
rm_cu_fits_int (int64_t v, const char *what)
{
  if (v >= 0 && v <= INT_MAX)
    return true;
  return rm_cu_fail (__FILE__, __LINE__, what, "size does not fit the library's int");
}

/* ---- launch helpers --------------------------------------------------------------------- */

#define RM_CU_THREADS 256

/* Grid-stride loops: a bounded grid covers any n. */
#define RM_CU_FOR(i, n)                                                      \
  for (int64_t i = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t) gridDim.x * blockDim.x)

static unsigned
rm_cu_blocks (int64_t n)
{
  int64_t b = (n + RM_CU_THREADS - 1) / RM_CU_THREADS;
  return (unsigned) (b < 1 ? 1 : b > (1 << 20) ? (1 << 20) : b);
}

/* Launches on the backend's stream; a failed launch is reported at the caller's line. The
 * file's only triple chevrons (clang-format's GNU style, C++03, would split them). */
template <typename... Params, typename... Args>
static bool
rm_cu_launch (const char *file, int line, const char *name, void (*kernel) (Params...),
              unsigned blocks, unsigned threads, size_t smem, Args... args)
{
  /* clang-format off */
  kernel<<<blocks, threads, smem, rm_cu.stream>>> (args...);
  /* clang-format on */
  return rm_cu_status (cudaGetLastError (), name, file, line);
}

#define RM_CU_KERNEL(kernel, blocks, threads, smem, ...) \
  rm_cu_launch (__FILE__, __LINE__, #kernel, kernel, blocks, threads, smem, __VA_ARGS__)

/* An element-wise kernel over n items (nothing to launch when n is 0). */
#define RM_CU_LAUNCH(kernel, n, ...)                                            \
  do                                                                            \
    {                                                                           \
      if ((n) > 0)                                                              \
        RM_CU_KERNEL (kernel, rm_cu_blocks (n), RM_CU_THREADS, 0, __VA_ARGS__); \
    }                                                                           \
  while (0)

/* Offsets of element i of a box in two strided layouts. */
typedef struct
{
  int ndim;
  int64_t shape[RM_MAX_DIMS];
  int64_t sa[RM_MAX_DIMS];
  int64_t sb[RM_MAX_DIMS];
} RmCuBox;

static __device__ void
rm_cu_offsets (const RmCuBox &box, int64_t i, int64_t *oa, int64_t *ob)
{
  int64_t a = 0, b = 0;
  for (int d = box.ndim - 1; d >= 0; d--)
    {
      const int64_t idx = i % box.shape[d];
      i /= box.shape[d];
      a += idx * box.sa[d];
      b += idx * box.sb[d];
    }
  *oa = a;
  *ob = b;
}

static int64_t
rm_cu_box (RmCuBox *box, int ndim, const int64_t *shape, const int64_t *sa, const int64_t *sb)
{
  int64_t n = 1;
  box->ndim = ndim;
  for (int d = 0; d < ndim; d++)
    {
      box->shape[d] = shape[d];
      box->sa[d] = sa != NULL ? sa[d] : 0;
      box->sb[d] = sb[d];
      n *= shape[d];
    }
  return n;
}

/* Sums of a block in double, the result in every thread (blockDim a multiple of 32). */
static __device__ double
rm_cu_warp_sum (double v)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

static __device__ double
rm_cu_block_sum (double v, double *part)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = rm_cu_warp_sum (v);
  if (lane == 0)
    part[warp] = v;
  __syncthreads ();
  if (warp == 0)
    {
      v = lane < (int) (blockDim.x >> 5) ? part[lane] : 0.0;
      v = rm_cu_warp_sum (v);
      if (lane == 0)
        part[0] = v;
    }
  __syncthreads ();
  v = part[0];
  __syncthreads (); /* part may be reused right after */
  return v;
}

/* ---- fill, copies, gathers -------------------------------------------------------------- */

static __global__ void
rm_k_fill (float *dst, int64_t n, float value)
{
  RM_CU_FOR (i, n)
  dst[i] = value;
}

static void
rm_cuda_fill (RmThreadPool *pool, float *dst, int64_t n, float value)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_fill, n, dst, n, value);
}

static __global__ void
rm_k_copy (RmCuBox box, int64_t n, float *dst, const float *src)
{
  RM_CU_FOR (i, n)
  {
    int64_t od, os;
    rm_cu_offsets (box, i, &od, &os);
    dst[od] = src[os];
  }
}

static void
rm_cuda_copy_strided (RmThreadPool *pool, int ndim, const int64_t *shape, float *dst,
                      const int64_t *dst_stride, const float *src, const int64_t *src_stride)
{
  RmCuBox box;
  const int64_t n = rm_cu_box (&box, ndim, shape, dst_stride, src_stride);
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_copy, n, box, n, dst, src);
}

static __global__ void
rm_k_gather_rows (float *dst, const float *table, int64_t dim, const int64_t *ids, int64_t n)
{
  RM_CU_FOR (i, n * dim)
  dst[i] = table[ids[i / dim] * dim + i % dim];
}

static void
rm_cuda_gather_rows (RmThreadPool *pool, float *dst, const float *table, int64_t dim,
                     const int64_t *ids, int64_t n)
{
  void *owned;
  if (n <= 0 || dim <= 0 || !rm_cu_ready ())
    return;
  const int64_t *d_ids = (const int64_t *) rm_cu_on_device (ids, (size_t) n * sizeof *ids, &owned);
  if (d_ids != NULL)
    RM_CU_LAUNCH (rm_k_gather_rows, n * dim, dst, table, dim, d_ids, n);
  rm_cu_scratch_free (owned);
}

/* ---- element-wise ----------------------------------------------------------------------- */

static __global__ void
rm_k_binary (RmBinaryOp op, RmCuBox box, int64_t n, float *dst, const float *a, const float *b)
{
  RM_CU_FOR (i, n)
  {
    int64_t unused, ob;
    rm_cu_offsets (box, i, &unused, &ob);
    const float x = a[i], y = b[ob];
    dst[i] = op == RM_BINARY_ADD ? x + y : op == RM_BINARY_SUB ? x - y : x * y;
  }
}

static void
rm_cuda_binary (RmThreadPool *pool, RmBinaryOp op, float *dst, const float *a, const float *b,
                int ndim, const int64_t *shape, const int64_t *b_stride)
{
  RmCuBox box;
  const int64_t n = rm_cu_box (&box, ndim, shape, NULL, b_stride);
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_binary, n, op, box, n, dst, a, b);
}

static __global__ void
rm_k_axpby (float *dst, float alpha, const float *a, float beta, const float *b, int64_t n)
{
  /* Two products and a sum, each rounded (as the CPU's RM_NO_CONTRACT loop). */
  RM_CU_FOR (i, n)
  dst[i] = __fadd_rn (__fmul_rn (alpha, a[i]), __fmul_rn (beta, b[i]));
}

static void
rm_cuda_axpby (RmThreadPool *pool, float *dst, float alpha, const float *a, float beta,
               const float *b, int64_t n)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_axpby, n, dst, alpha, a, beta, b, n);
}

static __global__ void
rm_k_unary (RmUnaryOp op, float *dst, const float *x, int64_t n, float s)
{
  RM_CU_FOR (i, n)
  {
    const float v = x[i];
    float y;
    switch (op)
      {
      case RM_UNARY_SCALE:
        y = s * v;
        break;
      case RM_UNARY_RSUB:
        y = s - v;
        break;
      case RM_UNARY_RELU:
        y = v < 0.0f ? 0.0f : v; /* NaN stays NaN */
        break;
      case RM_UNARY_GELU:
        y = v * 0.5f * (1.0f + erff (v * (float) M_SQRT1_2));
        break;
      default: /* RM_UNARY_SIGMOID */
        y = 1.0f / (1.0f + expf (-v));
        break;
      }
    dst[i] = y;
  }
}

static void
rm_cuda_unary (RmThreadPool *pool, RmUnaryOp op, float *dst, const float *x, int64_t n, float s)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_unary, n, op, dst, x, n, s);
}

/* ---- layer norms ------------------------------------------------------------------------ */

/* One block a row; mean and variance from double sums, then torch's fused
 * (x * rstd + (-rstd * mean)) * w + b, as the CPU kernel. */
static __global__ void
rm_k_layernorm (float *dst, const float *x, const float *w, const float *b, int64_t dim, float eps)
{
  __shared__ double part[32];
  const float *xr = x + (int64_t) blockIdx.x * dim;
  float *yr = dst + (int64_t) blockIdx.x * dim;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    s += xr[i];
  const float mean = (float) (rm_cu_block_sum (s, part) / (double) dim);
  s = 0.0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    {
      const double d = xr[i] - mean; /* the difference in float, as torch */
      s += d * d;
    }
  const float var = (float) (rm_cu_block_sum (s, part) / (double) dim);
  const float rstd = 1.0f / sqrtf (var + eps), shift = -rstd * mean;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x)
    yr[i] = fmaf (fmaf (xr[i], rstd, shift), w[i], b[i]);
}

static void
rm_cuda_layernorm (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                   int64_t rows, int64_t dim, float eps)
{
  if (rows <= 0 || dim <= 0 || !rm_cu_ready () || !rm_cu_fits_int (rows, "layernorm rows"))
    return;
  RM_CU_KERNEL (rm_k_layernorm, (unsigned) rows, RM_CU_THREADS, 0, dst, x, w, b, dim, eps);
}

/* A thread a pixel, down the channels in order: the CPU's sums exactly, then
 * (x - u) / sqrt(s + eps) * w + b with every step rounded (SAM's LayerNorm2d). */
static __global__ void
rm_k_layernorm_nchw (float *dst, const float *x, const float *w, const float *b, int64_t batch,
                     int64_t channels, int64_t pixels, float eps)
{
  RM_CU_FOR (t, batch * pixels)
  {
    const int64_t off = (t / pixels) * channels * pixels + t % pixels;
    const float *xp = x + off;
    float *yp = dst + off;
    double acc = 0.0;
    for (int64_t c = 0; c < channels; c++)
      acc += xp[c * pixels];
    const float mean = (float) (acc / (double) channels);
    acc = 0.0;
    for (int64_t c = 0; c < channels; c++)
      {
        const double d = xp[c * pixels] - mean;
        acc += d * d;
      }
    const float denom = sqrtf ((float) (acc / (double) channels) + eps);
    for (int64_t c = 0; c < channels; c++)
      yp[c * pixels] = (xp[c * pixels] - mean) / denom * w[c] + b[c];
  }
}

static void
rm_cuda_layernorm_nchw (RmThreadPool *pool, float *dst, const float *x, const float *w,
                        const float *b, int64_t batch, int64_t channels, int64_t pixels, float eps)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_layernorm_nchw, batch * pixels, dst, x, w, b, batch, channels, pixels, eps);
}

/* ---- GEMMs ------------------------------------------------------------------------------ */

/* Row-major C (m, n) = alpha op(A) op(B), `batch` times at the given element strides. cuBLAS
 * is column-major: there a row-major matrix is its own transpose, so it computes
 * C^T = op(B)^T op(A)^T with the operands swapped and the same transpose flags. */
static bool
rm_cu_gemm (bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
            int64_t stride_a, const float *b, int64_t ldb, int64_t stride_b, float *c, int64_t ldc,
            int64_t stride_c, int64_t batch)
{
  const float one = 1.0f, zero = 0.0f;
  if (!rm_cu_fits_int (m, "gemm m") || !rm_cu_fits_int (n, "gemm n") ||
      !rm_cu_fits_int (k, "gemm k") || !rm_cu_fits_int (lda, "gemm lda") ||
      !rm_cu_fits_int (ldb, "gemm ldb") || !rm_cu_fits_int (ldc, "gemm ldc") ||
      !rm_cu_fits_int (batch, "gemm batch"))
    return false;
  return RM_CU_OK (cublasGemmStridedBatchedEx (
      rm_cu.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int) n, (int) m,
      (int) k, &one, b, CUDA_R_32F, (int) ldb, stride_b, a, CUDA_R_32F, (int) lda, stride_a, &zero,
      c, CUDA_R_32F, (int) ldc, stride_c, (int) batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

/* dst[i] += bias[(i / inner) % n_bias]: per column of a linear (inner 1), per channel plane of
 * a convolution (inner = pixels). Added after the product, one rounding, as the CPU. */
static __global__ void
rm_k_add_bias (float *dst, const float *bias, int64_t n, int64_t inner, int64_t n_bias)
{
  RM_CU_FOR (i, n)
  dst[i] = dst[i] + bias[(i / inner) % n_bias];
}

static void
rm_cuda_linear (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                int64_t m, int64_t n_in, int64_t n_out)
{
  if (m == 0 || n_out == 0 || !rm_cu_ready ())
    return;
  bool ok;
  if (n_in == 0)
    ok = RM_CU_OK (cudaMemsetAsync (dst, 0, (size_t) (m * n_out) * sizeof *dst, rm_cu.stream));
  else
    ok = rm_cu_gemm (false, true, m, n_out, n_in, x, n_in, 0, w, n_in, 0, dst, n_out, 0, 1);
  if (ok && b != NULL)
    RM_CU_LAUNCH (rm_k_add_bias, m * n_out, dst, b, m * n_out, 1, n_out);
}

static void
rm_cuda_matmul (RmThreadPool *pool, float *dst, const float *a, const float *b, int64_t batch,
                int64_t m, int64_t n, int64_t k, bool trans_b)
{
  if (m == 0 || n == 0 || batch == 0 || !rm_cu_ready ())
    return;
  if (k == 0)
    RM_CU_OK (cudaMemsetAsync (dst, 0, (size_t) (batch * m * n) * sizeof *dst, rm_cu.stream));
  else
    rm_cu_gemm (false, trans_b, m, n, k, a, k, m * k, b, trans_b ? k : n, k * n, dst, n, m * n,
                batch);
}

/* ---- attention -------------------------------------------------------------------------- */

/* Flash-style, like the CPU kernel: a block takes RM_ATT_BQ queries of one (batch, head) and
 * lets the keys go by in tiles of RM_ATT_BK with an online softmax, so scores never exist
 * beyond one BQ x BK tile. Q, K, V tiles, the tile's probabilities and the unnormalised output
 * sit in shared memory (rows padded by one float against bank conflicts); a warp owns
 * BQ / warps rows of the softmax, one lane per key. Scores are K.Q as one fmaf chain over the
 * head dim, then times the scale, as the CPU's tile GEMM computes them; the row sums are in
 * double, as there. */
#define RM_ATT_BQ      32
#define RM_ATT_BK      32 /* = the warp size: a lane per key */
#define RM_ATT_THREADS 128
#define RM_ATT_WARPS   (RM_ATT_THREADS / 32)
#define RM_ATT_ROWS    (RM_ATT_BQ / RM_ATT_WARPS)

static size_t
rm_att_smem_bytes (int64_t dh, int64_t dv)
{
  const int64_t floats = (RM_ATT_BQ + RM_ATT_BK) * (dh + 1) + (RM_ATT_BK + RM_ATT_BQ) * dv +
                         RM_ATT_BQ * (RM_ATT_BK + 1) + RM_ATT_BQ;
  return RM_ATT_BQ * sizeof (double) + (size_t) floats * sizeof (float);
}

static __global__ void
__launch_bounds__ (RM_ATT_THREADS)
    rm_k_attention (float *out, const float *q, const float *k, const float *v, RmAttnDims d,
                    const uint8_t *key_pad, int64_t n_qblocks)
{
  extern __shared__ double rm_att_smem[];
  const int64_t dh = d.dh, dv = d.dv, dhp = dh + 1;
  double *lsum = rm_att_smem;                   /* (BQ) softmax denominators */
  float *qs = (float *) (lsum + RM_ATT_BQ);     /* (BQ, dh + 1) */
  float *ks = qs + RM_ATT_BQ * dhp;             /* (BK, dh + 1) */
  float *vs = ks + RM_ATT_BK * dhp;             /* (BK, dv) */
  float *ps = vs + RM_ATT_BK * dv;              /* (BQ, BK + 1) scores, then probabilities */
  float *os = ps + RM_ATT_BQ * (RM_ATT_BK + 1); /* (BQ, dv) unnormalised output */
  float *fac = os + RM_ATT_BQ * dv;             /* (BQ) rescale of the earlier tiles */

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t qb = blockIdx.x % n_qblocks, bh = blockIdx.x / n_qblocks;
  const int64_t h = bh % d.heads, b = bh / d.heads;
  const int64_t q0 = qb * RM_ATT_BQ, nq = min ((int64_t) RM_ATT_BQ, d.nq - q0);
  const int64_t ldq = d.heads * dh, ldv = d.heads * dv;
  const float *qbase = q + (b * d.nq + q0) * ldq + h * dh;
  const uint8_t *pad = key_pad != NULL ? key_pad + b * d.nk : NULL;

  for (int64_t e = tid; e < RM_ATT_BQ * dh; e += RM_ATT_THREADS)
    {
      const int64_t i = e / dh, c = e % dh;
      qs[i * dhp + c] = i < nq ? qbase[i * ldq + c] : 0.0f;
    }
  for (int64_t e = tid; e < RM_ATT_BQ * dv; e += RM_ATT_THREADS)
    os[e] = 0.0f;
  float m[RM_ATT_ROWS];
  double l[RM_ATT_ROWS];
#pragma unroll
  for (int r = 0; r < RM_ATT_ROWS; r++)
    {
      m[r] = -INFINITY;
      l[r] = 0.0;
    }

  for (int64_t k0 = 0; k0 < d.nk; k0 += RM_ATT_BK)
    {
      const int64_t nk = min ((int64_t) RM_ATT_BK, d.nk - k0);
      const float *kbase = k + (b * d.nk + k0) * ldq + h * dh;
      const float *vbase = v + (b * d.nk + k0) * ldv + h * dv;
      __syncthreads (); /* the previous tile is done with ks, vs, ps */
      for (int64_t e = tid; e < RM_ATT_BK * dh; e += RM_ATT_THREADS)
        {
          const int64_t j = e / dh, c = e % dh;
          ks[j * dhp + c] = j < nk ? kbase[j * ldq + c] : 0.0f;
        }
      for (int64_t e = tid; e < RM_ATT_BK * dv; e += RM_ATT_THREADS)
        {
          const int64_t j = e / dv, c = e % dv;
          vs[e] = j < nk ? vbase[j * ldv + c] : 0.0f;
        }
      __syncthreads ();

      /* Scores; masked and missing keys at -inf. */
      for (int e = tid; e < RM_ATT_BQ * RM_ATT_BK; e += RM_ATT_THREADS)
        {
          const int i = e / RM_ATT_BK, j = e % RM_ATT_BK;
          float s = -INFINITY;
          if (j < nk && (pad == NULL || !pad[k0 + j]))
            {
              float acc = 0.0f;
              for (int64_t c = 0; c < dh; c++)
                acc = fmaf (ks[j * dhp + c], qs[i * dhp + c], acc);
              s = acc * d.scale;
            }
          ps[i * (RM_ATT_BK + 1) + j] = s;
        }
      __syncthreads ();

      /* Online softmax. A row with nothing but masked keys so far keeps max -inf and shifts
       * by 0: its exps are exp(-inf) = 0 and nothing turns NaN. */
#pragma unroll
      for (int r = 0; r < RM_ATT_ROWS; r++)
        {
          const int i = warp + r * RM_ATT_WARPS;
          const float s = ps[i * (RM_ATT_BK + 1) + lane];
          float mx = s;
          for (int o = 16; o > 0; o >>= 1)
            mx = fmaxf (mx, __shfl_xor_sync (0xffffffffu, mx, o));
          const float new_m = fmaxf (m[r], mx);
          const float shift = new_m == -INFINITY ? 0.0f : new_m;
          const float f = expf (m[r] - shift);
          const float p = expf (s - shift);
          l[r] = l[r] * f + rm_cu_warp_sum (p);
          m[r] = new_m;
          ps[i * (RM_ATT_BK + 1) + lane] = p;
          if (lane == 0)
            fac[i] = f;
        }
      __syncthreads ();

      /* o = o * fac + P V (the product summed first, as the CPU's tile GEMM). */
      for (int64_t e = tid; e < RM_ATT_BQ * dv; e += RM_ATT_THREADS)
        {
          const int64_t i = e / dv, c = e % dv;
          float acc = 0.0f;
          for (int j = 0; j < RM_ATT_BK; j++)
            acc = fmaf (ps[i * (RM_ATT_BK + 1) + j], vs[j * dv + c], acc);
          os[e] = os[e] * fac[i] + acc;
        }
    }

  if (lane == 0)
    {
#pragma unroll
      for (int r = 0; r < RM_ATT_ROWS; r++)
        lsum[warp + r * RM_ATT_WARPS] = l[r];
    }
  __syncthreads ();
  float *obase = out + (b * d.nq + q0) * ldv + h * dv;
  for (int64_t e = tid; e < nq * dv; e += RM_ATT_THREADS)
    {
      const int64_t i = e / dv, c = e % dv;
      obase[i * ldv + c] = lsum[i] > 0.0 ? (float) (os[e] / lsum[i]) : 0.0f;
    }
}

static void
rm_cuda_attention (RmThreadPool *pool, float *dst, const float *q, const float *k, const float *v,
                   const RmAttnDims *d, const uint8_t *key_pad)
{
  if (d->nq == 0 || d->dv == 0 || d->batch == 0 || !rm_cu_ready ())
    return;
  const int64_t n_qblocks = (d->nq + RM_ATT_BQ - 1) / RM_ATT_BQ;
  const size_t smem = rm_att_smem_bytes (d->dh, d->dv);
  if (smem > (size_t) rm_cu.smem_optin)
    {
      rm_cu_fail (__FILE__, __LINE__, "attention", "head dims too large for shared memory");
      return;
    }
  if (smem > rm_cu.attn_smem)
    {
      if (!RM_CU_OK (cudaFuncSetAttribute (
              rm_k_attention, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) smem)))
        return;
      rm_cu.attn_smem = smem;
    }
  if (!rm_cu_fits_int (n_qblocks * d->batch * d->heads, "attention blocks"))
    return;
  void *owned = NULL;
  const uint8_t *pad = NULL;
  if (key_pad != NULL && (pad = (const uint8_t *) rm_cu_on_device (
                              key_pad, (size_t) (d->batch * d->nk), &owned)) == NULL)
    return;
  RM_CU_KERNEL (rm_k_attention, (unsigned) (n_qblocks * d->batch * d->heads), RM_ATT_THREADS, smem,
                dst, q, k, v, *d, pad, n_qblocks);
  rm_cu_scratch_free (owned);
}

/* ---- convolutions ----------------------------------------------------------------------- */

/* Algorithms whose fp32 results are ordinary dot products: FFT and Winograd trade accuracy
 * for speed and are left out. */
static bool
rm_cu_conv_algo_exact (cudnnConvolutionFwdAlgo_t algo)
{
  return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}

static bool
rm_cu_conv_algo (cudnnTensorDescriptor_t xd, cudnnFilterDescriptor_t wd,
                 cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t yd,
                 cudnnConvolutionFwdAlgo_t *algo)
{
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int n = 0;
  if (!RM_CU_OK (cudnnGetConvolutionForwardAlgorithm_v7 (
          rm_cu.dnn, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf)))
    return false;
  *algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM; /* always supported, no workspace */
  for (int i = 0; i < n; i++)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && rm_cu_conv_algo_exact (perf[i].algo) &&
        perf[i].mathType != CUDNN_TENSOR_OP_MATH &&
        perf[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
      {
        *algo = perf[i].algo;
        break;
      }
  return true;
}

static void
rm_cuda_conv2d (RmThreadPool *pool, float *dst, const float *x, const float *w, const float *b,
                const RmConvDims *d)
{
  if (!rm_cu_ready () || !rm_cu_fits_int (d->batch * d->cin * d->h * d->w, "conv2d input") ||
      !rm_cu_fits_int (d->batch * d->cout * d->oh * d->ow, "conv2d output") ||
      !rm_cu_fits_int (d->cout * d->cin * d->kh * d->kw, "conv2d weight"))
    return;
  if (rm_cu.dnn == NULL && (!RM_CU_OK (cudnnCreate (&rm_cu.dnn)) ||
                            !RM_CU_OK (cudnnSetStream (rm_cu.dnn, rm_cu.stream))))
    {
      if (rm_cu.dnn != NULL)
        cudnnDestroy (rm_cu.dnn);
      rm_cu.dnn = NULL;
      return;
    }
  cudnnTensorDescriptor_t xd = NULL, yd = NULL;
  cudnnFilterDescriptor_t wd = NULL;
  cudnnConvolutionDescriptor_t cd = NULL;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t ws_bytes = 0;
  void *ws = NULL;
  const float one = 1.0f, zero = 0.0f;
  /* CUDNN_FMA_MATH, not CUDNN_DEFAULT_MATH: the default lets cuDNN use TF32 tensor cores on
   * Ampere and later, which would round the inputs to 10 mantissa bits. */
  const bool ok =
      RM_CU_OK (cudnnCreateTensorDescriptor (&xd)) &&
      RM_CU_OK (cudnnCreateTensorDescriptor (&yd)) &&
      RM_CU_OK (cudnnCreateFilterDescriptor (&wd)) &&
      RM_CU_OK (cudnnCreateConvolutionDescriptor (&cd)) &&
      RM_CU_OK (cudnnSetTensor4dDescriptor (xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int) d->batch,
                                            (int) d->cin, (int) d->h, (int) d->w)) &&
      RM_CU_OK (cudnnSetTensor4dDescriptor (yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int) d->batch,
                                            (int) d->cout, (int) d->oh, (int) d->ow)) &&
      RM_CU_OK (cudnnSetFilter4dDescriptor (wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int) d->cout,
                                            (int) d->cin, (int) d->kh, (int) d->kw)) &&
      RM_CU_OK (cudnnSetConvolution2dDescriptor (cd, (int) d->pad, (int) d->pad, (int) d->stride,
                                                 (int) d->stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT)) &&
      RM_CU_OK (cudnnSetConvolutionMathType (cd, CUDNN_FMA_MATH)) &&
      rm_cu_conv_algo (xd, wd, cd, yd, &algo) &&
      RM_CU_OK (
          cudnnGetConvolutionForwardWorkspaceSize (rm_cu.dnn, xd, wd, cd, yd, algo, &ws_bytes)) &&
      (ws_bytes == 0 || (ws = rm_cu_scratch (ws_bytes)) != NULL) &&
      RM_CU_OK (cudnnConvolutionForward (rm_cu.dnn, &one, xd, x, wd, w, cd, algo, ws, ws_bytes,
                                         &zero, yd, dst));
  rm_cu_scratch_free (ws);
  if (cd != NULL)
    cudnnDestroyConvolutionDescriptor (cd);
  if (wd != NULL)
    cudnnDestroyFilterDescriptor (wd);
  if (yd != NULL)
    cudnnDestroyTensorDescriptor (yd);
  if (xd != NULL)
    cudnnDestroyTensorDescriptor (xd);
  const int64_t n = d->batch * d->cout * d->oh * d->ow;
  if (ok && b != NULL)
    RM_CU_LAUNCH (rm_k_add_bias, n, dst, b, n, d->oh * d->ow, d->cout);
}

/* tmp (batch, cout*4, h, w), tap (dy, dx) of channel o in row o*4 + dy*2 + dx -> the
 * (batch, cout, 2h, 2w) output, bias added (0 without one, as the CPU). */
static __global__ void
rm_k_scatter2x2 (float *dst, const float *tmp, const float *bias, int64_t batch, int64_t cout,
                 int64_t h, int64_t w)
{
  RM_CU_FOR (i, batch * cout * 4 * h * w)
  {
    const int64_t xo = i % (2 * w), yo = (i / (2 * w)) % (2 * h), bo = i / (4 * h * w);
    const int64_t tap = (bo * 4 + (yo % 2) * 2 + xo % 2) * h * w;
    dst[i] = tmp[tap + (yo / 2) * w + xo / 2] + (bias != NULL ? bias[bo % cout] : 0.0f);
  }
}

static void
rm_cuda_conv_transpose2x2 (RmThreadPool *pool, float *dst, const float *x, const float *w,
                           const float *b, int64_t batch, int64_t cin, int64_t h, int64_t width,
                           int64_t cout)
{
  const int64_t hw = h * width, n = batch * 4 * cout * hw;
  if (n == 0 || !rm_cu_ready ())
    return;
  /* Every output pixel has exactly one tap: tmp = W^T (4*cout, cin) x X (cin, hw) per image. */
  float *tmp = (float *) rm_cu_scratch ((size_t) n * sizeof (float));
  if (tmp == NULL)
    return;
  const bool ok = cin == 0
                      ? RM_CU_OK (cudaMemsetAsync (tmp, 0, (size_t) n * sizeof *tmp, rm_cu.stream))
                      : rm_cu_gemm (true, false, 4 * cout, hw, cin, w, 4 * cout, 0, x, hw, cin * hw,
                                    tmp, hw, 4 * cout * hw, batch);
  if (ok)
    RM_CU_LAUNCH (rm_k_scatter2x2, n, dst, tmp, b, batch, cout, h, width);
  rm_cu_scratch_free (tmp);
}

/* ---- pooling and resampling ------------------------------------------------------------- */

static __device__ float
rm_cu_max_nan (float m, float v)
{
  return (v > m || isnan (v)) ? v : m; /* torch's max pooling lets NaN win */
}

static __global__ void
rm_k_maxpool2x2_nhwc (float *dst, const float *x, int64_t batch, int64_t h, int64_t w, int64_t c)
{
  const int64_t oh = h / 2, ow = w / 2;
  RM_CU_FOR (i, batch * oh * ow * c)
  {
    const int64_t ch = i % c, ox = (i / c) % ow, oy = (i / (c * ow)) % oh, bi = i / (c * ow * oh);
    const float *p00 = x + ((bi * h + 2 * oy) * w + 2 * ox) * c + ch, *p10 = p00 + w * c;
    float m = p00[0];
    m = rm_cu_max_nan (m, p00[c]);
    m = rm_cu_max_nan (m, p10[0]);
    dst[i] = rm_cu_max_nan (m, p10[c]);
  }
}

static void
rm_cuda_maxpool2x2_nhwc (RmThreadPool *pool, float *dst, const float *x, int64_t batch, int64_t h,
                         int64_t width, int64_t c)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_maxpool2x2_nhwc, batch * (h / 2) * (width / 2) * c, dst, x, batch, h, width,
                  c);
}

static __global__ void
rm_k_nearest2x (float *dst, const float *x, int64_t planes, int64_t h, int64_t w)
{
  /* Output row r of all planes reads input row r / 2 (plane*2h + y over 2 = plane*h + y/2). */
  RM_CU_FOR (i, planes * 4 * h * w)
  dst[i] = x[(i / (2 * w)) / 2 * w + (i % (2 * w)) / 2];
}

static void
rm_cuda_upsample_nearest2x (RmThreadPool *pool, float *dst, const float *x, int64_t planes,
                            int64_t h, int64_t width)
{
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_nearest2x, planes * 4 * h * width, dst, x, planes, h, width);
}

/* The CPU's tap tables (rm_cpu_taps_build), copied to the device in one block. */
typedef struct
{
  int taps;
  const int64_t *index; /* n_out * taps */
  const int64_t *count; /* n_out */
  const float *weight;  /* n_out * taps */
} RmCuTaps;

static void *
rm_cu_taps_upload (RmCuTaps *out, RmCpuTapsKind kind, int64_t n_in, int64_t n_out)
{
  RmCpuTaps t;
  rm_cpu_taps_build (&t, kind, n_in, n_out);
  const size_t ni = (size_t) (n_out * t.taps), bytes = ni * 12 + (size_t) n_out * 8;
  char *host = (char *) malloc (bytes);
  char *dev = host != NULL ? (char *) rm_cu_scratch (bytes) : NULL;
  if (host == NULL)
    rm_cu_fail (__FILE__, __LINE__, "malloc", "out of memory for resize tables");
  if (dev != NULL)
    {
      memcpy (host, t.index, ni * 8);
      memcpy (host + ni * 8, t.count, (size_t) n_out * 8);
      memcpy (host + ni * 8 + n_out * 8, t.weight, ni * 4);
      if (!RM_CU_OK (cudaMemcpyAsync (dev, host, bytes, cudaMemcpyHostToDevice, rm_cu.stream)))
        {
          rm_cu_scratch_free (dev);
          dev = NULL;
        }
    }
  free (host);
  *out = (RmCuTaps){ t.taps, (const int64_t *) dev, (const int64_t *) (dev + ni * 8),
                     (const float *) (dev + ni * 8 + n_out * 8) };
  rm_cpu_taps_free (&t);
  return dev;
}

/* The CPU's rm_tap_sum: fmaf(t0, w0, t1*w1), then fmaf(t_j, w_j, acc). */
static __device__ float
rm_cu_tap_sum (const float *t, const float *w, int n)
{
  if (n == 1)
    return t[0] * w[0];
  float acc = fmaf (t[0], w[0], t[1] * w[1]);
  for (int j = 2; j < n; j++)
    acc = fmaf (t[j], w[j], acc);
  return acc;
}

/* Non-separable interpolation (plain bilinear, bicubic): rows of taps first, then down. */
static __global__ void
rm_k_interp2d (float *dst, const float *x, int64_t planes, int64_t h, int64_t w, RmCuTaps ty,
               int64_t oh, RmCuTaps tx, int64_t ow)
{
  RM_CU_FOR (o, planes * oh * ow)
  {
    const int64_t ox = o % ow, oy = (o / ow) % oh, plane = o / (ow * oh);
    const float *in = x + plane * h * w;
    float vals[4], rows[4];
    for (int i = 0; i < ty.taps; i++)
      {
        const float *r = in + ty.index[oy * ty.taps + i] * w;
        for (int j = 0; j < tx.taps; j++)
          vals[j] = r[tx.index[ox * tx.taps + j]];
        rows[i] = rm_cu_tap_sum (vals, tx.weight + ox * tx.taps, tx.taps);
      }
    dst[o] = rm_cu_tap_sum (rows, ty.weight + oy * ty.taps, ty.taps);
  }
}

/* One separable pass (antialiased bilinear) along an axis of length n_in whose elements are
 * `inner` apart: (outer, n_in, inner) -> (outer, n_out, inner); acc = p0*w0, then
 * fmaf(p_j, w_j, acc) over the counted taps, as the CPU's rm_resample_range. */
static __global__ void
rm_k_resample (float *dst, const float *x, int64_t outer, int64_t n_in, int64_t inner, RmCuTaps t,
               int64_t n_out)
{
  RM_CU_FOR (o, outer * n_out * inner)
  {
    const int64_t r = o % inner, oi = (o / inner) % n_out, q = o / (inner * n_out);
    const float *in = x + q * n_in * inner + r;
    const int64_t *ix = t.index + oi * t.taps;
    const float *wt = t.weight + oi * t.taps;
    const int64_t cnt = t.count[oi];
    float acc = cnt > 0 ? in[ix[0] * inner] * wt[0] : 0.0f;
    for (int64_t j = 1; j < cnt; j++)
      acc = fmaf (in[ix[j] * inner], wt[j], acc);
    dst[o] = acc;
  }
}

static void
rm_cu_interp2d (float *dst, const float *x, int64_t planes, int64_t h, int64_t width, int64_t oh,
                int64_t ow, RmCpuTapsKind kind)
{
  RmCuTaps ty, tx;
  void *by = rm_cu_taps_upload (&ty, kind, h, oh);
  void *bx = by != NULL ? rm_cu_taps_upload (&tx, kind, width, ow) : NULL;
  if (bx != NULL)
    RM_CU_LAUNCH (rm_k_interp2d, planes * oh * ow, dst, x, planes, h, width, ty, oh, tx, ow);
  rm_cu_scratch_free (bx);
  rm_cu_scratch_free (by);
}

static void
rm_cuda_resize_bilinear (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                         int64_t width, int64_t oh, int64_t ow, bool antialias)
{
  if (planes == 0 || oh == 0 || ow == 0 || !rm_cu_ready ())
    return;
  if (!antialias)
    {
      rm_cu_interp2d (dst, x, planes, h, width, oh, ow, RM_CPU_TAPS_LINEAR);
      return;
    }
  /* Separable, width first; an axis whose size does not change is not resampled. */
  if (width == ow && h == oh)
    {
      RM_CU_OK (cudaMemcpyAsync (dst, x, (size_t) (planes * h * width) * sizeof *dst,
                                 cudaMemcpyDeviceToDevice, rm_cu.stream));
      return;
    }
  const float *src = x;
  float *tmp = NULL;
  RmCuTaps t;
  void *tab;
  if (width != ow)
    {
      float *wdst = dst;
      if (h != oh &&
          (wdst = tmp = (float *) rm_cu_scratch ((size_t) (planes * h * ow) * 4)) == NULL)
        return;
      if ((tab = rm_cu_taps_upload (&t, RM_CPU_TAPS_LINEAR_AA, width, ow)) != NULL)
        RM_CU_LAUNCH (rm_k_resample, planes * h * ow, wdst, x, planes * h, width, 1, t, ow);
      rm_cu_scratch_free (tab);
      src = wdst;
    }
  if (h != oh && (tab = rm_cu_taps_upload (&t, RM_CPU_TAPS_LINEAR_AA, h, oh)) != NULL)
    {
      RM_CU_LAUNCH (rm_k_resample, planes * oh * ow, dst, src, planes, h, ow, t, oh);
      rm_cu_scratch_free (tab);
    }
  rm_cu_scratch_free (tmp);
}

static void
rm_cuda_resize_bicubic (RmThreadPool *pool, float *dst, const float *x, int64_t planes, int64_t h,
                        int64_t width, int64_t oh, int64_t ow)
{
  if (planes != 0 && oh != 0 && ow != 0 && rm_cu_ready ())
    rm_cu_interp2d (dst, x, planes, h, width, oh, ow, RM_CPU_TAPS_CUBIC);
}

/* ---- Hiera windows ---------------------------------------------------------------------- */

/* windows (batch*nwh*nww, win, win, c) <-> map (batch, h, w, c): element i of the windows is
 * pixel (y, x) of image bi, or padding when outside the map. */
static __device__ int64_t
rm_cu_window_pixel (int64_t i, int64_t h, int64_t w, int64_t c, int64_t win, int64_t nwh,
                    int64_t nww)
{
  const int64_t ch = i % c, xw = (i / c) % win, r = (i / (c * win)) % win;
  const int64_t wi = i / (c * win * win);
  const int64_t y = (wi / nww) % nwh * win + r, xx = wi % nww * win + xw;
  if (y >= h || xx >= w)
    return -1;
  return ((wi / (nww * nwh) * h + y) * w + xx) * c + ch;
}

static __global__ void
rm_k_window_partition (float *dst, const float *x, int64_t n, int64_t h, int64_t w, int64_t c,
                       int64_t win, int64_t nwh, int64_t nww)
{
  RM_CU_FOR (i, n)
  {
    const int64_t p = rm_cu_window_pixel (i, h, w, c, win, nwh, nww);
    dst[i] = p >= 0 ? x[p] : 0.0f;
  }
}

static __global__ void
rm_k_window_unpartition (float *dst, const float *x, int64_t n, int64_t h, int64_t w, int64_t c,
                         int64_t win, int64_t nwh, int64_t nww)
{
  RM_CU_FOR (i, n)
  {
    const int64_t p = rm_cu_window_pixel (i, h, w, c, win, nwh, nww);
    if (p >= 0)
      dst[p] = x[i];
  }
}

static void
rm_cuda_window_partition (RmThreadPool *pool, float *dst, const float *x, int64_t batch, int64_t h,
                          int64_t width, int64_t c, int64_t win)
{
  const int64_t nwh = (h + win - 1) / win, nww = (width + win - 1) / win;
  const int64_t n = batch * nwh * nww * win * win * c;
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_window_partition, n, dst, x, n, h, width, c, win, nwh, nww);
}

static void
rm_cuda_window_unpartition (RmThreadPool *pool, float *dst, const float *x, int64_t batch,
                            int64_t hp, int64_t wp, int64_t h, int64_t width, int64_t c,
                            int64_t win)
{
  const int64_t n = batch * hp * wp * c; /* every window element; padding is skipped */
  if (rm_cu_ready ())
    RM_CU_LAUNCH (rm_k_window_unpartition, n, dst, x, n, h, width, c, win, hp / win, wp / win);
}

/* ---- reductions ------------------------------------------------------------------------- */

/* One block, in double: exact enough that the order does not show after the float rounding. */
static __global__ void
rm_k_sum (float *dst, const float *x, int64_t n, double divisor)
{
  __shared__ double part[32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    s += x[i];
  s = rm_cu_block_sum (s, part);
  if (threadIdx.x == 0)
    *dst = (float) (s / divisor);
}

static void
rm_cuda_sum (RmThreadPool *pool, float *dst, const float *x, int64_t n, double divisor)
{
  if (!rm_cu_ready ())
    return;
  RM_CU_KERNEL (rm_k_sum, 1, 1024, 0, dst, x, n, divisor);
}

/* ---- data in and out ------------------------------------------------------------------- */

/* Both are queued on the stream, after the kernels before them. From pageable host memory the
 * upload returns once the source is staged (the caller may free it); the download waits for the
 * copy, hence for every kernel queued before it. */
static bool
rm_cuda_upload (void *dst, const void *src, size_t bytes)
{
  return rm_cu_ready () &&
         RM_CU_OK (cudaMemcpyAsync (dst, src, bytes, cudaMemcpyHostToDevice, rm_cu.stream));
}

static bool
rm_cuda_download (void *dst, const void *src, size_t bytes)
{
  return rm_cu_ready () &&
         RM_CU_OK (cudaMemcpyAsync (dst, src, bytes, cudaMemcpyDeviceToHost, rm_cu.stream)) &&
         rm_cuda_backend_sync ();
}

/* ---- the backend ------------------------------------------------------------------------ */

/* Forward only: every backward entry stays NULL (rm_backward checks before it starts). */
static const RmBackend rm_cuda_backend = {
  .name = "cuda",
  .device = RM_DEVICE_CUDA,
  .fill = rm_cuda_fill,
  .copy_strided = rm_cuda_copy_strided,
  .gather_rows = rm_cuda_gather_rows,
  .binary = rm_cuda_binary,
  .axpby = rm_cuda_axpby,
  .unary = rm_cuda_unary,
  .layernorm = rm_cuda_layernorm,
  .layernorm_nchw = rm_cuda_layernorm_nchw,
  .linear = rm_cuda_linear,
  .matmul = rm_cuda_matmul,
  .attention = rm_cuda_attention,
  .conv2d = rm_cuda_conv2d,
  .conv_transpose2x2 = rm_cuda_conv_transpose2x2,
  .maxpool2x2_nhwc = rm_cuda_maxpool2x2_nhwc,
  .upsample_nearest2x = rm_cuda_upsample_nearest2x,
  .resize_bilinear = rm_cuda_resize_bilinear,
  .resize_bicubic = rm_cuda_resize_bicubic,
  .window_partition = rm_cuda_window_partition,
  .window_unpartition = rm_cuda_window_unpartition,
  .sum = rm_cuda_sum,
  .upload = rm_cuda_upload,
  .download = rm_cuda_download,
  .error = rm_cuda_backend_error,
  .clear_error = rm_cuda_backend_clear_error,
};

extern "C" const RmBackend *
rm_backend_cuda (void)
{
  return &rm_cuda_backend;
}
