/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-golden.h"
#include "rm-config.h"
#include "rm-error.h"
#include "rm-forward.h"
#include "rm-golden-train.h"
#include "rm-loss.h"
#include "rm-safetensors.h"
#include "rm-tape.h"

#include <math.h>
#include <string.h>

/* Activations: max |Δ| <= ACT_TOL * max(1, max |ref|). fp32 sums taken in another order (BLAS
 * blocking, tiled softmax) differ by a few ulps per op; 1e-4 leaves room for those to add up
 * over the network while catching any real mistake (a wrong eps, order or mask is >= 1e-3). */
#define ACT_TOL 1e-4
/* Pixels whose reference logit is this close to the 0.5 threshold may flip legitimately. */
#define THRESHOLD_BAND 1e-4

typedef struct
{
  const RmSafetensors *expected;
  GHashTable *seen; /* names compared */
  RmGoldenReport *report;
  FILE *out;
  bool verbose;
  const char *prefix; /* "" for the batched run, "single.exprN." for single runs */
  const char *only;   /* when set, compare only this name (the single runs) */
  /* the training references, or NULL */
  RmGoldenTrain *train;
} Comparison;

static void
record (Comparison *c, const char *name, const char *shape, double max_abs, double max_ref,
        bool shape_ok)
{
  double tol = ACT_TOL * fmax (1.0, max_ref);
  double ratio = shape_ok ? max_abs / tol : INFINITY;
  bool ok = shape_ok && ratio <= 1.0;
  c->report->n_checked++;
  if (!ok)
    c->report->n_failed++;
  if (ratio > c->report->worst_ratio || c->report->worst_name[0] == '\0')
    {
      c->report->worst_ratio = ratio;
      g_strlcpy (c->report->worst_name, name, sizeof c->report->worst_name);
    }
  if (c->verbose || !ok)
    fprintf (c->out, "%-4s %-36s %-18s max|Δ| %.3e  rel %.3e  tol %.1e  max|ref| %.3g\n",
             ok ? "ok" : "FAIL", name, shape, max_abs, max_abs / fmax (1.0, max_ref), tol, max_ref);
}

static void
compare_tap (void *user, const char *name, const RmTensor *t)
{
  Comparison *c = user;
  if (c->train != NULL && c->only == NULL)
    rm_golden_train_capture (c->train, name, t);
  /* The single-expression runs are stored as single.exprN.<name of the tap without its module>. */
  const char *base = c->only != NULL && strchr (name, '.') ? strchr (name, '.') + 1 : name;
  g_autofree char *full = g_strconcat (c->prefix, base, NULL);
  if (c->only != NULL && (strcmp (full, c->only) != 0 || strcmp (name, "dec.low_res_masks") != 0))
    return;
  const RmStTensor *ref = rm_safetensors_lookup (c->expected, full);
  if (ref == NULL || g_hash_table_contains (c->seen, full))
    return;
  g_hash_table_add (c->seen, g_strdup (full));
  char shape[64];
  rm_shape_str (t, shape, sizeof shape);
  bool shape_ok = ref->ndim == t->ndim && ref->dtype == RM_ST_F32;
  for (int i = 0; shape_ok && i < t->ndim; i++)
    shape_ok = ref->shape[i] == t->shape[i];
  if (!shape_ok)
    {
      fprintf (c->out, "FAIL %-36s shape %s, expected ndim %d\n", full, shape, ref->ndim);
      record (c, full, shape, INFINITY, 0, false);
      return;
    }
  const float *want = ref->data;
  double max_abs = 0, max_ref = 0;
  int64_t n = rm_tensor_numel (t);
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) t->data[i] - (double) want[i]);
      if (!(d <= max_abs)) /* NaN counts as infinitely wrong */
        max_abs = isnan (d) ? INFINITY : d;
      max_ref = fmax (max_ref, fabs ((double) want[i]));
    }
  record (c, full, shape, max_abs, max_ref, true);
}

static const RmStTensor *
require (const RmSafetensors *st, const char *name, RmStDtype dtype, int ndim, GError **error)
{
  const RmStTensor *t = rm_safetensors_get (st, name, error);
  if (t != NULL && (t->dtype != dtype || t->ndim != ndim))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_SHAPE, "%s: expected %s with %d dims", name,
                   rm_st_dtype_name (dtype), ndim);
      return NULL;
    }
  return t;
}

/* One image (1, 3, H, W) repeated batch times. */
static RmTensor *
repeat_image (RmCtx *ctx, const RmStTensor *img, int batch)
{
  RmTensor *one = rm_wrap (ctx, (float *) img->data, 4, img->shape);
  return rm_add (
      ctx, rm_zeros (ctx, 4, (int64_t[]){ batch, img->shape[1], img->shape[2], img->shape[3] }),
      one);
}

