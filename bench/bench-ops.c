/* SPDX-License-Identifier: GPL-3.0-or-later
 * Timings of the heavy ops at the sizes of the released model (hiera-L at 1024, SAM width
 * 256), each as a ratio to this machine's roofline measured in the same run: GEMM-like ops
 * to the GEMM throughput, the others to the memory bandwidth (bytes read + written).
 * Usage: bench-ops [n_threads] [filter]; prints one line per case.
 */
#include "rm-ops.h"
#include "rm-roofline.h"

#include <cblas.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static RmTensor *
bench_tensor (RmCtx *ctx, int ndim, const int64_t *shape)
{
  RmTensor *t = rm_new (ctx, ndim, shape);
  uint32_t s = 12345;
  for (int64_t i = 0; i < rm_tensor_numel (t); i++)
    {
      s = s * 1664525u + 1013904223u;
      t->data[i] = (float) (s >> 8) / (float) (1u << 24) - 0.5f;
    }
  return t;
}

#define T(ctx, ...)                                                                    \
  bench_tensor ((ctx), (int) (sizeof ((int64_t[]){ __VA_ARGS__ }) / sizeof (int64_t)), \
                (const int64_t[]){ __VA_ARGS__ })

/* Inputs live in their own arena; the ops' arena is reset between repetitions, as it is
 * between requests, so that outputs reuse memory instead of faulting in fresh pages. */
typedef struct
{
  RmCtx *ctx;
  RmTensor *a, *b, *c;
} BenchData;

typedef void (*BenchFn) (BenchData *d);

static RmRoofline roof;

/* gflop > 0: compared with the GEMM roofline; else mbytes with the bandwidth. */
static void
bench_run (const char *filter, const char *name, double gflop, double mbytes, BenchFn fn,
           BenchData *d)
{
  if (filter != NULL && strstr (name, filter) == NULL)
    return;
  fn (d); /* warm-up: page faults, OpenBLAS buffers */
  rm_ctx_reset (d->ctx);
  int reps = 0;
  gint64 t0 = g_get_monotonic_time (), t1;
  do
    {
      fn (d);
      rm_ctx_reset (d->ctx);
      reps++;
      t1 = g_get_monotonic_time ();
    }
  while (t1 - t0 < 300000 && reps < 50);
  double ms = (double) (t1 - t0) / 1000.0 / reps;
  if (gflop > 0)
    {
      double rate = gflop / (ms / 1000.0);
      printf ("%-44s %9.3f ms  %7.1f GFLOP/s  %5.2f of GEMM roofline\n", name, ms, rate,
              rate / roof.gemm_gflops_all);
    }
  else
    {
      double rate = mbytes / 1000.0 / (ms / 1000.0);
      printf ("%-44s %9.3f ms  %7.1f GB/s     %5.2f of bandwidth roofline\n", name, ms, rate,
              rate / roof.bandwidth_gbs_all);
    }
}

static void
run_attention_global (BenchData *d)
{
  rm_attention (d->ctx, d->a, d->a, d->b, 8, 0.1f, NULL);
}

static void
run_attention_window (BenchData *d)
{
  rm_attention (d->ctx, d->c, d->c, d->c, 2, 0.1f, NULL);
}

static void
run_linear (BenchData *d)
{
  rm_linear (d->ctx, d->a, d->b, d->c);
}

static void
run_layernorm (BenchData *d)
{
  rm_layernorm (d->ctx, d->a, d->b, d->c, 1e-6f);
}

static void
run_gelu (BenchData *d)
{
  rm_gelu (d->ctx, d->a);
}

static void
run_add (BenchData *d)
{
  rm_add (d->ctx, d->a, d->a);
}

static void
run_permute (BenchData *d)
{
  rm_permute (d->ctx, d->a, (const int[]){ 0, 3, 1, 2 });
}

static void
run_patch_embed (BenchData *d)
{
  rm_conv2d (d->ctx, d->a, d->b, d->c, 4, 3);
}

static void
run_resize_aa (BenchData *d)
{
  rm_resize_bilinear (d->ctx, d->a, 1024, 1024, true);
}

