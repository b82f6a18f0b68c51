/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-golden-train.h"

#include "rm-adamw.h"
#include "rm-autograd.h"
#include "rm-error.h"
#include "rm-loss.h"
#include "rm-params.h"
#include "rm-safetensors.h"
#include "rm-tape.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* ---- tolerances --------------------------------------------------------------------------
 *
 * Gradients (dloss.* and every parameter): max |Δ| <= GRAD_RTOL * max(max |ref| of the tensor,
 * GRAD_FLOOR * largest |ref| of its file). Our backward sums in another order than PyTorch's
 * (blocked GEMMs with K splits, attention recomputed block by block, reductions in double, fp32
 * everywhere else): a few ulps per op, amplified along the chain as in the forward (whose
 * activations agree to ~1e-5 of their scale). Measured on this set: dloss.* within 1.1e-6 of
 * their scale, parameter gradients typically 1e-6..5e-6, worst 2.3e-5 (the decoder's final
 * token-to-image attention, where dS = P (dP - rowsum(dO O)) cancels), i.e. 1e-4 leaves a margin
 * of >= 4 everywhere, while a wrong term (a missing 1/n, a transposed weight, a wrong mask, a
 * dropped path) is >= 1e-2. The floor keeps a tensor whose gradient is pure rounding noise from
 * demanding agreement below fp32 resolution of the terms it was summed from.
 */
#define GRAD_RTOL  1e-4
#define GRAD_FLOOR 1e-4

/* The key projection's bias of a softmax attention has an exactly zero gradient (adding q.b to
 * every score of a query leaves its softmax unchanged): both sides hold only the rounding noise of
 * sum_j dS_ij q_i, terms of the size of those of the key weight's gradient. Its tolerance is
 * taken relative to that weight's gradient (measured: ours and PyTorch's noise ~1e-5 of it). */
static double
zero_gradient_scale (const RmSafetensors *grads, const char *key)
{
  if (!g_str_has_suffix (key, ".k_proj.bias"))
    return 0.0;
  g_autofree char *wkey = g_strndup (key, strlen (key) - strlen ("bias"));
  g_autofree char *full = g_strconcat (wkey, "weight", NULL);
  const RmStTensor *w = rm_safetensors_lookup (grads, full);
  double s = 0.0;
  for (uint64_t i = 0; w != NULL && w->dtype == RM_ST_F32 && i < rm_st_tensor_numel (w); i++)
    s = fmax (s, fabs ((double) ((const float *) w->data)[i]));
  return s;
}

/* One AdamW step: p1 = p (1 - lr wd) - lr m^/(sqrt(v^) + eps); at step 1 m^ = g and
 * sqrt(v^) = |g|, so the step is lr g / (|g| + 1e-8) ~ lr sign(g). Where |g_ref| > ADAM_G_MIN,
 * a relative gradient error of 1e-4 moves that ratio by < 1e-4 * 1e-8 / ADAM_G_MIN, i.e. the
 * update by < lr * 1e-6: the parameters must agree to ADAM_ATOL (a few fp32 ulps of |p| <= ~1
 * plus that) -- the same 1e-7 the README suggests. Where |g_ref| <= ADAM_G_MIN the ratio is
 * decided by the gradient's sign and size at the noise level (many exact zeros: unused embedding
 * rows, the masks 1-3 heads) and may legitimately differ by up to 2 lr (+ the ulps). */
#define ADAM_G_MIN 1e-6
#define ADAM_ATOL  1e-7
/* With the reference gradients as input our step must be torch's to the last bit or so: the
 * scalars are formed as Python does and the element expressions keep torch's kernel order; 1 ulp
 * allows for a compiler fusing differently. Counted in ulps of the reference value. */
#define ADAM_REF_MAX_ULP 1

/* The tensors whose gradient train.safetensors holds, as the forward's tap names them. */
static const char *const dloss_names[] = {
  "evf.text2one_out",        "dec.low_res_masks", "prompt.dense",
  "mpg.mask_prompt",         "sam.image_embed",   "evf.text_feat_linear_out",
  "evf.text_hidden_fcs_out", "beit.encoder_out",
};
#define N_DLOSS G_N_ELEMENTS (dloss_names)

