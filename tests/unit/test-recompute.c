/* SPDX-License-Identifier: GPL-3.0-or-later
 * Recomputation of the Hiera blocks in the backward (RmForward.recompute, rm_checkpoint_begin):
 * on the golden model and inputs, one training forward, the official loss and rm_backward, with
 * and without recompute. The loss, the outputs and every parameter gradient must be the same to
 * the bit, the same parameters must be reached in the same order, and the arena's peak over the
 * step must be clearly lower with recompute. Run for the official trainable set (trunk frozen:
 * the blocks' image input needs no gradient, their adapters do) and for every weight trainable
 * (the gradient also leaves the first block towards the patch embedding).
 */
#include "rm-autograd.h"
#include "rm-loss.h"
#include "rm-tape.h"
#include "test-golden-model.h"

/* Measured on the golden set (7 blocks at 64 x 64 / 16 channels down to 8 x 8 / 128, B = 2):
 * the step's peak is 0.42 (official set) and 0.41 (all trainable) of the recorded one; a block
 * whose activations stayed recorded, or a scope never given back, leaves it near 1. */
#define MAX_PEAK_RATIO 0.5

typedef struct
{
  float loss;
  GBytes *pred_masks;
  GPtrArray *leaves; /* const RmTensor*, in first-reached order */
  GPtrArray *grads;  /* GBytes per leaf */
  size_t peak, tape_len;
} Step;

static void
collect_leaf (void *user, const RmTensor *leaf, const float *grad)
{
  Step *s = user;
  g_ptr_array_add (s->leaves, (gpointer) leaf);
  g_ptr_array_add (s->grads, g_bytes_new (grad, (size_t) rm_tensor_numel (leaf) * sizeof (float)));
}

static void
step_clear (Step *s)
{
  g_bytes_unref (s->pred_masks);
  g_ptr_array_unref (s->leaves);
  g_ptr_array_unref (s->grads);
}

static void
train_step (const RmModelCore *core, const uint8_t *target, bool recompute, Step *s)
{
  RmCtx *ctx = rm_ctx_new (2);
  ctx->tape = rm_tape_new ();
  RmForwardOutput out;
  rm_test_golden_forward_with (ctx, core, NULL, NULL, recompute, &out);
  s->tape_len = rm_tape_len (ctx->tape);
  const int batch = (int) out.pred_masks->shape[0], side = (int) out.pred_masks->shape[2];
  RmLossParams lp = rm_loss_default_params ();
  RmLossTerms terms;
  g_autofree float *dz = g_new (float, rm_tensor_numel (out.pred_masks));
  g_autofree float *dsen = g_new (float, batch);
  rm_refseg_loss (&lp, out.pred_masks->data, target, out.text_weight->data, batch, side, side,
                  &terms, dz, dsen);
  s->loss = terms.total;
  s->pred_masks = g_bytes_new (out.pred_masks->data,
                               (size_t) rm_tensor_numel (out.pred_masks) * sizeof (float));
  const RmTensor *seeds[] = { out.pred_masks, out.text_weight };
  const float *seed_grads[] = { dz, dsen };
  g_autoptr (GError) error = NULL;
  RmGrad *g = rm_backward (ctx, 2, seeds, seed_grads, &error);
  g_assert_no_error (error);
  s->peak = rm_ctx_peak_bytes (ctx);
  s->leaves = g_ptr_array_new ();
  s->grads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  rm_grad_foreach_leaf (g, collect_leaf, s);
  rm_grad_free (g);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
}

static void
check_recompute (bool all_trainable)
{
  RmModelCore core;
  if (!rm_test_golden_core (&core))
    return;
  g_autofree char *path = rm_test_shared_file_or_skip ("golden/inputs.safetensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) inputs = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  const RmStTensor *target = rm_safetensors_lookup (inputs, "input.target");
  g_assert_true (target != NULL && target->dtype == RM_ST_U8);
  rm_weights_make_trainable (core.weights);
  if (all_trainable)
    rm_weights_set_all_trainable (core.weights);

  Step plain, re;
  train_step (&core, target->data, false, &plain);
  train_step (&core, target->data, true, &re);

  g_assert_cmpmem (&re.loss, sizeof re.loss, &plain.loss, sizeof plain.loss);
  g_assert_true (g_bytes_equal (re.pred_masks, plain.pred_masks));
  g_assert_cmpuint (re.leaves->len, ==, plain.leaves->len);
  g_assert_cmpuint (plain.leaves->len, >, 0);
  int64_t n_values = 0;
  for (guint i = 0; i < plain.leaves->len; i++)
    {
      g_assert_true (g_ptr_array_index (re.leaves, i) == g_ptr_array_index (plain.leaves, i));
      GBytes *a = g_ptr_array_index (re.grads, i), *b = g_ptr_array_index (plain.grads, i);
      gsize na, nb;
      const void *da = g_bytes_get_data (a, &na), *db = g_bytes_get_data (b, &nb);
      if (na != nb || memcmp (da, db, na) != 0)
        g_test_fail_printf ("gradient of leaf %u (%" G_GINT64_FORMAT " values) differs with "
                            "recompute",
                            i, (gint64) (nb / sizeof (float)));
      n_values += (int64_t) (nb / sizeof (float));
    }
  const double ratio = (double) re.peak / (double) plain.peak;
  g_test_message ("%u parameters (%" G_GINT64_FORMAT " values) bit-identical; tape %zu -> %zu "
                  "records; step peak %.2f -> %.2f MiB (%.2f)",
                  plain.leaves->len, (gint64) n_values, plain.tape_len, re.tape_len,
                  (double) plain.peak / (1 << 20), (double) re.peak / (1 << 20), ratio);
  g_assert_cmpuint (re.tape_len, <, plain.tape_len);
  g_assert_cmpfloat (ratio, <=, MAX_PEAK_RATIO);
  step_clear (&plain);
  step_clear (&re);
  rm_model_core_clear (&core);
}

static void
test_official_set (void)
{
  check_recompute (false);
}

static void
test_all_trainable (void)
{
  check_recompute (true);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/recompute/golden/official-trainable-set", test_official_set);
  g_test_add_func ("/recompute/golden/all-trainable", test_all_trainable);
  return g_test_run ();
}
