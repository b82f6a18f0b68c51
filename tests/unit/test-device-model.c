/* SPDX-License-Identifier: GPL-3.0-or-later
 * The model's device path without a GPU: sessions and forwards on an emulated device
 * (rm_ctx_new_emulated_device: data in arenas of its own, tensors tagged as device tensors,
 * the CPU's kernels, memcpy for the copies) against the CPU.
 *
 * Because the kernels are the CPU's, every result must be bit-identical; what differs is all
 * the plumbing a CUDA context runs through too: the weights' upload cache, inputs copied in,
 * outputs and golden taps copied out, scoped releases of both arenas, keep-and-release copies
 * within device memory. The op layer refuses any operand that is not on the context's device,
 * so a weight or input that was not uploaded fails these tests (see /device/operand-check).
 */
#include "refmask-engine.h"
#include "rm-autograd.h"
#include "rm-backend.h"
#include "rm-cuda.h"
#include "rm-device.h"
#include "rm-image.h"
#include "rm-model-internal.h"
#include "rm-tape.h"
#include "test-golden-model.h"

#include <string.h>
#include <unistd.h>

static const char *const texts[] = { "the largest building on the right", "all water",
                                     "the unpaved land" };

typedef struct
{
  char *dir;
  RmModel *model;
  RmImage *image;
} Fixture;

/* The golden model and a real image; false (skipped) without the shared folder. */
static bool
fixture_setup (Fixture *f)
{
  memset (f, 0, sizeof *f);
  g_autofree char *image =
      rm_test_shared_file_or_skip ("data/dubai-aerial/images/tile1_part001.jpg");
  if (image == NULL || (f->dir = rm_test_golden_model_dir ()) == NULL)
    return false;
  g_autoptr (GError) error = NULL;
  f->model = rm_model_load (f->dir, NULL, &error);
  g_assert_no_error (error);
  f->image = rm_image_load (image, NULL, &error);
  g_assert_no_error (error);
  return true;
}

static void
fixture_teardown (Fixture *f)
{
  rm_image_free (f->image);
  rm_model_free (f->model);
  if (f->dir != NULL)
    rm_test_rmdir_recursive (f->dir);
  g_free (f->dir);
}

/* A CPU session and an emulated-device session of the fixture's model, both with one thread:
 * the emulated context runs the CPU kernels single-threaded. */
static void
new_session_pair (const Fixture *f, RmSession **cpu, RmSession **dev)
{
  g_autoptr (GError) error = NULL;
  *cpu = rm_session_new_on_device (f->model, RM_DEVICE_CHOICE_CPU, 1, &error);
  g_assert_no_error (error);
  *dev = rm_session_new_emulated_device (f->model, &error);
  g_assert_no_error (error);
}