struct RmGoldenTrain
{
  RmSafetensors *train, *grads, *adamw;
  JsonParser *manifest;
  const RmTensor *captured[N_DLOSS];
};

RmGoldenTrain *
rm_golden_train_new (const char *dir, GError **error)
{
  g_autofree char *gpath = g_build_filename (dir, "grads.safetensors", NULL);
  if (!g_file_test (gpath, G_FILE_TEST_EXISTS))
    return NULL;
  g_autofree char *tpath = g_build_filename (dir, "train.safetensors", NULL);
  g_autofree char *apath = g_build_filename (dir, "adamw_step1.safetensors", NULL);
  g_autofree char *mpath = g_build_filename (dir, "manifest.json", NULL);
  RmGoldenTrain *t = g_new0 (RmGoldenTrain, 1);
  t->manifest = json_parser_new ();
  if ((t->grads = rm_safetensors_open (gpath, error)) == NULL ||
      (t->train = rm_safetensors_open (tpath, error)) == NULL ||
      (t->adamw = rm_safetensors_open (apath, error)) == NULL ||
      !json_parser_load_from_file (t->manifest, mpath, error))
    {
      rm_golden_train_free (t);
      return NULL;
    }
  return t;
}

void
rm_golden_train_free (RmGoldenTrain *t)
{
  if (t == NULL)
    return;
  g_clear_pointer (&t->train, rm_safetensors_close);
  g_clear_pointer (&t->grads, rm_safetensors_close);
  g_clear_pointer (&t->adamw, rm_safetensors_close);
  g_clear_object (&t->manifest);
  g_free (t);
}

void
rm_golden_train_capture (RmGoldenTrain *t, const char *name, const RmTensor *tensor)
{
  for (size_t i = 0; i < N_DLOSS; i++)
    if (strcmp (name, dloss_names[i]) == 0 && t->captured[i] == NULL)
      t->captured[i] = tensor;
}

/* ---- reporting --------------------------------------------------------------------------- */

typedef struct
{
  RmGoldenReport *report;
  FILE *out;
  bool verbose;
} Out;

static void
count (Out *o, const char *name, double ratio, bool ok)
{
  o->report->n_checked++;
  if (!ok)
    o->report->n_failed++;
  if (ratio > o->report->worst_ratio || o->report->worst_name[0] == '\0')
    {
      o->report->worst_ratio = ratio;
      g_strlcpy (o->report->worst_name, name, sizeof o->report->worst_name);
    }
}

/* One tensor against its reference: max |Δ| over the elements (NaN counts as infinite). */
static void
max_diff (const float *got, const float *want, int64_t n, double *max_abs, double *max_ref)
{
  *max_abs = 0;
  *max_ref = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) got[i] - (double) want[i]);
      if (!(d <= *max_abs))
        *max_abs = isnan (d) ? INFINITY : d;
      *max_ref = fmax (*max_ref, fabs ((double) want[i]));
    }
}

static double
file_scale (const RmSafetensors *st, const char *prefix)
{
  double s = 0;
  for (size_t i = 0; i < rm_safetensors_count (st); i++)
    {
      const RmStTensor *t = rm_safetensors_nth (st, i);
      if (t->dtype != RM_ST_F32 || !g_str_has_prefix (t->name, prefix))
        continue;
      for (uint64_t j = 0; j < rm_st_tensor_numel (t); j++)
        s = fmax (s, fabs ((double) ((const float *) t->data)[j]));
    }
  return s;
}

/* Families of parameters, for the summary lines. */
static const char *
family_of (const char *key)
{
  static const struct
  {
    const char *prefix, *family;
  } map[] = {
    { "mm_extractor.", "beit3" },
    { "visual_model.image_encoder.trunk.", "hiera.adapters" },
    { "visual_model.sam_mask_decoder.", "sam.decoder" },
    { "visual_model.sam_prompt_encoder.", "sam.prompt_encoder" },
    { "visual_model.", "sam.other" },
    { "vmtoken.", "mpg" },
    { "mask_linear.", "mpg" },
    { "mask_product.", "mpg" },
    { "text_hidden_fcs.", "text_heads" },
    { "text_feat_linear.", "text_heads" },
    { "text2one_linear.", "text_heads" },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_has_prefix (key, map[i].prefix))
      return map[i].family;
  return "other";
}

