/* SPDX-License-Identifier: GPL-3.0-or-later
 * The model gives the same bits for any number of threads: the bundled default model
 * (data/model) segments a sample image with 1, 2 and 3 threads, and the logits, the prior and
 * the mask must be identical. At this size the GEMMs are cut into bands and the attention into
 * blocks, so a split that followed the thread count would show here. Then the same under each
 * OpenBLAS kernel family the CPU can run (test-blas-kernels.h).
 */
#include "refmask-engine.h"
#include "rm-image.h"
#include "test-blas-kernels.h"

#include <string.h>

static const char *const texts[] = { "all water", "the unpaved land" };

static RmSegmentResult **
segment_with_threads (const RmModel *model, const RmImage *image, int threads)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSession) session =
      rm_session_new_on_device (model, RM_DEVICE_CHOICE_CPU, threads, &error);
  g_assert_no_error (error);
  RmSegmentParams params = rm_segment_default_params ();
  RmSegmentResult **r =
      rm_session_segment (session, image, texts, G_N_ELEMENTS (texts), &params, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

static void
test_thread_invariance (void)
{
  const char *source = g_getenv ("REFMASK_SOURCE_DIR");
  g_assert_nonnull (source);
  g_autofree char *model_dir = g_build_filename (source, "data", "model", NULL);
  g_autofree char *image_path =
      g_build_filename (source, "data", "sample", "tile1_part005.jpg", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (RmModel) model = rm_model_load (model_dir, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (RmImage) image = rm_image_load (image_path, NULL, &error);
  g_assert_no_error (error);

  RmSegmentResult **one = segment_with_threads (model, image, 1);
  for (int threads = 2; threads <= 3; threads++)
    {
      RmSegmentResult **many = segment_with_threads (model, image, threads);
      for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
        {
          const RmSegmentResult *a = one[i], *b = many[i];
          const size_t s = (size_t) a->model_size, g = (size_t) a->prior_size;
          g_test_message ("%d threads, “%s”", threads, texts[i]);
          g_assert_cmpmem (a->logits, s * s * sizeof (float), b->logits, s * s * sizeof (float));
          g_assert_cmpmem (a->prior, g * g * sizeof (float), b->prior, g * g * sizeof (float));
          g_assert_cmpmem (a->mask, (size_t) a->width * a->height, b->mask,
                           (size_t) b->width * b->height);
        }
      rm_segment_results_free (many, G_N_ELEMENTS (texts));
    }
  rm_segment_results_free (one, G_N_ELEMENTS (texts));
}

static void
test_thread_invariance_blas_kernels (void)
{
  rm_test_rerun_with_blas_kernels ("/threads/segment");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/threads/segment", test_thread_invariance);
  g_test_add_func ("/threads/blas-kernels", test_thread_invariance_blas_kernels);
  return g_test_run ();
}