static RmSegmentResult **
segment (RmSession *s, const RmImage *image)
{
  g_autoptr (GError) error = NULL;
  RmSegmentParams params = rm_segment_default_params ();
  params.want_prior_image = true;
  RmSegmentResult **r = rm_session_segment (s, image, texts, G_N_ELEMENTS (texts), &params, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  return r;
}

static void
assert_same_result (const RmSegmentResult *a, const RmSegmentResult *b)
{
  const size_t s = (size_t) a->model_size, g = (size_t) a->prior_size;
  const size_t pixels = (size_t) a->width * a->height;
  g_assert_cmpint (a->model_size, ==, b->model_size);
  g_assert_cmpint (a->prior_size, ==, b->prior_size);
  g_assert_cmpint (a->width, ==, b->width);
  g_assert_cmpint (a->height, ==, b->height);
  g_assert_cmpmem (a->logits, s * s * sizeof (float), b->logits, s * s * sizeof (float));
  g_assert_cmpmem (a->prior, g * g * sizeof (float), b->prior, g * g * sizeof (float));
  g_assert_cmpmem (a->mask, pixels, b->mask, pixels);
  g_assert_nonnull (a->prior_image);
  g_assert_nonnull (b->prior_image);
  g_assert_cmpmem (a->prior_image, pixels * sizeof (float), b->prior_image,
                   pixels * sizeof (float));
  g_assert_cmpint (a->area, ==, b->area);
  g_assert_cmpmem (a->bbox, sizeof a->bbox, b->bbox, sizeof b->bbox);
}

/* Segmenting a real image on the emulated device gives the CPU's logits, prior and mask, bit
 * for bit, request after request; and the device arena's peak stays where the first request
 * put it (it grew with every request while only the host arena was reset, and with the depth
 * while the scoped releases marked the host arena only). */
static void
test_segment (void)
{
  Fixture f;
  if (!fixture_setup (&f))
    return;
  g_autoptr (RmSession) cpu = NULL;
  g_autoptr (RmSession) dev = NULL;
  new_session_pair (&f, &cpu, &dev);
  g_assert_cmpstr (rm_session_get_device_name (cpu), ==, "cpu");
  g_assert_cmpstr (rm_session_get_device_name (dev), ==, "emulated device");
  RmCtx *dev_ctx = rm_session_get_ctx (dev);
  g_assert_true (rm_ctx_is_device (dev_ctx));

  RmSegmentResult **want = segment (cpu, f.image);
  const size_t cpu_peak = rm_arena_peak_bytes (rm_session_get_ctx (cpu)->arena);
  size_t first_peak = 0;
  for (int round = 0; round < 3; round++)
    {
      RmSegmentResult **got = segment (dev, f.image);
      for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
        assert_same_result (want[i], got[i]);
      rm_segment_results_free (got, G_N_ELEMENTS (texts));
      const size_t peak = rm_arena_peak_bytes (dev_ctx->data_arena);
      if (round == 0)
        first_peak = peak;
      g_assert_cmpuint (peak, ==, first_peak);
    }
  /* The device data arena holds what the CPU arena holds minus the tensor structs, plus the
   * two uploaded images (the CPU uses them in place), so its peak cannot exceed the CPU's by
   * more than those. */
  const int s = rm_model_get_image_size (f.model);
  const int b = rm_model_get_core (f.model)->cfg.beit_image_size;
  const size_t images = (size_t) 3 * ((size_t) s * s + (size_t) b * b) * sizeof (float) + 2 * 64;
  g_assert_cmpuint (first_peak, >, 0);
  g_assert_cmpuint (first_peak, <=, cpu_peak + images);
  rm_segment_results_free (want, G_N_ELEMENTS (texts));
  fixture_teardown (&f);
}

/* ---- running out of device memory ------------------------------------------------------- */

/* A request that needs more device memory than the device has left is an RM_ERROR_DEVICE
 * naming the sizes, not the end of the process (the arena's chunk allocation failing was a fatal
 * check); the session, the device lock and the model's device copy stay usable, and all the
 * request's device memory is given back, so that the next request that fits gives the CPU's
 * result bit for bit. Both ways of failing are run: deep in the forward (the arena unwinds to
 * the request's jump point) and in an upload (which fails softly, as the weight upload does). */
static void
assert_out_of_memory (RmSession *dev, const RmImage *image, size_t held)
{
  g_autoptr (GError) error = NULL;
  RmSegmentResult **r = rm_session_segment (dev, image, texts, G_N_ELEMENTS (texts), NULL, &error);
  g_assert_null (r);
  g_assert_error (error, RM_ERROR, RM_ERROR_DEVICE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "out of GPU memory (emulated device): needed "));
  g_assert_nonnull (strstr (error->message, " bytes more, with "));
  /* The request's device memory is back with the device: only the weights' copy remains. */
  g_assert_cmpuint (rm_emulated_device_bytes_in_use (), ==, held);
}