#define MAX_FAMILIES 12

typedef struct
{
  const char *name;
  int n, n_failed;
  double worst_ratio, worst_abs, worst_ref, worst_tol;
  char worst_key[160];
} Family;

typedef struct
{
  Family f[MAX_FAMILIES];
  int n;
} Families;

static Family *
family_get (Families *fs, const char *name)
{
  for (int i = 0; i < fs->n; i++)
    if (strcmp (fs->f[i].name, name) == 0)
      return &fs->f[i];
  RM_CHECK (fs->n < MAX_FAMILIES, "too many families");
  Family *f = &fs->f[fs->n++];
  memset (f, 0, sizeof *f);
  f->name = name;
  return f;
}

static void
family_add (Families *fs, const char *key, double max_abs, double max_ref, double tol, bool ok)
{
  Family *f = family_get (fs, family_of (key));
  double ratio = tol > 0 ? max_abs / tol : (max_abs > 0 ? INFINITY : 0);
  f->n++;
  f->n_failed += !ok;
  if (ratio >= f->worst_ratio || f->worst_key[0] == '\0')
    {
      f->worst_ratio = ratio;
      f->worst_abs = max_abs;
      f->worst_ref = max_ref;
      f->worst_tol = tol;
      g_strlcpy (f->worst_key, key, sizeof f->worst_key);
    }
}

static void
family_print (Out *o, const char *what, const Families *fs)
{
  for (int i = 0; i < fs->n; i++)
    {
      const Family *f = &fs->f[i];
      if (!o->verbose && f->n_failed == 0)
        continue;
      g_autofree char *label = g_strdup_printf ("%s.%s", what, f->name);
      fprintf (
          o->out,
          "%-4s %-36s %3d tensors, %d failed; worst max|Δ| %.3e  tol %.1e  (%.3f of it)  max|ref| "
          "%.3g  %s\n",
          f->n_failed ? "FAIL" : "ok", label, f->n, f->n_failed, f->worst_abs, f->worst_tol,
          f->worst_ratio, f->worst_ref, f->worst_key);
    }
}

/* ---- the manifest ------------------------------------------------------------------------- */

static JsonObject *
object_member (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_object_member (o, name)
                                                       : NULL;
}

static JsonArray *
array_member (JsonObject *o, const char *name)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_array_member (o, name)
                                                       : NULL;
}

static double
double_member (JsonObject *o, const char *name, double fallback)
{
  return o != NULL && json_object_has_member (o, name) ? json_object_get_double_member (o, name)
                                                       : fallback;
}

/* The manifest's lr_bifit_names as a NULL-terminated vector (NULL: use the default list). */
static char **
bifit_names (JsonObject *opt)
{
  JsonArray *a = array_member (opt, "lr_bifit_names");
  if (a == NULL)
    return NULL;
  char **v = g_new0 (char *, json_array_get_length (a) + 1);
  for (guint i = 0; i < json_array_get_length (a); i++)
    v[i] = g_strdup (json_array_get_string_element (a, i));
  return v;
}

/* rm_param_is_trainable / rm_param_adamw_group against every state-dict key of the manifest,
 * and the default keyword list against the manifest's. */
static void
check_param_rules (Out *o, JsonObject *root, const char *const *bifit)
{
  JsonObject *sd = object_member (root, "state_dict");
  int n = 0, bad = 0;
  GList *keys = sd != NULL ? json_object_get_members (sd) : NULL;
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonObject *e = json_object_get_object_member (sd, key);
      bool want_train = json_object_get_boolean_member_with_default (e, "requires_grad", false);
      JsonNode *gn = json_object_get_member (e, "adamw_group");
      int want_group = gn != NULL && !JSON_NODE_HOLDS_NULL (gn) ? (int) json_node_get_int (gn) : -1;
      n++;
      if (rm_param_is_trainable (key) != want_train ||
          rm_param_adamw_group (key, bifit) != want_group)
        {
          if (bad++ < 5)
            fprintf (o->out, "FAIL %-36s trainable %d group %d, manifest says %d / %d\n", key,
                     rm_param_is_trainable (key), rm_param_adamw_group (key, bifit), want_train,
                     want_group);
        }
    }
  g_list_free (keys);
  /* The built-in default list must be the official one. */
  JsonArray *names =
      array_member (object_member (object_member (root, "config"), "optimizer"), "lr_bifit_names");
  bool list_ok = names != NULL;
  guint len = 0;
  while (rm_lr_bifit_names_default[len] != NULL)
    len++;
  list_ok = list_ok && json_array_get_length (names) == len;
  for (guint i = 0; list_ok && i < len; i++)
    list_ok = strcmp (json_array_get_string_element (names, i), rm_lr_bifit_names_default[i]) == 0;
  bool ok = n > 0 && bad == 0 && list_ok;
  count (o, "params.trainable_and_groups", ok ? 0.0 : INFINITY, ok);
  if (o->verbose || !ok)
    fprintf (o->out, "%-4s %-36s %d keys, %d disagree; default lr_bifit_names %s\n",
             ok ? "ok" : "FAIL", "params.trainable_and_groups", n, bad,
             list_ok ? "match" : "DIFFER");
}

