/* SPDX-License-Identifier: GPL-3.0-or-later
 * Runs a test again under each of OpenBLAS's kernel families this CPU can run (header only).
 *
 * OpenBLAS picks its kernels for the CPU it finds (DYNAMIC_ARCH), and OPENBLAS_CORETYPE, read
 * when the library loads, forces another family. Kernel families round differently, and some
 * (Haswell, Zen) round an element differently in GEMM calls of different sizes, so a property
 * such as "the same bits for any thread count" must hold under each of them, not only under the
 * one this machine picks. */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Runs this program's test @test_path once per kernel family, with OPENBLAS_CORETYPE set; fails
 * with the child's output when one fails, skips when no family can be forced here. */
static inline void
rm_test_rerun_with_blas_kernels (const char *test_path)
{
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  const struct
  {
    const char *core;
    bool runs;
  } cores[] = {
    { "Nehalem", __builtin_cpu_supports ("sse4.2") },
    { "Sandybridge", __builtin_cpu_supports ("avx") },
    { "Haswell", __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") },
    { "Zen", __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") },
    { "SkylakeX", __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
                      __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl") },
  };
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { self, "-q", "-p", test_path, NULL };
  guint n_run = 0;

  g_assert_nonnull (self);
  if (g_getenv ("OPENBLAS_CORETYPE") != NULL)
    {
      g_test_skip ("OPENBLAS_CORETYPE is set already");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (cores); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *out = NULL, *err = NULL;
      int status = 0;

      if (!cores[i].runs)
        continue;
      g_auto (GStrv) envp =
          g_environ_setenv (g_get_environ (), "OPENBLAS_CORETYPE", cores[i].core, TRUE);
      g_assert_true (g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   &err, &status, &error));
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("%s with OpenBLAS's %s kernels: %s%s", test_path, cores[i].core, out, err);
      g_test_message ("%s with OpenBLAS's %s kernels: passed", test_path, cores[i].core);
      n_run++;
    }
  if (n_run == 0)
    g_test_skip ("no OpenBLAS kernel family to force on this CPU");
#else
  g_test_skip ("OpenBLAS kernel families are forced on x86-64 only");
#endif
}