static void
test_out_of_memory (void)
{
  Fixture f;
  if (!fixture_setup (&f))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSession) cpu = NULL;
  g_autoptr (RmSession) dev = NULL;
  new_session_pair (&f, &cpu, &dev);
  const size_t weights = rm_emulated_device_bytes_in_use ();
  g_assert_cmpuint (weights, >, 0);
  /* What one request takes on the device: at its end (the chunks its session keeps for the
   * next one, and its last blocks), and at its peak. */
  RmSegmentResult **want = segment (cpu, f.image);
  rm_emulated_device_set_budget (0); /* restarts the peak */
  rm_segment_results_free (segment (dev, f.image), G_N_ELEMENTS (texts));
  const size_t full = rm_emulated_device_bytes_in_use ();
  const size_t peak = rm_emulated_device_peak_bytes ();
  g_assert_cmpuint (peak, >=, full);
  rm_ctx_trim (rm_session_get_ctx (dev));
  g_assert_cmpuint (rm_emulated_device_bytes_in_use (), ==, weights);

  /* Nothing left: the image upload at the start of the request fails. */
  rm_emulated_device_set_budget (weights);
  assert_out_of_memory (dev, f.image, weights);
  /* One byte short of what the request holds at its end: since that is more than one 64 MiB
   * chunk, a chunk after the image upload's fails, deep in the forward (the jump path). */
  g_assert_cmpuint (full - weights, >, 64u << 20);
  rm_emulated_device_set_budget (full - 1);
  assert_out_of_memory (dev, f.image, weights);
  /* Just enough for this image (its peak), but a huge one's full-size mask resize (a block of its
   * own, after the whole forward) does not fit; the same image, smaller, then does. */
  g_autoptr (RmImage) huge = rm_image_resize_nearest (f.image, 6000, 6000);
  rm_emulated_device_set_budget (peak);
  assert_out_of_memory (dev, huge, weights);
  for (int round = 0; round < 2; round++)
    {
      RmSegmentResult **got = segment (dev, f.image);
      for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
        assert_same_result (want[i], got[i]);
      rm_segment_results_free (got, G_N_ELEMENTS (texts));
    }

  /* The weight upload of a session's creation fails the same way, leaves nothing on the device
   * and caches nothing: with the memory there, the next session of that model uploads it. */
  RmModel *second = rm_model_load (f.dir, NULL, &error);
  g_assert_no_error (error);
  const size_t held = rm_emulated_device_bytes_in_use ();
  rm_emulated_device_set_budget (held + (weights / 2 / 64 * 64));
  RmSession *none = rm_session_new_emulated_device (second, &error);
  g_assert_null (none);
  g_assert_error (error, RM_ERROR, RM_ERROR_DEVICE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "cannot segment on emulated device: weight "));
  g_assert_nonnull (strstr (error->message, "out of GPU memory (emulated device): needed "));
  g_assert_cmpuint (rm_emulated_device_bytes_in_use (), ==, held);
  g_clear_error (&error);
  rm_emulated_device_set_budget (0);
  g_autoptr (RmSession) again = rm_session_new_emulated_device (second, &error);
  g_assert_no_error (error);
  RmSegmentResult **got = segment (again, f.image);
  for (size_t i = 0; i < G_N_ELEMENTS (texts); i++)
    assert_same_result (want[i], got[i]);
  rm_segment_results_free (got, G_N_ELEMENTS (texts));
  g_clear_pointer (&again, rm_session_free);
  rm_model_free (second);

  rm_segment_results_free (want, G_N_ELEMENTS (texts));
  fixture_teardown (&f);
}

/* ---- the golden forward with taps -------------------------------------------------------- */

/* The golden set's batched forward (several padded expressions: the BEiT-3 keep mask and key
 * padding at work) on the emulated device: every golden-check tap arrives on the host, and each
 * one, like the outputs, equals the CPU's bit for bit. */
static void
test_golden_taps (void)
{
  RmModelCore core;
  if (!rm_test_golden_core (&core))
    return;
  g_autoptr (GError) error = NULL;
  RmModelCore dev_core;
  g_assert_true (rm_model_core_to_device (&core, rm_ctx_new_emulated_device (), &dev_core, &error));
  g_assert_no_error (error);
  g_assert_cmpint (dev_core.hiera_pos.device, ==, RM_DEVICE_EMULATED);
  g_assert_cmpint (rm_weights_get (dev_core.weights, "visual_model.no_mem_embed")->device, ==,
                   RM_DEVICE_EMULATED);

  RmCtx *cpu = rm_ctx_new (1), *dev = rm_ctx_new_emulated_device ();
  RmTestTaps want, got;
  RmForwardOutput out_cpu, out_dev;
  rm_test_golden_forward_pair (cpu, &core, dev, &dev_core, &want, &got, &out_cpu, &out_dev);
  /* 62 activations of the set plus the single runs' names: far more than a handful. */
  g_assert_cmpuint (want.names->len, >=, 60);
  for (guint i = 0; i < want.names->len; i++)
    {
      g_assert_cmpstr (got.names->pdata[i], ==, want.names->pdata[i]);
      if (!g_bytes_equal (got.data->pdata[i], want.data->pdata[i]))
        g_error ("tap %s differs on the emulated device", (const char *) want.names->pdata[i]);
    }
  RmTensor *outs[][2] = { { out_cpu.pred_masks, out_dev.pred_masks },
                          { out_cpu.prior, out_dev.prior },
                          { out_cpu.text_weight, out_dev.text_weight } };
  for (size_t i = 0; i < G_N_ELEMENTS (outs); i++)
    {
      g_assert_cmpint (outs[i][1]->device, ==, RM_DEVICE_EMULATED);
      const RmTensor *host = rm_download (dev, outs[i][1], &error);
      g_assert_no_error (error);
      g_assert_cmpmem (outs[i][0]->data, rm_tensor_numel (outs[i][0]) * sizeof (float), host->data,
                       rm_tensor_numel (host) * sizeof (float));
    }
  rm_test_taps_clear (&want);
  rm_test_taps_clear (&got);
  rm_ctx_free (dev);
  rm_ctx_free (cpu);
  rm_model_core_clear (&dev_core);
  rm_model_core_clear (&core);
}

/* ---- what must be refused ---------------------------------------------------------------- */