/* ---- the checks ---------------------------------------------------------------------------- */

typedef struct
{
  const RmWeights *weights;
  const RmGrad *grad;
  GHashTable *key_of; /* leaf tensor -> key */
} GradLookup;

static void
map_leaf (void *user, const char *key, const RmTensor *t)
{
  g_hash_table_insert (user, (gpointer) t, g_strdup (key)); /* key is a temporary */
}

static void
check_extra_leaf (void *user, const RmTensor *leaf, const float *grad)
{
  void **args = user;
  GradLookup *gl = args[0];
  Out *o = args[1];
  RmGoldenTrain *t = args[2];
  const char *key = g_hash_table_lookup (gl->key_of, leaf);
  if (key == NULL || rm_safetensors_lookup (t->grads, key) == NULL)
    {
      fprintf (o->out, "FAIL %-36s got a gradient the official code does not give\n",
               key != NULL ? key : "(a tensor that is no weight)");
      count (o, key != NULL ? key : "?", INFINITY, false);
    }
}

typedef struct
{
  const RmGrad *grad;
  const RmWeights *weights;
  const RmSafetensors *ref_grads; /* non-NULL: use these instead */
} AdamGrads;

static const float *
adam_grad (void *user, const char *name, const RmTensor *param)
{
  AdamGrads *a = user;
  if (a->ref_grads != NULL)
    {
      const RmStTensor *t = rm_safetensors_lookup (a->ref_grads, name);
      return t != NULL ? t->data : NULL;
    }
  return rm_grad_get (a->grad, rm_weights_lookup (a->weights, name));
}

static int64_t
ulp_distance (float a, float b)
{
  int32_t ia, ib;
  memcpy (&ia, &a, 4);
  memcpy (&ib, &b, 4);
  if (ia < 0)
    ia = INT32_MIN - ia;
  if (ib < 0)
    ib = INT32_MIN - ib;
  return llabs ((long long) ia - (long long) ib);
}

/* One AdamW step with the official settings on copies of the reached parameters; returns the
 * updated copies by key. */
static GHashTable *
adamw_step_copies (RmGoldenTrain *t, const RmWeights *weights, JsonObject *opt,
                   const char *const *bifit, AdamGrads *grads)
{
  const float lr = (float) double_member (opt, "lr", 5e-5);
  const float lr_bifit = (float) double_member (opt, "lr_bifit", 1e-4);
  RmAdamWGroup groups[2] = { rm_adamw_group_default (lr), rm_adamw_group_default (lr_bifit) };
  JsonArray *betas = array_member (opt, "betas");
  for (int gi = 0; gi < 2; gi++)
    {
      if (betas != NULL && json_array_get_length (betas) == 2)
        {
          groups[gi].beta1 = (float) json_array_get_double_element (betas, 0);
          groups[gi].beta2 = (float) json_array_get_double_element (betas, 1);
        }
      groups[gi].eps = (float) double_member (opt, "eps", 1e-8);
      groups[gi].weight_decay = (float) double_member (opt, "weight_decay", 0.01);
    }
  g_autoptr (RmAdamW) adam = rm_adamw_new (2, groups);
  GHashTable *copies = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
  for (size_t i = 0; i < rm_safetensors_count (t->adamw); i++)
    {
      const char *key = rm_safetensors_nth (t->adamw, i)->name;
      const RmTensor *w = rm_weights_lookup (weights, key);
      int group = rm_param_adamw_group (key, bifit);
      if (w == NULL || group < 0)
        continue;
      RmTensor *copy = g_malloc (sizeof (RmTensor) + (size_t) rm_tensor_numel (w) * sizeof (float));
      rm_tensor_init (copy, (float *) (copy + 1), w->ndim, w->shape);
      memcpy (copy->data, w->data, (size_t) rm_tensor_numel (w) * sizeof (float));
      rm_adamw_add_param (adam, key, copy, group);
      g_hash_table_insert (copies, (gpointer) key, copy);
    }
  rm_adamw_step (adam, adam_grad, grads);
  return copies;
}

