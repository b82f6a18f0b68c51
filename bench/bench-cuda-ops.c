/* SPDX-License-Identifier: GPL-3.0-or-later
 * Timings of the CUDA backend's GEMMs and attention at the sizes of the released model (hiera-L
 * at 1024, BEiT-3, the SAM decoder), each as a ratio to the cuBLAS SGEMM roofline measured in
 * the same run (plain fp32, best of large square GEMMs). The kernels are called directly on
 * buffers allocated once, and timed with events on the backend's stream (median of up to 15).
 * Usage: bench-cuda-ops [filter]; prints one line per case. Built only with CUDA.
 */
#include "rm-backend-cuda.h"
#include "rm-cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  int64_t m, n, k; /* GEMM: (m, k) x (k, n); attention: nq, nk, head dim */
  int64_t batch, heads;
  float *a, *b, *bias, *out;
  cublasHandle_t blas; /* roofline only */
} BenchCase;

typedef void (*BenchFn) (const BenchCase *c);

static void
bench_check (cudaError_t e, const char *what)
{
  if (e != cudaSuccess)
    {
      fprintf (stderr, "bench-cuda-ops: %s: %s\n", what, cudaGetErrorString (e));
      exit (1);
    }
}

/* A device buffer of n floats in [-0.5, 0.5). */
static float *
bench_buffer (int64_t n)
{
  float *h = g_new (float, n), *d = NULL;
  uint32_t s = 12345;
  for (int64_t i = 0; i < n; i++)
    {
      s = s * 1664525u + 1013904223u;
      h[i] = (float) (s >> 8) / (float) (1u << 24) - 0.5f;
    }
  bench_check (cudaMalloc ((void **) &d, (size_t) n * sizeof (float)), "cudaMalloc");
  bench_check (cudaMemcpy (d, h, (size_t) n * sizeof (float), cudaMemcpyHostToDevice), "upload");
  g_free (h);
  return d;
}

