/* SPDX-License-Identifier: GPL-3.0-or-later
 * This machine's roofline, measured in the same run as every benchmark: fp32 GEMM throughput
 * (OpenBLAS, on shapes the model uses) and memory bandwidth. Benchmarks print their figures
 * as ratios to it, because the machines are shared and absolute times alone mean little.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct
{
  int64_t m, n, k;
} RmGemmShape;

typedef struct
{
  double gemm_gflops_1t;    /* best of the model shapes, 1 thread */
  double gemm_gflops_all;   /* best of the model shapes, all threads */
  double bandwidth_gbs_1t;  /* triad a = b + s*c, 1 thread, counted as 3 streams */
  double bandwidth_gbs_all; /* same with all threads */
  int n_threads;
} RmRoofline;

/* Median GFLOP/s of C = A B^T for one shape with n_threads OpenBLAS threads. */
double rm_roofline_gemm_gflops (RmGemmShape shape, int n_threads, int repeats);
/* Median GB/s of a triad over `bytes` per array with n_threads. */
double rm_roofline_bandwidth_gbs (size_t bytes, int n_threads, int repeats);
/* Measures the default shapes; prints one line per measurement when verbose. */
void rm_roofline_measure (RmRoofline *out, int verbose);