static void
check_adamw (Out *o, RmGoldenTrain *t, const RmWeights *weights, JsonObject *opt,
             const char *const *bifit, const RmGrad *grad)
{
  const float lr_max =
      (float) fmax (double_member (opt, "lr", 5e-5), double_member (opt, "lr_bifit", 1e-4));
  /* Our gradients: the README's rule. */
  AdamGrads ours = { .grad = grad, .weights = weights };
  g_autoptr (GHashTable) mine = adamw_step_copies (t, weights, opt, bifit, &ours);
  Families fams = { 0 };
  int64_t n_tiny = 0, n_tiny_moved = 0;
  for (size_t i = 0; i < rm_safetensors_count (t->adamw); i++)
    {
      const RmStTensor *ref = rm_safetensors_nth (t->adamw, i);
      const RmStTensor *gref = rm_safetensors_lookup (t->grads, ref->name);
      RmTensor *p = g_hash_table_lookup (mine, ref->name);
      if (p == NULL || gref == NULL || rm_st_tensor_numel (gref) != rm_st_tensor_numel (ref) ||
          (uint64_t) rm_tensor_numel (p) != rm_st_tensor_numel (ref))
        {
          fprintf (o->out, "FAIL adamw %-31s not stepped (no parameter, gradient or group)\n",
                   ref->name);
          count (o, ref->name, INFINITY, false);
          continue;
        }
      const float *want = ref->data, *g = gref->data;
      const double lr = rm_param_adamw_group (ref->name, bifit) == 1
                            ? double_member (opt, "lr_bifit", 1e-4)
                            : double_member (opt, "lr", 5e-5);
      double worst = 0, worst_abs = 0, worst_tol = ADAM_ATOL, max_ref = 0;
      for (int64_t j = 0; j < rm_tensor_numel (p); j++)
        {
          const bool tiny = fabs ((double) g[j]) <= ADAM_G_MIN;
          const double tol = tiny ? 2.0 * lr + ADAM_ATOL : ADAM_ATOL;
          const double d = fabs ((double) p->data[j] - (double) want[j]);
          n_tiny += tiny;
          n_tiny_moved += tiny && d > ADAM_ATOL;
          max_ref = fmax (max_ref, fabs ((double) want[j]));
          const double r = isnan (d) ? INFINITY : d / tol;
          if (r > worst)
            worst = r, worst_abs = d, worst_tol = tol;
        }
      family_add (&fams, ref->name, worst_abs, max_ref, worst_tol, worst <= 1.0);
      count (o, ref->name, worst, worst <= 1.0);
      if (worst > 1.0)
        fprintf (o->out, "FAIL adamw %-31s max|Δ| %.3e  tol %.1e\n", ref->name, worst_abs,
                 worst_tol);
    }
  family_print (o, "adamw", &fams);
  if (o->verbose)
    fprintf (o->out,
             "     %-36s %" G_GINT64_FORMAT " elements with |g_ref| <= %.0e, %" G_GINT64_FORMAT
             " of them off by more than %.0e (allowed up to 2 lr = %.1e)\n",
             "adamw.tiny_gradients", n_tiny, ADAM_G_MIN, n_tiny_moved, ADAM_ATOL, 2.0 * lr_max);
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, mine);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_free (v);

  /* The reference gradients: the optimizer alone, to the last bit. */
  AdamGrads refg = { .ref_grads = t->grads };
  g_autoptr (GHashTable) exact = adamw_step_copies (t, weights, opt, bifit, &refg);
  int64_t max_ulp = 0;
  const char *max_key = "";
  int64_t n_el = 0;
  for (size_t i = 0; i < rm_safetensors_count (t->adamw); i++)
    {
      const RmStTensor *ref = rm_safetensors_nth (t->adamw, i);
      RmTensor *p = g_hash_table_lookup (exact, ref->name);
      if (p == NULL || (uint64_t) rm_tensor_numel (p) != rm_st_tensor_numel (ref))
        continue;
      for (int64_t j = 0; j < rm_tensor_numel (p); j++, n_el++)
        {
          int64_t u = ulp_distance (p->data[j], ((const float *) ref->data)[j]);
          if (u > max_ulp)
            max_ulp = u, max_key = ref->name;
        }
    }
  bool ok = max_ulp <= ADAM_REF_MAX_ULP && n_el > 0;
  count (o, "adamw.with_reference_grads", (double) max_ulp / ADAM_REF_MAX_ULP, ok);
  if (o->verbose || !ok)
    fprintf (o->out,
             "%-4s %-36s %" G_GINT64_FORMAT " elements, max %" G_GINT64_FORMAT " ulp (tol %d) %s\n",
             ok ? "ok" : "FAIL", "adamw.with_reference_grads", n_el, max_ulp, ADAM_REF_MAX_ULP,
             max_key);
  g_hash_table_iter_init (&it, exact);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_free (v);
}

