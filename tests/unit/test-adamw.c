/* SPDX-License-Identifier: GPL-3.0-or-later
 * AdamW against torch's update written out in double, torch semantics for parameters without a
 * gradient, checkpoint state round trips, the trainable set and groups by official key name, and
 * (when ../shared/golden is there) one step from the official gradients to the official
 * parameters, bit for bit.
 */
#include "rm-adamw.h"
#include "rm-error.h"
#include "rm-params.h"
#include "rm-safetensors.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static uint64_t rng_state = 7;

static float
rng_float (void) /* [-1, 1) */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (float) ((double) ((rng_state * 0x2545F4914F6CDD1Dull) >> 40) / (double) (1 << 23) - 1.0);
}

static RmTensor *
new_param (int64_t rows, int64_t cols)
{
  RmTensor *t = g_malloc0 (sizeof (RmTensor) + (size_t) (rows * cols) * sizeof (float));
  rm_tensor_init (t, (float *) (t + 1), 2, (const int64_t[]){ rows, cols });
  for (int64_t i = 0; i < rows * cols; i++)
    t->data[i] = rng_float ();
  return t;
}

/* Gradients per step: grads[step][param] (NULL = no gradient that step). */
typedef struct
{
  float *g[2];
} StepGrads;

static const float *
grad_from (void *user, const char *name, const RmTensor *param)
{
  StepGrads *s = user;
  return s->g[strcmp (name, "a") == 0 ? 0 : 1];
}

/* torch's formulas in double, with the per-parameter step count. */
typedef struct
{
  double *p, *m, *v;
  int64_t n, step;
} RefParam;

static void
ref_step (RefParam *r, const float *g, double lr, double b1, double b2, double eps, double wd)
{
  if (g == NULL)
    return;
  r->step++;
  const double bc1 = 1 - pow (b1, (double) r->step), bc2 = 1 - pow (b2, (double) r->step);
  for (int64_t i = 0; i < r->n; i++)
    {
      r->p[i] *= 1 - lr * wd;
      r->m[i] = b1 * r->m[i] + (1 - b1) * g[i];
      r->v[i] = b2 * r->v[i] + (1 - b2) * (double) g[i] * g[i];
      r->p[i] -= lr / bc1 * r->m[i] / (sqrt (r->v[i]) / sqrt (bc2) + eps);
    }
}

static void
test_against_double (void)
{
  RmAdamWGroup groups[2] = { rm_adamw_group_default (5e-5f), rm_adamw_group_default (1e-4f) };
  groups[1].weight_decay = 0.05f;
  g_autoptr (RmAdamW) opt = rm_adamw_new (2, groups);
  RmTensor *a = new_param (7, 13), *b = new_param (3, 5);
  rm_adamw_add_param (opt, "a", a, 0);
  rm_adamw_add_param (opt, "b", b, 1);
  g_assert_cmpuint (rm_adamw_n_params (opt), ==, 2);

  RefParam ref[2];
  RmTensor *ps[2] = { a, b };
  for (int k = 0; k < 2; k++)
    {
      ref[k].n = rm_tensor_numel (ps[k]);
      ref[k].p = g_new (double, ref[k].n);
      ref[k].m = g_new0 (double, ref[k].n);
      ref[k].v = g_new0 (double, ref[k].n);
      ref[k].step = 0;
      for (int64_t i = 0; i < ref[k].n; i++)
        ref[k].p[i] = ps[k]->data[i];
    }
  float *ga = g_new (float, 7 * 13), *gb = g_new (float, 15);
  for (int step = 0; step < 6; step++)
    {
      /* b gets no gradient at steps 1 and 4: skipped entirely, its count stays behind. */
      g_autofree float *b_before = g_memdup2 (b->data, 15 * sizeof (float));
      for (int i = 0; i < 7 * 13; i++)
        ga[i] = (step == 2 && i % 5 == 0) ? 0.0f : 1e-3f * rng_float ();
      for (int i = 0; i < 15; i++)
        gb[i] = rng_float ();
      const bool skip_b = step == 1 || step == 4;
      StepGrads sg = { { ga, skip_b ? NULL : gb } };
      rm_adamw_step (opt, grad_from, &sg);
      ref_step (&ref[0], ga, 5e-5, 0.9, 0.999, 1e-8, 0.01);
      ref_step (&ref[1], skip_b ? NULL : gb, 1e-4, 0.9, 0.999, 1e-8, 0.05);
      if (skip_b)
        g_assert_cmpmem (b->data, 15 * 4, b_before, 15 * 4);
      /* fp32 state and arithmetic vs double: parameters of size ~1 agree to a few ulps; the
       * update itself (~lr) to ~1e-6 of it. */
      for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < ref[k].n; i++)
          g_assert_cmpfloat_with_epsilon (ps[k]->data[i], ref[k].p[i], 4e-7);
    }
  g_assert_cmpint (rm_adamw_get_step (opt), ==, 6);

  /* The learning rate can change between steps. */
  rm_adamw_group (opt, 0)->lr = 0.0f;
  rm_adamw_group (opt, 0)->weight_decay = 0.0f;
  g_autofree float *a_before = g_memdup2 (a->data, 7 * 13 * sizeof (float));
  StepGrads sg = { { ga, NULL } };
  rm_adamw_step (opt, grad_from, &sg);
  g_assert_cmpmem (a->data, 7 * 13 * 4, a_before, 7 * 13 * 4);

  for (int k = 0; k < 2; k++)
    {
      g_free (ref[k].p);
      g_free (ref[k].m);
      g_free (ref[k].v);
    }
  g_free (ga);
  g_free (gb);
  rm_adamw_free (g_steal_pointer (&opt));
  g_free (a);
  g_free (b);
}