static void
compare_binary_mask (Comparison *c, const RmTensor *pred, const RmSafetensors *acts)
{
  const RmStTensor *bin = rm_safetensors_lookup (c->expected, "out.binary_mask");
  const RmStTensor *ref_logits = rm_safetensors_lookup (acts, "out.pred_masks");
  if (bin == NULL || ref_logits == NULL || (int64_t) bin->nbytes != rm_tensor_numel (pred))
    return;
  const uint8_t *want = bin->data;
  const float *ref = ref_logits->data;
  int64_t n = rm_tensor_numel (pred), flips = 0, in_band = 0;
  for (int64_t i = 0; i < n; i++)
    {
      bool near = fabs ((double) ref[i] - 0.5) < THRESHOLD_BAND;
      in_band += near;
      if ((pred->data[i] > 0.5f) != (want[i] != 0) && !near)
        flips++;
    }
  c->report->n_checked++;
  g_hash_table_add (c->seen, g_strdup ("out.binary_mask"));
  if (flips > 0)
    c->report->n_failed++;
  if (c->verbose || flips > 0)
    fprintf (c->out, "%-4s %-36s %lld pixel(s) differ outside the ±%.0e band (%lld in it)\n",
             flips ? "FAIL" : "ok", "out.binary_mask", (long long) flips, THRESHOLD_BAND,
             (long long) in_band);
}

/* The loss terms and their gradient w.r.t. the text weight, from our own forward outputs. */
static void
compare_loss (Comparison *c, const char *dir, const RmSafetensors *inputs,
              const RmForwardOutput *res, int batch)
{
  g_autofree char *tpath = g_build_filename (dir, "train.safetensors", NULL);
  if (!g_file_test (tpath, G_FILE_TEST_EXISTS))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) train = rm_safetensors_open (tpath, &error);
  const RmStTensor *target = rm_safetensors_lookup (inputs, "input.target");
  int64_t s = res->pred_masks->shape[2];
  if (train == NULL || target == NULL || target->dtype != RM_ST_U8 ||
      (int64_t) target->nbytes != batch * s * s)
    {
      fprintf (c->out, "FAIL train.safetensors / input.target unusable: %s\n",
               error ? error->message : "missing or misshapen input.target");
      c->report->n_checked++, c->report->n_failed++;
      return;
    }
  RmLossParams lp = rm_loss_default_params ();
  RmLossTerms terms;
  g_autofree float *dsen = g_new (float, batch);
  rm_refseg_loss (&lp, res->pred_masks->data, target->data, res->text_weight->data, batch, (int) s,
                  (int) s, &terms, NULL, dsen);
  const struct
  {
    const char *name;
    double v;
  } scalars[] = {
    { "loss.ce", terms.ce },
    { "loss.dice", terms.dice },
    { "loss.boundary", terms.boundary },
    { "loss.total", terms.total },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (scalars); i++)
    {
      const RmStTensor *ref = rm_safetensors_lookup (train, scalars[i].name);
      if (ref == NULL || ref->dtype != RM_ST_F32 || ref->nbytes != sizeof (float))
        continue;
      double want = *(const float *) ref->data;
      record (c, scalars[i].name, "[]", fabs (scalars[i].v - want), fabs (want), true);
    }
  const RmStTensor *ref = rm_safetensors_lookup (train, "dloss.evf.text2one_out");
  if (ref != NULL && ref->dtype == RM_ST_F32 && ref->nbytes == (size_t) batch * sizeof (float))
    {
      double max_abs = 0, max_ref = 0;
      for (int b = 0; b < batch; b++)
        {
          double want = ((const float *) ref->data)[b];
          max_abs = fmax (max_abs, fabs (dsen[b] - want));
          max_ref = fmax (max_ref, fabs (want));
        }
      record (c, "dloss.evf.text2one_out", "[B, 1, 1]", max_abs, max_ref, true);
    }
}

