/* SPDX-License-Identifier: GPL-3.0-or-later
 * The golden set as a model for the device tests (header only): a model directory built from
 * its weights (what `refmask model-init --weights` makes) and one batched forward on its inputs,
 * on any context.
 */
#pragma once

#include "rm-config.h"
#include "rm-device.h"
#include "rm-forward.h"
#include "rm-safetensors.h"
#include "rm-weights.h"
#include "test-util.h"

#include <string.h>
#include <unistd.h>

/* A temporary model directory made of the golden set's config, weights (linked) and tokenizer,
 * or NULL (the test skipped) without the golden set. Remove it with rm_test_rmdir_recursive. */
static inline char *
rm_test_golden_model_dir (void)
{
  g_autofree char *manifest = rm_test_shared_file_or_skip ("golden/manifest.json");
  g_autofree char *weights =
      manifest ? rm_test_shared_file_or_skip ("golden/weights.safetensors") : NULL;
  g_autofree char *spm = weights ? rm_test_shared_file_or_skip ("golden/tiny.spm") : NULL;
  if (spm == NULL)
    return NULL;
  g_autoptr (GError) error = NULL;
  RmModelConfig cfg;
  g_assert_true (rm_model_config_load (&cfg, manifest, &error));
  g_assert_no_error (error);
  char *dir = rm_test_tmpdir ();
  g_autofree char *json = rm_model_config_to_json (&cfg);
  g_autofree char *config_path = g_build_filename (dir, "config.json", NULL);
  g_autofree char *weights_path = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *spm_path = g_build_filename (dir, "sentencepiece.bpe.model", NULL);
  g_autofree char *spm_data = NULL;
  gsize spm_len = 0;
  g_assert_true (g_file_set_contents (config_path, json, -1, &error));
  g_assert_cmpint (symlink (weights, weights_path), ==, 0);
  g_assert_true (g_file_get_contents (spm, &spm_data, &spm_len, &error));
  g_assert_true (g_file_set_contents (spm_path, spm_data, (gssize) spm_len, &error));
  g_assert_no_error (error);
  return dir;
}

/* The golden set's model core (host), or false (the test skipped) without the set. */
static inline bool
rm_test_golden_core (RmModelCore *core)
{
  g_autofree char *manifest = rm_test_shared_file_or_skip ("golden/manifest.json");
  g_autofree char *weights =
      manifest ? rm_test_shared_file_or_skip ("golden/weights.safetensors") : NULL;
  if (weights == NULL)
    return false;
  g_autoptr (GError) error = NULL;
  RmModelConfig cfg;
  g_assert_true (rm_model_config_load (&cfg, manifest, &error));
  RmWeights *w = rm_weights_load (weights, &cfg, &error);
  g_assert_no_error (error);
  rm_model_core_init (core, &cfg, w);
  return true;
}

/* The batched forward of the golden set (every expression, padded, on one image) on ctx with
 * core (which must live on ctx's device), as golden-check runs it; the inputs are uploaded to
 * ctx's device, the image repeated there. recompute: RmForward.recompute (with a tape on ctx). */
static inline void
rm_test_golden_forward_with (RmCtx *ctx, const RmModelCore *core, RmTapFunc tap, void *tap_user,
                             bool recompute, RmForwardOutput *out)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("golden/inputs.safetensors");
  g_assert_nonnull (path);
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) inputs = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  const RmStTensor *ids = rm_safetensors_lookup (inputs, "input.input_ids");
  const RmStTensor *mask = rm_safetensors_lookup (inputs, "input.attention_mask");
  const char *images[2] = { "input.sam_image", "input.beit_image" };
  g_assert_true (ids != NULL && mask != NULL && ids->dtype == RM_ST_I64 && mask->dtype == RM_ST_U8);
  const int batch = (int) ids->shape[0], len = (int) ids->shape[1];
  g_autofree uint8_t *pad = g_new (uint8_t, (size_t) batch * len);
  for (int i = 0; i < batch * len; i++)
    pad[i] = ((const uint8_t *) mask->data)[i] == 0;
  const RmTensor *img[2];
  for (int i = 0; i < 2; i++)
    {
      const RmStTensor *st = rm_safetensors_lookup (inputs, images[i]);
      g_assert_true (st != NULL && st->dtype == RM_ST_F32 && st->ndim == 4);
      const RmTensor *one =
          rm_upload (ctx, rm_wrap (ctx, (float *) st->data, 4, st->shape), &error);
      g_assert_no_error (error);
      img[i] = rm_add (
          ctx, rm_zeros (ctx, 4, (int64_t[]){ batch, st->shape[1], st->shape[2], st->shape[3] }),
          one);
    }
  RmForward fw = {
    .ctx = ctx, .core = core, .tap = tap, .tap_user = tap_user, .recompute = recompute
  };
  RmForwardInput in = { .sam_image = img[0],
                        .beit_image = img[1],
                        .ids = ids->data,
                        .pad = pad,
                        .batch = batch,
                        .text_len = len };
  g_assert_true (rm_forward (&fw, &in, out));
  g_assert_null (fw.error);
}

/* The same as golden-check's eval forward (no training). */
static inline void
rm_test_golden_forward (RmCtx *ctx, const RmModelCore *core, RmTapFunc tap, void *tap_user,
                        RmForwardOutput *out)
{
  rm_test_golden_forward_with (ctx, core, tap, tap_user, false, out);
}

/* Every tensor a forward taps, in order: name, values (host copies) and where it came from. */
typedef struct
{
  GPtrArray *names; /* char* */
  GPtrArray *data;  /* GBytes of floats */
  bool all_on_host; /* every tap arrived as a contiguous host tensor */
} RmTestTaps;

static inline void
rm_test_taps_init (RmTestTaps *t)
{
  t->names = g_ptr_array_new_with_free_func (g_free);
  t->data = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  t->all_on_host = true;
}

static inline void
rm_test_taps_clear (RmTestTaps *t)
{
  g_ptr_array_unref (t->names);
  g_ptr_array_unref (t->data);
}

/* An RmTapFunc recording into the RmTestTaps user. */
static inline void
rm_test_taps_record (void *user, const char *name, const RmTensor *t)
{
  RmTestTaps *taps = user;
  if (t->device != RM_DEVICE_CPU || !rm_tensor_is_contiguous (t))
    {
      g_test_message ("tap %s: on %s, %scontiguous", name, rm_device_name (t->device),
                      rm_tensor_is_contiguous (t) ? "" : "not ");
      taps->all_on_host = false;
      return;
    }
  g_ptr_array_add (taps->names, g_strdup (name));
  g_ptr_array_add (taps->data,
                   g_bytes_new (t->data, (size_t) rm_tensor_numel (t) * sizeof (float)));
}

/* The golden forward of @core on @host and of its device copy @dev_core on @dev, each recording
 * its taps (@want, @got: initialised here, cleared by the caller); every device tap arrives on
 * the host, and there are as many as the CPU's. */
static inline void
rm_test_golden_forward_pair (RmCtx *host, const RmModelCore *core, RmCtx *dev,
                             const RmModelCore *dev_core, RmTestTaps *want, RmTestTaps *got,
                             RmForwardOutput *out_host, RmForwardOutput *out_dev)
{
  rm_test_taps_init (want);
  rm_test_taps_init (got);
  rm_test_golden_forward (host, core, rm_test_taps_record, want, out_host);
  rm_test_golden_forward (dev, dev_core, rm_test_taps_record, got, out_dev);
  g_assert_true (got->all_on_host);
  g_assert_cmpuint (got->names->len, ==, want->names->len);
}