static void
run_resize_up (BenchData *d)
{
  rm_resize_bilinear (d->ctx, d->b, 1024, 1024, false);
}

static void
run_windows (BenchData *d)
{
  rm_window_partition (d->ctx, d->a, 14);
}

int
main (int argc, char **argv)
{
  int threads = argc > 1 ? atoi (argv[1]) : 0;
  const char *filter = argc > 2 ? argv[2] : NULL;
  RmCtx *run = rm_ctx_new (threads), *ctx = rm_ctx_new (1);
  BenchData d = { run, NULL, NULL, NULL };
  openblas_set_num_threads (run->n_threads);
  rm_roofline_measure (&roof, 1);
  openblas_set_num_threads (run->n_threads);
  printf ("threads: %d\n", run->n_threads);

  /* Stage-3 global attention: 64x64 tokens, 576 = 8 heads x 72. */
  d.a = T (ctx, 1, 4096, 576);
  d.b = T (ctx, 1, 4096, 576);
  bench_run (filter, "attention global 4096x4096 8x72", 4.0 * 4096 * 4096 * 576 / 1e9, 0,
             run_attention_global, &d);
  /* Stage-1 windows: 8x8 windows, 144 = 2 heads x 72, 256x256 tokens. */
  d.c = T (ctx, 1024, 64, 144);
  bench_run (filter, "attention windows 1024x(64x64) 2x72", 4.0 * 1024 * 64 * 64 * 144 / 1e9, 0,
             run_attention_window, &d);
  rm_ctx_reset (ctx);

  d.a = T (ctx, 4096, 1152);
  d.b = T (ctx, 4608, 1152);
  d.c = T (ctx, 4608);
  bench_run (filter, "linear 4096x1152 -> 4608", 2.0 * 4096 * 1152 * 4608 / 1e9, 0, run_linear, &d);
  rm_ctx_reset (ctx);

  d.a = T (ctx, 65536, 144);
  d.b = T (ctx, 144);
  d.c = T (ctx, 144);
  bench_run (filter, "layernorm 65536x144", 0, 8.0 * 65536 * 144 / 1e6, run_layernorm, &d);
  d.a = T (ctx, 65536, 576);
  bench_run (filter, "gelu 65536x576", 0, 8.0 * 65536 * 576 / 1e6, run_gelu, &d);
  bench_run (filter, "add 65536x576", 0, 12.0 * 65536 * 576 / 1e6, run_add, &d);
  rm_ctx_reset (ctx);

  d.a = T (ctx, 1, 256, 256, 144);
  bench_run (filter, "permute NHWC->NCHW 256x256x144", 0, 8.0 * 65536 * 144 / 1e6, run_permute, &d);
  bench_run (filter, "window_partition 256x256x144 w14", 0, 8.0 * 65536 * 144 / 1e6, run_windows,
             &d);
  rm_ctx_reset (ctx);

  d.a = T (ctx, 1, 3, 1024, 1024);
  d.b = T (ctx, 144, 3, 7, 7);
  d.c = T (ctx, 144);
  bench_run (filter, "conv2d patch embed 3x1024^2 7x7 s4 -> 144", 2.0 * 144 * 147 * 65536 / 1e9, 0,
             run_patch_embed, &d);
  rm_ctx_reset (ctx);

  d.a = T (ctx, 1, 3, 1500, 2000);
  d.b = T (ctx, 1, 1, 256, 256);
  bench_run (filter, "resize bilinear aa 3x1500x2000 -> 1024^2", 0,
             4.0 * 3 * (1500 * 2000 + 1024 * 1024) / 1e6, run_resize_aa, &d);
  bench_run (filter, "resize bilinear 256^2 -> 1024^2", 0, 4.0 * (256 * 256 + 1024 * 1024) / 1e6,
             run_resize_up, &d);

  printf ("arena peak of the ops: %.1f MiB\n",
          (double) rm_arena_peak_bytes (run->arena) / (1 << 20));
  rm_ctx_free (ctx);
  rm_ctx_free (run);
  return 0;
}