/* The first step is ~lr sign(g) (+ the decay), whatever |g| (above eps). */
static void
test_first_step_sign (void)
{
  RmAdamWGroup gr = rm_adamw_group_default (1e-3f);
  gr.weight_decay = 0.0f;
  g_autoptr (RmAdamW) opt = rm_adamw_new (1, &gr);
  RmTensor *a = new_param (1, 4);
  float before[4];
  memcpy (before, a->data, sizeof before);
  rm_adamw_add_param (opt, "a", a, 0);
  float g[4] = { 1e3f, -1e-4f, 0.0f, 3.0f };
  StepGrads sg = { { g, NULL } };
  rm_adamw_step (opt, grad_from, &sg);
  g_assert_cmpfloat_with_epsilon (a->data[0], before[0] - 1e-3f, 1e-7);
  g_assert_cmpfloat_with_epsilon (a->data[1], before[1] + 1e-3f, 1e-7);
  g_assert_cmpfloat (a->data[2], ==, before[2]); /* g = 0: m = 0, no move */
  g_assert_cmpfloat_with_epsilon (a->data[3], before[3] - 1e-3f, 1e-7);
  rm_adamw_free (g_steal_pointer (&opt));
  g_free (a);
}

/* Checkpoint: 2 steps, save, a fresh optimizer loads, 1 step == 3 steps straight, to the bit. */
static void
run_steps (RmAdamW *opt, int from, int to, float *ga, float *gb)
{
  for (int step = from; step < to; step++)
    {
      rng_state = 1000 + (uint64_t) step;
      for (int i = 0; i < 6; i++)
        ga[i] = rng_float ();
      for (int i = 0; i < 4; i++)
        gb[i] = rng_float ();
      StepGrads sg = { { ga, step == 0 ? NULL : gb } };
      rm_adamw_step (opt, grad_from, &sg);
    }
}

typedef struct
{
  char name[32];
  RmTensor t;
} NamedTensor;

static void
collect (void *user, const char *name, const RmTensor *t)
{
  NamedTensor *nt = g_new0 (NamedTensor, 1);
  g_strlcpy (nt->name, name, sizeof nt->name);
  nt->t = *t;
  g_ptr_array_add (user, nt);
}

