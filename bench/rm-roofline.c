/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-roofline.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v, int n)
{
  qsort (v, (size_t) n, sizeof *v, compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *
alloc_filled (size_t count, float value)
{
  float *p = aligned_alloc (64, ((count * sizeof (float) + 63) / 64) * 64);
  if (p == NULL)
    {
      fprintf (stderr, "roofline: out of memory\n");
      exit (1);
    }
  for (size_t i = 0; i < count; i++)
    p[i] = value + (float) (i % 7) * 0.001f;
  return p;
}

double
rm_roofline_gemm_gflops (RmGemmShape s, int n_threads, int repeats)
{
  float *a = alloc_filled ((size_t) (s.m * s.k), 0.5f);
  float *b = alloc_filled ((size_t) (s.n * s.k), 0.25f);
  float *c = alloc_filled ((size_t) (s.m * s.n), 0.0f);
  double *t = calloc ((size_t) repeats, sizeof *t);
  openblas_set_num_threads (n_threads);
  /* One warm-up run so page faults and thread start-up are not timed. */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) s.m, (int) s.n, (int) s.k, 1.0f, a,
               (int) s.k, b, (int) s.k, 0.0f, c, (int) s.n);
  for (int r = 0; r < repeats; r++)
    {
      double t0 = now_seconds ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) s.m, (int) s.n, (int) s.k, 1.0f,
                   a, (int) s.k, b, (int) s.k, 0.0f, c, (int) s.n);
      t[r] = now_seconds () - t0;
    }
  double flops = 2.0 * (double) s.m * (double) s.n * (double) s.k;
  double result = flops / median (t, repeats) / 1e9;
  free (a), free (b), free (c), free (t);
  return result;
}

typedef struct
{
  float *a, *b, *c;
  size_t begin, end;
} TriadSlice;

static void *
triad_worker (void *arg)
{
  TriadSlice *s = arg;
  for (size_t i = s->begin; i < s->end; i++)
    s->a[i] = s->b[i] + 3.0f * s->c[i];
  return NULL;
}

double
rm_roofline_bandwidth_gbs (size_t bytes, int n_threads, int repeats)
{
  size_t n = bytes / sizeof (float);
  float *a = alloc_filled (n, 0.0f), *b = alloc_filled (n, 1.0f), *c = alloc_filled (n, 2.0f);
  double *t = calloc ((size_t) repeats, sizeof *t);
  pthread_t *threads = calloc ((size_t) n_threads, sizeof *threads);
  TriadSlice *slices = calloc ((size_t) n_threads, sizeof *slices);
  for (int r = -1; r < repeats; r++)
    {
      double t0 = now_seconds ();
      for (int i = 0; i < n_threads; i++)
        {
          slices[i] = (TriadSlice){ a, b, c, n * (size_t) i / (size_t) n_threads,
                                    n * (size_t) (i + 1) / (size_t) n_threads };
          pthread_create (&threads[i], NULL, triad_worker, &slices[i]);
        }
      for (int i = 0; i < n_threads; i++)
        pthread_join (threads[i], NULL);
      if (r >= 0)
        t[r] = now_seconds () - t0;
    }
  double result = 3.0 * (double) bytes / median (t, repeats) / 1e9;
  free (a), free (b), free (c), free (t), free (threads), free (slices);
  return result;
}

void
rm_roofline_measure (RmRoofline *out, int verbose)
{
  static const RmGemmShape shapes[] = {
    { 4096, 1024, 1024 }, /* hiera-L stage 3 linear layers, 64x64 tokens */
    { 16384, 256, 256 },  /* 128x128 tokens, width 256 */
    { 256, 4096, 1024 },  /* BEiT-3-large FFN on ~256 tokens */
  };
  int all = openblas_get_num_procs ();
  memset (out, 0, sizeof *out);
  out->n_threads = all;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    {
      double one = rm_roofline_gemm_gflops (shapes[i], 1, 5);
      double many = rm_roofline_gemm_gflops (shapes[i], all, 5);
      if (verbose)
        printf ("roofline gemm %5lldx%-5lldx%-5lld  1 thread %7.1f GFLOP/s  %d threads %7.1f "
                "GFLOP/s\n",
                (long long) shapes[i].m, (long long) shapes[i].n, (long long) shapes[i].k, one, all,
                many);
      if (one > out->gemm_gflops_1t)
        out->gemm_gflops_1t = one;
      if (many > out->gemm_gflops_all)
        out->gemm_gflops_all = many;
    }
  size_t bytes = 64u << 20; /* far beyond the last-level cache */
  out->bandwidth_gbs_1t = rm_roofline_bandwidth_gbs (bytes, 1, 5);
  out->bandwidth_gbs_all = rm_roofline_bandwidth_gbs (bytes, all, 5);
  if (verbose)
    printf ("roofline memory triad  1 thread %7.1f GB/s  %d threads %7.1f GB/s\n",
            out->bandwidth_gbs_1t, all, out->bandwidth_gbs_all);
}
