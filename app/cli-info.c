/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask info: what this build contains and what this machine offers, found out at run time
 * where it can be (GPU, BLAS threads, library versions) rather than assumed.
 */
#include "refmask-build-config.h"

#include "cli.h"

#include <cblas.h>
#include <dlfcn.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

/* Asks the CUDA driver API directly (libcuda comes with the NVIDIA driver, not the toolkit), so
 * the answer is true whether or not the CUDA backend was compiled in. */
static char *
describe_gpu (void)
{
  void *lib = dlopen ("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL)
    return g_strdup ("none found (no NVIDIA driver: libcuda.so.1 not loadable)");

  typedef int (*CuInit) (unsigned int);
  typedef int (*CuDeviceGetCount) (int *);
  typedef int (*CuDeviceGet) (int *, int);
  typedef int (*CuDeviceGetName) (char *, int, int);
  CuInit cu_init = (CuInit) dlsym (lib, "cuInit");
  CuDeviceGetCount cu_count = (CuDeviceGetCount) dlsym (lib, "cuDeviceGetCount");
  CuDeviceGet cu_get = (CuDeviceGet) dlsym (lib, "cuDeviceGet");
  CuDeviceGetName cu_name = (CuDeviceGetName) dlsym (lib, "cuDeviceGetName");
  char *result;
  int count = 0;
  if (cu_init == NULL || cu_count == NULL || cu_get == NULL || cu_name == NULL)
    result = g_strdup ("none found (libcuda.so.1 lacks the driver API)");
  else if (cu_init (0) != 0)
    result = g_strdup ("none found (cuInit failed: driver present, no usable device)");
  else if (cu_count (&count) != 0 || count == 0)
    result = g_strdup ("none found (the driver reports 0 devices)");
  else
    {
      char name[256] = "";
      int dev = 0;
      if (cu_get (&dev, 0) == 0)
        cu_name (name, sizeof name, dev);
      result = g_strdup_printf ("%d device(s), first: %s", count, name);
    }
  dlclose (lib);
  return result;
}

int
rm_cli_info (int argc, char **argv)
{
  if (argc > 1)
    {
      fprintf (argc == 2 && g_str_equal (argv[1], "--help") ? stdout : stderr,
               "Usage: refmask info\nPrints the version, the compiled-in backends, the GPU found "
               "at run time, BLAS and threads, and library versions.\n");
      return argc == 2 && g_str_equal (argv[1], "--help") ? 0 : 2;
    }
  g_autofree char *gpu = describe_gpu ();
  long cores = sysconf (_SC_NPROCESSORS_ONLN);

  printf ("refmask %s\n", REFMASK_VERSION);
  printf ("CUDA backend:   %s\n", REFMASK_HAVE_CUDA ? "compiled in" : "not compiled in");
  printf ("GPU at runtime: %s\n", gpu);
  printf ("CPU cores:      %ld online\n", cores);
  printf ("BLAS:           %s, core %s, %d thread(s)\n", openblas_get_config (),
          openblas_get_corename (), openblas_get_num_threads ());
  printf ("Engine threads: %ld (default: one per online core, shared with BLAS)\n", cores);
  printf ("sentencepiece:  %s (compiled against)\n", REFMASK_SENTENCEPIECE_VERSION);
  printf ("SQLite:         %s\n", sqlite3_libversion ());
  printf ("GLib:           %u.%u.%u\n", glib_major_version, glib_minor_version, glib_micro_version);
  printf ("GTK:            %s\n", REFMASK_HAVE_GUI ? REFMASK_GTK_VERSION " (refmask-studio built)"
                                                   : "not built (no GTK 4 found)");
  return 0;
}