static void
test_state_roundtrip (void)
{
  RmAdamWGroup groups[2] = { rm_adamw_group_default (1e-2f), rm_adamw_group_default (2e-2f) };
  float ga[6], gb[4];
  rng_state = 99;
  RmTensor *a1 = new_param (2, 3), *b1 = new_param (2, 2);
  RmTensor *a2 = g_memdup2 (a1, sizeof (RmTensor) + 6 * 4),
           *b2 = g_memdup2 (b1, sizeof (RmTensor) + 4 * 4);
  a2->data = (float *) (a2 + 1);
  b2->data = (float *) (b2 + 1);

  RmAdamW *straight = rm_adamw_new (2, groups);
  rm_adamw_add_param (straight, "a", a1, 0);
  rm_adamw_add_param (straight, "b", b1, 1);
  run_steps (straight, 0, 3, ga, gb);

  RmAdamW *first = rm_adamw_new (2, groups);
  rm_adamw_add_param (first, "a", a2, 0);
  rm_adamw_add_param (first, "b", b2, 1);
  run_steps (first, 0, 2, ga, gb);
  /* foreach_state hands out tensors that stay valid after the callback (a caller collects
   * them and writes one file): "b" had no gradient at step 0, so one step. */
  g_autoptr (GPtrArray) collected = g_ptr_array_new_with_free_func (g_free);
  rm_adamw_foreach_state (first, collect, collected);
  g_assert_cmpuint (collected->len, ==, 6);
  for (guint i = 0; i < collected->len; i++)
    {
      const NamedTensor *nt = g_ptr_array_index (collected, i);
      if (strcmp (nt->name, "b.step") == 0)
        g_assert_cmpfloat (nt->t.data[0], ==, 1.0f);
      if (strcmp (nt->name, "a.step") == 0)
        g_assert_cmpfloat (nt->t.data[0], ==, 2.0f);
    }
  g_autofree char *dir = g_dir_make_tmp ("rm-adamw-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "opt.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (rm_adamw_save (first, path, &error));
  g_assert_no_error (error);
  rm_adamw_free (first);

  RmAdamW *resumed = rm_adamw_new (2, groups);
  rm_adamw_add_param (resumed, "a", a2, 0);
  rm_adamw_add_param (resumed, "b", b2, 1);
  g_assert_true (rm_adamw_load (resumed, path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (rm_adamw_get_step (resumed), ==, 2);
  run_steps (resumed, 2, 3, ga, gb);
  g_assert_cmpmem (a1->data, 6 * 4, a2->data, 6 * 4);
  g_assert_cmpmem (b1->data, 4 * 4, b2->data, 4 * 4);
  g_assert_cmpint (rm_adamw_get_step (resumed), ==, 3);

  /* The state names, and "b" has one step less (no gradient at step 0). */
  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_safetensors_count (st), ==, 6);
  const RmStTensor *sb = rm_safetensors_lookup (st, "b.step");
  g_assert_nonnull (sb);
  g_assert_cmpfloat (*(const float *) sb->data, ==, 1.0f);
  g_assert_nonnull (rm_safetensors_lookup (st, "a.exp_avg_sq"));

  /* A missing parameter's state is an error and changes nothing. */
  RmTensor *c = new_param (1, 1);
  rm_adamw_add_param (resumed, "c", c, 0);
  g_assert_false (rm_adamw_load_state (resumed, st, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_MISSING_KEY);
  g_assert_cmpint (rm_adamw_get_step (resumed), ==, 3);

  rm_adamw_free (resumed);
  rm_adamw_free (straight);
  g_unlink (path);
  g_rmdir (dir);
  g_free (a1), g_free (b1), g_free (a2), g_free (b2), g_free (c);
}

static void
test_params (void)
{
  static const struct
  {
    const char *key;
    bool train;
    int group;
  } cases[] = {
    { "visual_model.image_encoder.trunk.patch_embed.proj.weight", false, -1 },
    { "visual_model.image_encoder.trunk.pos_embed", false, -1 },
    { "visual_model.image_encoder.trunk.pos_embed_window", false, -1 },
    { "visual_model.image_encoder.trunk.blocks.3.attn.qkv.weight", false, -1 },
    { "visual_model.image_encoder.trunk.blocks.3.norm1.bias", false, -1 },
    { "visual_model.image_encoder.trunk.blocks.3.mlp.layers.0.weight", false, -1 },
    { "visual_model.image_encoder.trunk.blocks.1.proj.weight", false, -1 },
    { "visual_model.image_encoder.trunk.blocks.3.MLP_Adapter.D_fc1.weight", true, 1 },
    { "visual_model.image_encoder.trunk.blocks.0.Space_Adapter.vlfusion_module.multihead_attn.in_"
      "proj_weight",
      true, 1 },
    { "visual_model.image_encoder.neck.convs.0.conv.weight", false, -1 },
    { "visual_model.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", false, -1 },
    { "visual_model.sam_mask_decoder.vlfusion_module.multihead_attn.out_proj.bias", true, 1 },
    { "visual_model.sam_mask_decoder.iou_token.weight", true, 0 },
    { "visual_model.no_mem_embed", true, 0 },
    { "mm_extractor.beit3.encoder.layers.0.ffn.A.fc1.weight", true, 0 },
    { "text_feat_linear.weight", true, 0 },
    { "text2one_linear.bias", true, 0 },
    { "mask_linear.weight", true, 1 },
    { "mask_product.bias", true, 1 },
    { "vmtoken.multihead_attn.in_proj_bias", true, 1 },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpint (rm_param_is_trainable (cases[i].key), ==, cases[i].train);
      g_assert_cmpint (rm_param_adamw_group (cases[i].key, NULL), ==, cases[i].group);
    }
  /* A caller's own keyword list. */
  static const char *const mine[] = { "text2one", NULL };
  g_assert_cmpint (rm_param_adamw_group ("text2one_linear.bias", mine), ==, 1);
  g_assert_cmpint (rm_param_adamw_group ("mask_linear.weight", mine), ==, 0);
}

/* ---- the golden set --------------------------------------------------------------------- */

static char *
golden_file (const char *name)
{
  const char *env = g_getenv ("REFMASK_SHARED_DIR");
  const char *src = g_getenv ("REFMASK_SOURCE_DIR");
  g_autofree char *dir = env && *env   ? g_strdup (env)
                         : src && *src ? g_build_filename (src, "..", "shared", NULL)
                                       : NULL;
  if (dir == NULL)
    return NULL;
  char *path = g_build_filename (dir, "golden", name, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      return NULL;
    }
  return path;
}

static const float *
golden_grad (void *user, const char *name, const RmTensor *param)
{
  const RmStTensor *t = rm_safetensors_lookup (user, name);
  return t != NULL ? t->data : NULL;
}

static void
test_golden_step (void)
{
  g_autofree char *wpath = golden_file ("weights.safetensors");
  g_autofree char *gpath = golden_file ("grads.safetensors");
  g_autofree char *apath = golden_file ("adamw_step1.safetensors");
  g_autofree char *mpath = golden_file ("manifest.json");
  if (wpath == NULL || gpath == NULL || apath == NULL || mpath == NULL)
    {
      g_test_skip ("the golden set (../shared/golden) is not there");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) w = rm_safetensors_open (wpath, &error);
  g_autoptr (RmSafetensors) grads = rm_safetensors_open (gpath, &error);
  g_autoptr (RmSafetensors) after = rm_safetensors_open (apath, &error);
  g_assert_no_error (error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, mpath, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  /* The trainable set and groups of every key of the official state dict. */
  JsonObject *sd = json_object_get_object_member (root, "state_dict");
  GList *keys = json_object_get_members (sd);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      JsonObject *e = json_object_get_object_member (sd, l->data);
      JsonNode *gn = json_object_get_member (e, "adamw_group");
      int group = JSON_NODE_HOLDS_NULL (gn) ? -1 : (int) json_node_get_int (gn);
      if (rm_param_is_trainable (l->data) != json_object_get_boolean_member (e, "requires_grad") ||
          rm_param_adamw_group (l->data, NULL) != group)
        g_test_fail_printf ("%s: trainable %d group %d, official %d / %d", (char *) l->data,
                            rm_param_is_trainable (l->data), rm_param_adamw_group (l->data, NULL),
                            json_object_get_boolean_member (e, "requires_grad"), group);
    }
  g_list_free (keys);

  /* One step from the official gradients: the official parameters, bit for bit. */
  RmAdamWGroup groups[2] = { rm_adamw_group_default (5e-5f), rm_adamw_group_default (1e-4f) };
  g_autoptr (RmAdamW) opt = rm_adamw_new (2, groups);
  g_autoptr (GPtrArray) params = g_ptr_array_new_with_free_func (g_free);
  for (size_t i = 0; i < rm_safetensors_count (after); i++)
    {
      const RmStTensor *ref = rm_safetensors_nth (after, i);
      const RmStTensor *p0 = rm_safetensors_lookup (w, ref->name);
      g_assert_nonnull (p0);
      RmTensor *p = g_malloc (sizeof (RmTensor) + p0->nbytes);
      rm_tensor_init (p, (float *) (p + 1), p0->ndim, p0->shape);
      memcpy (p->data, p0->data, p0->nbytes);
      g_ptr_array_add (params, p);
      rm_adamw_add_param (opt, ref->name, p, rm_param_adamw_group (ref->name, NULL));
    }
  rm_adamw_step (opt, golden_grad, grads);
  for (size_t i = 0; i < rm_safetensors_count (after); i++)
    {
      const RmStTensor *ref = rm_safetensors_nth (after, i);
      const RmTensor *p = g_ptr_array_index (params, i);
      if (memcmp (p->data, ref->data, ref->nbytes) != 0)
        g_test_fail_printf ("%s differs from torch's step", ref->name);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/adamw/against-double", test_against_double);
  g_test_add_func ("/adamw/first-step-sign", test_first_step_sign);
  g_test_add_func ("/adamw/state-roundtrip", test_state_roundtrip);
  g_test_add_func ("/adamw/params", test_params);
  g_test_add_func ("/adamw/golden-step", test_golden_step);
  return g_test_run ();
}