/* A host tensor reaching a device context's op is a programming error, reported with the
 * check's file and line before any kernel runs: the whole forward with the host weights (no
 * upload) dies at its first op that reads a weight. */
static void
test_operand_check (void)
{
  if (g_test_subprocess ())
    {
      RmCtx *dev = rm_ctx_new_emulated_device ();
      RmTensor *host = rm_new_host (dev, 2, (int64_t[]){ 2, 3 });
      memset (host->data, 0, 6 * sizeof (float));
      rm_relu (dev, host);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr (
      "*rm-ops.c:*check failed*relu: operand 1 [2, 3] is on cpu, the context computes on "
      "emulated device*");
}

static void
test_weights_not_uploaded (void)
{
  if (g_test_subprocess ())
    {
      RmModelCore core;
      if (!rm_test_golden_core (&core))
        return;
      RmCtx *dev = rm_ctx_new_emulated_device ();
      RmForwardOutput out;
      rm_test_golden_forward (dev, &core, NULL, NULL, &out); /* host weights: must abort */
      return;
    }
  g_autofree char *set = rm_test_shared_file_or_skip ("golden/weights.safetensors");
  if (set == NULL)
    return;
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*rm-ops.c:*check failed*operand 2 * is on cpu, the context "
                             "computes on emulated device*");
}

/* Training needs backward kernels; a device backend has none (the emulated one mirrors the
 * CUDA backend there too), and rm_backward says so instead of computing garbage. */
static void
test_backward_refused (void)
{
  if (g_test_subprocess ())
    {
      RmCtx *dev = rm_ctx_new_emulated_device ();
      dev->tape = rm_tape_new ();
      RmTensor *x = rm_zeros (dev, 1, (int64_t[]){ 4 });
      x->requires_grad = true;
      RmTensor *loss = rm_sum_all (dev, rm_relu (dev, x));
      const float one = 1.0f;
      rm_backward (dev, 1, (const RmTensor *const[]){ loss }, (const float *const[]){ &one }, NULL);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*has no backward kernels*");
}

/* ---- the device choice ------------------------------------------------------------------- */

static void
test_choice (void)
{
  RmDeviceChoice c;
  g_assert_true (rm_device_choice_from_string ("auto", &c) && c == RM_DEVICE_CHOICE_AUTO);
  g_assert_true (rm_device_choice_from_string ("cpu", &c) && c == RM_DEVICE_CHOICE_CPU);
  g_assert_true (rm_device_choice_from_string ("cuda", &c) && c == RM_DEVICE_CHOICE_CUDA);
  g_assert_false (rm_device_choice_from_string ("gpu", &c));
  g_assert_false (rm_device_choice_from_string (NULL, &c));
  for (int i = RM_DEVICE_CHOICE_AUTO; i <= RM_DEVICE_CHOICE_CUDA; i++)
    {
      g_assert_true (rm_device_choice_from_string (rm_device_choice_to_string (i), &c));
      g_assert_cmpint (c, ==, i);
    }

  Fixture f;
  if (!fixture_setup (&f))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSession) cpu = rm_session_new_on_device (f.model, RM_DEVICE_CHOICE_CPU, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rm_session_get_device_name (cpu), ==, "cpu");
  g_autoptr (RmSession) any = rm_session_new_on_device (f.model, RM_DEVICE_CHOICE_AUTO, 1, &error);
  g_assert_no_error (error);
  g_autoptr (RmSession) cuda = rm_session_new_on_device (f.model, RM_DEVICE_CHOICE_CUDA, 1, &error);
  if (rm_cuda_device_count () == 0)
    {
      /* Never a silent fallback: CUDA asked for and absent is an error that says so. */
      g_assert_null (cuda);
      g_assert_error (error, RM_ERROR, RM_ERROR_UNSUPPORTED);
      g_assert_nonnull (strstr (error->message, "cannot segment on cuda"));
      g_assert_cmpstr (rm_session_get_device_name (any), ==, "cpu");
    }
  else
    {
      g_assert_no_error (error);
      g_assert_cmpstr (rm_session_get_device_name (cuda), ==, "cuda");
      g_assert_cmpstr (rm_session_get_device_name (any), ==, "cuda");
    }
  fixture_teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/device/segment", test_segment);
  g_test_add_func ("/device/out-of-memory", test_out_of_memory);
  g_test_add_func ("/device/golden-taps", test_golden_taps);
  g_test_add_func ("/device/operand-check", test_operand_check);
  g_test_add_func ("/device/weights-not-uploaded", test_weights_not_uploaded);
  g_test_add_func ("/device/backward-refused", test_backward_refused);
  g_test_add_func ("/device/choice", test_choice);
  return g_test_run ();
}