void
rm_golden_train_check (RmGoldenTrain *t, RmCtx *ctx, const RmWeights *weights,
                       const RmModelConfig *cfg, const RmForwardOutput *res, const uint8_t *target,
                       int batch, RmGoldenReport *report, FILE *out, bool verbose)
{
  Out o = { report, out, verbose };
  JsonObject *root = json_node_get_object (json_parser_get_root (t->manifest));
  JsonObject *opt = object_member (object_member (root, "config"), "optimizer");
  g_auto (GStrv) bifit_v = bifit_names (opt);
  const char *const *bifit = (const char *const *) bifit_v;

  check_param_rules (&o, root, bifit);

  /* The loss and its gradient w.r.t. the two outputs it reads. */
  const int64_t s = res->pred_masks->shape[2];
  RmLossParams lp = rm_loss_default_params ();
  RmLossTerms terms;
  float *dz =
      rm_arena_alloc (ctx->arena, (size_t) rm_tensor_numel (res->pred_masks) * sizeof (float));
  float *dsen = rm_arena_alloc (ctx->arena, (size_t) batch * sizeof (float));
  rm_refseg_loss (&lp, res->pred_masks->data, target, res->text_weight->data, batch, (int) s,
                  (int) s, &terms, dz, dsen);
  const RmTensor *seeds[2] = { res->pred_masks, res->text_weight };
  const float *seed_grads[2] = { dz, dsen };
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (RmGrad) grad = rm_backward (ctx, 2, seeds, seed_grads, &error);
  gint64 t1 = g_get_monotonic_time ();
  if (grad == NULL)
    {
      fprintf (out, "FAIL backward: %s\n", error->message);
      count (&o, "backward", INFINITY, false);
      return;
    }
  if (verbose)
    fprintf (out, "     %-36s %zu ops on the tape, %.0f ms\n", "backward", rm_tape_len (ctx->tape),
             (double) (t1 - t0) / 1000.0);

  /* d loss / d intermediate tensors. */
  const double dloss_scale = file_scale (t->train, "dloss.");
  for (size_t i = 0; i < N_DLOSS; i++)
    {
      /* d loss / d text weight is the seed itself, compared by rm-golden.c's compare_loss. */
      if (strcmp (dloss_names[i], "evf.text2one_out") == 0)
        continue;
      g_autofree char *name = g_strconcat ("dloss.", dloss_names[i], NULL);
      const RmStTensor *ref = rm_safetensors_lookup (t->train, name);
      if (ref == NULL)
        continue;
      const RmTensor *x = t->captured[i];
      const float *gx = x != NULL ? rm_grad_get (grad, x) : NULL;
      if (gx == NULL || ref->dtype != RM_ST_F32 ||
          rm_st_tensor_numel (ref) != (uint64_t) rm_tensor_numel (x))
        {
          fprintf (out, "FAIL %-36s %s\n", name,
                   x == NULL    ? "tensor never tapped"
                   : gx == NULL ? "no gradient reached it"
                                : "size differs");
          count (&o, name, INFINITY, false);
          continue;
        }
      double max_abs, max_ref;
      max_diff (gx, ref->data, rm_tensor_numel (x), &max_abs, &max_ref);
      const double tol = GRAD_RTOL * fmax (max_ref, GRAD_FLOOR * dloss_scale);
      const bool ok = max_abs <= tol;
      count (&o, name, max_abs / tol, ok);
      if (verbose || !ok)
        {
          char shape[64];
          fprintf (out, "%-4s %-36s %-18s max|Δ| %.3e  rel %.3e  tol %.1e  max|ref| %.3g\n",
                   ok ? "ok" : "FAIL", name, rm_shape_str (x, shape, sizeof shape), max_abs,
                   max_abs / fmax (max_ref, 1e-30), tol, max_ref);
        }
    }

  /* Every parameter gradient. */
  const double grad_scale = file_scale (t->grads, "");
  Families fams = { 0 };
  for (size_t i = 0; i < rm_safetensors_count (t->grads); i++)
    {
      const RmStTensor *ref = rm_safetensors_nth (t->grads, i);
      const RmTensor *w = rm_weights_lookup (weights, ref->name);
      const float *gw = w != NULL ? rm_grad_get (grad, w) : NULL;
      if (gw == NULL || ref->dtype != RM_ST_F32 ||
          rm_st_tensor_numel (ref) != (uint64_t) rm_tensor_numel (w))
        {
          fprintf (out, "FAIL grad %-32s %s\n", ref->name,
                   w == NULL    ? "no such weight"
                   : gw == NULL ? "no gradient"
                                : "size differs");
          family_add (&fams, ref->name, INFINITY, 0, 0, false);
          count (&o, ref->name, INFINITY, false);
          continue;
        }
      double max_abs, max_ref;
      max_diff (gw, ref->data, rm_tensor_numel (w), &max_abs, &max_ref);
      const double tol =
          GRAD_RTOL *
          fmax (fmax (max_ref, zero_gradient_scale (t->grads, ref->name)), GRAD_FLOOR * grad_scale);
      const bool ok = max_abs <= tol;
      family_add (&fams, ref->name, max_abs, max_ref, tol, ok);
      count (&o, ref->name, max_abs / tol, ok);
      if (!ok)
        fprintf (out, "FAIL grad %-32s max|Δ| %.3e  rel %.3e  tol %.1e  max|ref| %.3g\n", ref->name,
                 max_abs, max_abs / fmax (max_ref, 1e-30), tol, max_ref);
    }
  family_print (&o, "grad", &fams);

  /* No gradient where the official code has none: the manifest's grad-None trainables (unused
   * modules, the last block's text path), the frozen trunk, and nothing beyond grads.safetensors.
   */
  GradLookup gl = { weights, grad,
                    g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free) };
  int n_none = 0, bad_none = 0;
  JsonObject *tr = object_member (root, "trainable");
  static const char *const lists[] = { "grad_none", "frozen" };
  for (size_t li = 0; li < G_N_ELEMENTS (lists); li++)
    {
      JsonArray *a = array_member (tr, lists[li]);
      for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
        {
          const char *key = json_array_get_string_element (a, i);
          const RmTensor *w = rm_weights_lookup (weights, key);
          n_none++;
          if (w != NULL && rm_grad_get (grad, w) != NULL)
            {
              bad_none++;
              fprintf (out, "FAIL %-36s has a gradient (official: %s)\n", key,
                       li == 0 ? "None" : "frozen");
            }
        }
    }
  count (&o, "grad.none", bad_none ? INFINITY : 0.0, bad_none == 0 && n_none > 0);
  if (verbose || bad_none)
    fprintf (out, "%-4s %-36s %d grad-None or frozen keys, %d got a gradient\n",
             bad_none ? "FAIL" : "ok", "grad.none_and_frozen", n_none, bad_none);
  rm_weights_foreach (weights, cfg, map_leaf, gl.key_of);
  void *args[3] = { &gl, &o, t };
  rm_grad_foreach_leaf (grad, check_extra_leaf, args);
  g_hash_table_unref (gl.key_of);

  check_adamw (&o, t, weights, opt, bifit, grad);
}
