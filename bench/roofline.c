/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench/roofline: this machine's fp32 GEMM throughput and memory bandwidth.
 */
#include "rm-roofline.h"

#include <stdio.h>

int
main (void)
{
  RmRoofline r;
  rm_roofline_measure (&r, 1);
  printf ("roofline best: gemm %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads, %.2fx); "
          "memory %.1f / %.1f GB/s\n",
          r.gemm_gflops_1t, r.gemm_gflops_all, r.n_threads, r.gemm_gflops_all / r.gemm_gflops_1t,
          r.bandwidth_gbs_1t, r.bandwidth_gbs_all);
  return 0;
}