bool
rm_golden_check (const char *dir, const RmGoldenParams *params, RmGoldenReport *report,
                 GError **error)
{
  memset (report, 0, sizeof *report);
  FILE *out = params->out != NULL ? params->out : stdout;
  RmModelConfig cfg;
  g_autofree char *mpath = g_build_filename (dir, "manifest.json", NULL);
  if (!rm_model_config_load (&cfg, mpath, error))
    return false;

  g_autofree char *wpath = g_build_filename (dir, "weights.safetensors", NULL);
  g_autofree char *ipath = g_build_filename (dir, "inputs.safetensors", NULL);
  g_autofree char *apath = g_build_filename (dir, "activations.safetensors", NULL);
  RmWeights *weights = rm_weights_load (wpath, &cfg, error);
  if (weights == NULL)
    return false;
  /* Training references: the batched forward then runs on a tape, with the trainable weights
   * marked, and its backward and one AdamW step are checked too. */
  RmGoldenTrain *train = rm_golden_train_new (dir, error);
  if (train == NULL && error != NULL && *error != NULL)
    {
      rm_weights_free (weights);
      return false;
    }
  if (train != NULL)
    rm_weights_make_trainable (weights);
  RmModelCore core;
  rm_model_core_init (&core, &cfg, weights);
  g_autoptr (RmSafetensors) inputs = rm_safetensors_open (ipath, error);
  g_autoptr (RmSafetensors) acts = inputs ? rm_safetensors_open (apath, error) : NULL;
  const RmStTensor *sam_img = NULL, *beit_img = NULL, *ids_t = NULL, *mask_t = NULL;
  if (acts != NULL)
    {
      sam_img = require (inputs, "input.sam_image", RM_ST_F32, 4, error);
      beit_img = sam_img ? require (inputs, "input.beit_image", RM_ST_F32, 4, error) : NULL;
      ids_t = beit_img ? require (inputs, "input.input_ids", RM_ST_I64, 2, error) : NULL;
      mask_t = ids_t ? require (inputs, "input.attention_mask", RM_ST_U8, 2, error) : NULL;
    }
  if (mask_t == NULL || mask_t->shape[0] != ids_t->shape[0] || mask_t->shape[1] != ids_t->shape[1])
    {
      if (mask_t != NULL)
        g_set_error (error, RM_ERROR, RM_ERROR_SHAPE,
                     "input_ids and attention_mask differ in shape");
      rm_model_core_clear (&core);
      rm_golden_train_free (train);
      return false;
    }
  int batch = (int) ids_t->shape[0], len = (int) ids_t->shape[1];
  const int64_t *ids = ids_t->data;
  for (int64_t i = 0; i < (int64_t) batch * len; i++)
    if (ids[i] < 0 || ids[i] >= cfg.beit_vocab_size)
      {
        g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "token id %" G_GINT64_FORMAT " out of range",
                     ids[i]);
        rm_model_core_clear (&core);
        rm_golden_train_free (train);
        return false;
      }
  g_autofree uint8_t *pad = g_new (uint8_t, (size_t) batch * len);
  for (int64_t i = 0; i < (int64_t) batch * len; i++)
    pad[i] = ((const uint8_t *) mask_t->data)[i] == 0;

  Comparison c = {
    .expected = acts, .report = report, .out = out, .verbose = params->verbose, .prefix = ""
  };
  c.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  c.train = train;
  RmCtx *ctx = rm_ctx_new (params->n_threads);
  if (train != NULL)
    ctx->tape = rm_tape_new (); /* the train forward is the eval forward, recorded */
  RmForward fw = {
    .ctx = ctx, .core = &core, .tap = compare_tap, .tap_user = &c, .recompute = params->recompute
  };
  RmForwardInput in = { .sam_image = repeat_image (ctx, sam_img, batch),
                        .beit_image = repeat_image (ctx, beit_img, batch),
                        .ids = ids,
                        .pad = pad,
                        .batch = batch,
                        .text_len = len };
  RmForwardOutput res;
  rm_forward (&fw, &in, &res);
  compare_binary_mask (&c, res.pred_masks, acts);
  compare_loss (&c, dir, inputs, &res, batch);
  if (train != NULL)
    {
      const RmStTensor *target = rm_safetensors_lookup (inputs, "input.target");
      if (target != NULL && target->dtype == RM_ST_U8 &&
          (int64_t) target->nbytes == rm_tensor_numel (res.pred_masks))
        rm_golden_train_check (train, ctx, weights, &cfg, &res, target->data, batch, report, out,
                               params->verbose);
      else
        {
          fprintf (out, "FAIL input.target unusable for the gradient checks\n");
          report->n_checked++, report->n_failed++;
        }
      rm_tape_free (ctx->tape);
      ctx->tape = NULL;
      c.train = NULL;
    }

  /* Each expression alone, unpadded: what the product's segment path computes. */
  for (int b = 0; b < batch; b++)
    {
      g_autofree char *name = g_strdup_printf ("single.expr%d.low_res_masks", b);
      if (rm_safetensors_lookup (acts, name) == NULL)
        continue;
      int n = len;
      while (n > 0 && pad[b * len + n - 1])
        n--;
      rm_ctx_reset (ctx);
      g_autofree char *prefix = g_strdup_printf ("single.expr%d.", b);
      c.prefix = prefix;
      c.only = name;
      RmForwardInput one = { .sam_image = repeat_image (ctx, sam_img, 1),
                             .beit_image = repeat_image (ctx, beit_img, 1),
                             .ids = ids + (int64_t) b * len,
                             .pad = pad + (int64_t) b * len,
                             .batch = 1,
                             .text_len = n };
      rm_forward (&fw, &one, &res);
    }

  /* Everything the set holds must have been produced. */
  for (size_t i = 0; i < rm_safetensors_count (acts); i++)
    {
      const RmStTensor *t = rm_safetensors_nth (acts, i);
      if (!g_hash_table_contains (c.seen, t->name))
        {
          fprintf (out, "FAIL %-36s expected by the set but never computed\n", t->name);
          report->n_checked++;
          report->n_failed++;
        }
    }
  fprintf (out, "%d tensors checked, %d failed; worst: %s at %.3f of its tolerance\n",
           report->n_checked, report->n_failed, report->worst_name, report->worst_ratio);
  g_hash_table_unref (c.seen);
  rm_ctx_free (ctx);
  rm_model_core_clear (&core);
  rm_golden_train_free (train);
  return true;
}

RmGoldenParams
rm_golden_default_params (void)
{
  return (RmGoldenParams){ .n_threads = 1, .verbose = false, .out = NULL, .recompute = false };
}