static int
cmp_double (const void *a, const void *b)
{
  const double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median milliseconds of fn, after a warm-up. */
static double
bench_time (BenchFn fn, const BenchCase *c)
{
  cudaStream_t s = rm_cuda_backend_stream ();
  cudaEvent_t e0, e1;
  double ms[15], total = 0.0;
  int reps = 0;
  bench_check (cudaEventCreate (&e0), "cudaEventCreate");
  bench_check (cudaEventCreate (&e1), "cudaEventCreate");
  fn (c);
  bench_check (cudaStreamSynchronize (s), "warm-up");
  while (reps < 15 && total < 2000.0)
    {
      float t;
      cudaEventRecord (e0, s);
      fn (c);
      cudaEventRecord (e1, s);
      bench_check (cudaEventSynchronize (e1), "run");
      cudaEventElapsedTime (&t, e0, e1);
      ms[reps++] = t;
      total += t;
    }
  cudaEventDestroy (e0);
  cudaEventDestroy (e1);
  if (!rm_cuda_backend_sync ())
    {
      fprintf (stderr, "bench-cuda-ops: %s\n", rm_cuda_backend_error ());
      exit (1);
    }
  qsort (ms, (size_t) reps, sizeof *ms, cmp_double);
  return ms[reps / 2];
}

static void
run_cublas_sgemm (const BenchCase *c)
{
  const float one = 1.0f, zero = 0.0f;
  cublasGemmEx (c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int) c->n, (int) c->m, (int) c->k, &one, c->b,
                CUDA_R_32F, (int) c->n, c->a, CUDA_R_32F, (int) c->k, &zero, c->out, CUDA_R_32F,
                (int) c->n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

static void
run_linear (const BenchCase *c)
{
  rm_backend_cuda ()->linear (NULL, c->out, c->a, c->b, c->bias, c->m, c->k, c->n);
}

static void
run_attention (const BenchCase *c)
{
  const RmAttnDims d = { c->batch, c->m, c->n, c->heads, c->k, c->k, 0.125f };
  rm_backend_cuda ()->attention (NULL, c->out, c->a, c->b, c->b, &d, NULL);
}

static double roof_gflops;

static void
bench_report (const char *filter, const char *name, double gflop, BenchFn fn, const BenchCase *c)
{
  if (filter != NULL && strstr (name, filter) == NULL)
    return;
  const double ms = bench_time (fn, c), rate = gflop / (ms / 1000.0);
  printf ("%-48s %9.3f ms  %8.1f GFLOP/s  %5.2f of cuBLAS SGEMM roofline\n", name, ms, rate,
          rate / roof_gflops);
}

/* The roofline: cuBLAS's own SGEMM on square sizes, plain fp32 (no TF32). */
static void
bench_roofline (void)
{
  BenchCase c = { 0 };
  bench_check (cublasCreate (&c.blas) == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown,
               "cublasCreate");
  cublasSetStream (c.blas, rm_cuda_backend_stream ());
  const int64_t sizes[] = { 4096, 8192 };
  for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      const int64_t s = sizes[i];
      c.m = c.n = c.k = s;
      c.a = bench_buffer (s * s);
      c.b = bench_buffer (s * s);
      c.out = bench_buffer (s * s);
      const double ms = bench_time (run_cublas_sgemm, &c),
                   rate = 2.0 * s * s * s / 1e9 / (ms / 1e3);
      printf ("roofline: cuBLAS SGEMM %lld^3 %9.3f ms  %8.1f GFLOP/s\n", (long long) s, ms, rate);
      roof_gflops = rate > roof_gflops ? rate : roof_gflops;
      cudaFree (c.a);
      cudaFree (c.b);
      cudaFree (c.out);
    }
  cublasDestroy (c.blas);
}

static void
bench_linear (const char *filter, const char *name, int64_t m, int64_t k, int64_t n)
{
  BenchCase c = { .m = m, .n = n, .k = k };
  c.a = bench_buffer (m * k);
  c.b = bench_buffer (n * k);
  c.bias = bench_buffer (n);
  c.out = bench_buffer (m * n);
  bench_report (filter, name, 2.0 * m * n * k / 1e9, run_linear, &c);
  cudaFree (c.a);
  cudaFree (c.b);
  cudaFree (c.bias);
  cudaFree (c.out);
}

/* q (batch, nq, heads*dh), k = v (batch, nk, heads*dh). */
static void
bench_attention (const char *filter, const char *name, int64_t batch, int64_t nq, int64_t nk,
                 int64_t heads, int64_t dh)
{
  BenchCase c = { .m = nq, .n = nk, .k = dh, .batch = batch, .heads = heads };
  c.a = bench_buffer (batch * nq * heads * dh);
  c.b = bench_buffer (batch * nk * heads * dh);
  c.out = bench_buffer (batch * nq * heads * dh);
  bench_report (filter, name, 4.0 * batch * heads * nq * nk * dh / 1e9, run_attention, &c);
  cudaFree (c.a);
  cudaFree (c.b);
  cudaFree (c.out);
}

int
main (int argc, char **argv)
{
  const char *filter = argc > 1 ? argv[1] : NULL;
  if (rm_cuda_device_count () == 0)
    {
      printf ("bench-cuda-ops: no CUDA device found: nothing to measure\n");
      return 0;
    }
  if (!rm_cuda_backend_init (0))
    {
      fprintf (stderr, "bench-cuda-ops: %s\n", rm_cuda_backend_error ());
      return 1;
    }
  bench_roofline ();

  /* hiera-L: stage-3 MLP and projections at 64x64 tokens (1152 wide), stage-1 qkv at 256x256
   * tokens (144 wide); BEiT-3 large: ~1000 tokens, 1024 wide. */
  bench_linear (filter, "linear 4096x1152 -> 4608 (hiera MLP up)", 4096, 1152, 4608);
  bench_linear (filter, "linear 4096x4608 -> 1152 (hiera MLP down)", 4096, 4608, 1152);
  bench_linear (filter, "linear 65536x144 -> 432 (hiera stage-1 qkv)", 65536, 144, 432);
  bench_linear (filter, "linear 1024x1024 -> 4096 (BEiT-3 FFN up)", 1024, 1024, 4096);

  bench_attention (filter, "attention global 4096x4096 8x72 (hiera st. 3)", 1, 4096, 4096, 8, 72);
  bench_attention (filter, "attention windows 1024x(64x64) 2x72 (st. 1)", 1024, 64, 64, 2, 72);
  bench_attention (filter, "attention 1000x1000 16x64 (BEiT-3)", 1, 1000, 1000, 16, 64);
  bench_attention (filter, "attention 4096 -> 7 tokens 8x32 (SAM decoder)", 1, 4096, 7, 8, 32);
  bench_attention (filter, "attention 7 -> 4096 tokens 8x32 (SAM decoder)", 1, 7, 4096, 8, 32);
  return 0;
}
