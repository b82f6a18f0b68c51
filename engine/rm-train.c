/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-train.h"
#include "rm-adamw.h"
#include "rm-augment.h"
#include "rm-autograd.h"
#include "rm-config.h"
#include "rm-dataset.h"
#include "rm-eval.h"
#include "rm-model-internal.h"
#include "rm-params.h"
#include "rm-tape.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define STATE_FILE            "train-state.safetensors"
#define LOG_FILE              "train-log.jsonl"
#define BLACK_SQUARE_FRACTION 0.2

RmTrainParams
rm_train_default_params (void)
{
  return (RmTrainParams){
    .split = "train",
    .epochs = 1,
    .accum = 8,
    .lr = 5e-5f,
    .lr_bifit = 1e-4f,
    .weight_decay = 0.01f,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .eps = 1e-8f,
    .seed = 2401,
    .checkpoint_every = 100,
    .recompute = false,
  };
}

/* Everything one run holds. */
typedef struct
{
  const RmTrainParams *p;
  RmModel *model;
  RmModelCore *core;
  RmCtx *ctx;
  RmAdamW *opt;
  GHashTable *acc;   /* key -> float* summed gradient of the current step */
  GPtrArray *params; /* keys of trainable tensors (owned by the weights table) */
  RmDataset *train, *val;
  GArray *order;  /* sample indices of the current epoch */
  uint8_t *black; /* per sample: gets the black squares (fixed at start) */
  RmRng rng;
  int64_t step, total_steps, cursor;
  int epoch;
  FILE *log;
  GHashTable *images; /* path -> RmImage*, decoded once */
} Trainer;

/* ---- data --------------------------------------------------------------------------------- */

static void
shuffle_epoch (Trainer *t)
{
  g_array_set_size (t->order, t->train->samples->len);
  for (guint i = 0; i < t->order->len; i++)
    g_array_index (t->order, guint, i) = i;
  for (guint i = t->order->len; i > 1; i--)
    {
      guint j = (guint) rm_rng_range (&t->rng, 0, i - 1);
      guint tmp = g_array_index (t->order, guint, i - 1);
      g_array_index (t->order, guint, i - 1) = g_array_index (t->order, guint, j);
      g_array_index (t->order, guint, j) = tmp;
    }
}

static const RmImage *
cached_image (Trainer *t, const char *path, GError **error)
{
  RmImage *img = g_hash_table_lookup (t->images, path);
  if (img == NULL)
    {
      img = rm_image_load (path, NULL, error);
      if (img != NULL)
        g_hash_table_insert (t->images, g_strdup (path), img);
    }
  return img;
}

typedef struct
{
  float *sam, *beit; /* normalised NCHW inputs */
  uint8_t *target;   /* S x S in {0, 1} */
  int64_t *ids;
  size_t n_ids;
} Example;

static void
example_clear (Example *e)
{
  g_free (e->sam), g_free (e->beit), g_free (e->target), g_free (e->ids);
  memset (e, 0, sizeof *e);
}

/* One training example as the official dataset builds it (spec §1.1), after augmentation. */
static gboolean
make_example (Trainer *t, guint index, Example *e, GError **error)
{
  const RmSample *s = g_ptr_array_index (t->train->samples, index);
  const RmImage *orig = cached_image (t, s->image_path, error);
  if (orig == NULL)
    return FALSE;
  int mw, mh;
  g_autofree uint8_t *mask = rm_sample_load_mask (s, &mw, &mh, error);
  if (mask == NULL)
    return FALSE;
  if (mw != orig->width || mh != orig->height)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "%s: mask is %dx%d, image %dx%d", s->mask_path,
                   mw, mh, orig->width, orig->height);
      return FALSE;
    }
  g_autoptr (RmImage) img = rm_image_new (orig->width, orig->height, 3);
  memcpy (img->pixels, orig->pixels, (size_t) orig->width * orig->height * 3);
  g_autofree char *text = g_strdup (s->expression);
  if (t->p->flips)
    for (int axis = 0; axis < 2; axis++)
      if (rm_rng_uniform (&t->rng) < 0.5)
        {
          bool horizontal = axis == 0;
          rm_image_mirror (img, horizontal);
          rm_mask_mirror (mask, mw, mh, horizontal);
          char *mirrored = rm_expression_mirror (text, horizontal);
          g_free (text);
          text = mirrored;
        }
  if (t->p->black_squares && t->black[index])
    rm_augment_black_squares (img, &t->rng, 20, 60, 32);

  const RmModelConfig *cfg = &t->core->cfg;
  e->sam = rm_image_preprocess_nchw (img, cfg->sam_image_size);
  e->beit = rm_image_preprocess_nchw (img, cfg->beit_image_size);
  g_autoptr (RmImage) m = rm_image_new (mw, mh, 1);
  memcpy (m->pixels, mask, (size_t) mw * mh);
  g_autoptr (RmImage) small = rm_image_resize_nearest (m, cfg->sam_image_size, cfg->sam_image_size);
  e->target = g_memdup2 (small->pixels, (size_t) cfg->sam_image_size * cfg->sam_image_size);
  e->ids = rm_tokenizer_encode (rm_model_get_tokenizer (t->model), text,
                                (size_t) cfg->beit_max_text_positions - 2, &e->n_ids, error);
  return e->ids != NULL;
}

/* ---- one micro-batch ---------------------------------------------------------------------- */

static void
accumulate (Trainer *t, const RmGrad *g)
{
  for (guint i = 0; i < t->params->len; i++)
    {
      const char *key = g_ptr_array_index (t->params, i);
      const RmTensor *param = rm_weights_get (t->core->weights, key);
      const float *grad = rm_grad_get (g, param);
      if (grad == NULL)
        continue;
      int64_t n = rm_tensor_numel (param);
      float *acc = g_hash_table_lookup (t->acc, key);
      if (acc == NULL)
        {
          acc = g_new0 (float, n);
          g_hash_table_insert (t->acc, (gpointer) key, acc);
        }
      for (int64_t j = 0; j < n; j++)
        acc[j] += grad[j];
    }
}

static gboolean
train_micro_batch (Trainer *t, const Example *e, RmLossTerms *terms, GError **error)
{
  RmCtx *ctx = t->ctx;
  const RmModelConfig *cfg = &t->core->cfg;
  rm_ctx_reset (ctx);
  rm_tape_reset (ctx->tape);
  int64_t s = cfg->sam_image_size, b = cfg->beit_image_size;
  g_autofree uint8_t *pad = g_new0 (uint8_t, e->n_ids);
  for (size_t j = 0; j < e->n_ids; j++)
    pad[j] = e->ids[j] == 3;
  RmForward fw = { .ctx = ctx, .core = t->core, .recompute = t->p->recompute };
  RmForwardInput in = {
    .sam_image = rm_wrap (ctx, e->sam, 4, (int64_t[]){ 1, 3, s, s }),
    .beit_image = rm_wrap (ctx, e->beit, 4, (int64_t[]){ 1, 3, b, b }),
    .ids = e->ids,
    .pad = pad,
    .batch = 1,
    .text_len = (int) e->n_ids,
  };
  RmForwardOutput out;
  rm_forward (&fw, &in, &out);
  RmLossParams lp = rm_loss_default_params ();
  g_autofree float *dz = g_new (float, s *s);
  float dsen;
  rm_refseg_loss (&lp, out.pred_masks->data, e->target, out.text_weight->data, 1, (int) s, (int) s,
                  terms, dz, &dsen);
  if (!isfinite (terms->total))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT,
                   "the loss is not finite at step %" G_GINT64_FORMAT "; stopping and keeping the "
                   "last good checkpoint",
                   t->step);
      return FALSE;
    }
  const RmTensor *seeds[] = { out.pred_masks, out.text_weight };
  const float *seed_grads[] = { dz, &dsen };
  RmGrad *g = rm_backward (ctx, 2, seeds, seed_grads, error);
  if (g == NULL)
    return FALSE;
  accumulate (t, g);
  rm_grad_free (g);
  return TRUE;
}

/* ---- optimizer step ----------------------------------------------------------------------- */

static const float *
accumulated_grad (void *user, const char *name, const RmTensor *param)
{
  Trainer *t = user;
  return g_hash_table_lookup (t->acc, name);
}

static gboolean
optimizer_step (Trainer *t, int micro, GError **error)
{
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, t->acc);
  while (g_hash_table_iter_next (&it, &key, &value))
    {
      const RmTensor *param = rm_weights_get (t->core->weights, key);
      float *acc = value;
      int64_t n = rm_tensor_numel (param);
      for (int64_t j = 0; j < n; j++)
        {
          acc[j] /= (float) micro; /* the mean over the micro-batches, as DDP averages */
          if (!isfinite (acc[j]))
            {
              g_set_error (error, RM_ERROR, RM_ERROR_INPUT,
                           "the gradient of %s is not finite at step %" G_GINT64_FORMAT
                           "; stopping and keeping the last good checkpoint",
                           (const char *) key, t->step);
              return FALSE;
            }
        }
    }
  rm_adamw_step (t->opt, accumulated_grad, t);
  g_hash_table_remove_all (t->acc);
  return TRUE;
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static gboolean
copy_file_atomic (const char *from, const char *to, GError **error)
{
  if (g_strcmp0 (from, to) == 0)
    return TRUE;
  g_autofree char *data = NULL;
  gsize len = 0;
  return g_file_get_contents (from, &data, &len, error) &&
         g_file_set_contents (to, data, (gssize) len, error); /* temp file + rename */
}

static gboolean
write_checkpoint (Trainer *t, GError **error)
{
  const char *out = t->p->out_dir;
  g_autofree char *cfg_path = g_build_filename (out, "config.json", NULL);
  g_autofree char *spm_path = g_build_filename (out, "sentencepiece.bpe.model", NULL);
  g_autofree char *model_path = g_build_filename (out, "model.safetensors", NULL);
  g_autofree char *state_path = g_build_filename (out, STATE_FILE, NULL);
  g_autofree char *json = rm_model_config_to_json (&t->core->cfg);
  if (!g_file_set_contents (cfg_path, json, -1, error) ||
      !copy_file_atomic (rm_model_get_tokenizer_path (t->model), spm_path, error) ||
      !rm_weights_save (t->core->weights, &t->core->cfg, model_path, error))
    return FALSE;
  /* The weights are written first: a state file always belongs to weights at least as new. */
  g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, t->step);
  g_autofree char *epoch = g_strdup_printf ("%d", t->epoch);
  g_autofree char *cursor = g_strdup_printf ("%" G_GINT64_FORMAT, t->cursor);
  g_autofree char *rng = g_strdup_printf ("%" G_GUINT64_FORMAT, t->rng.state);
  g_autofree char *total = g_strdup_printf ("%" G_GINT64_FORMAT, t->total_steps);
  g_autofree char *adamw_step = g_strdup_printf ("%" G_GINT64_FORMAT, rm_adamw_get_step (t->opt));
  const char *meta[] = { "step", step,          "epoch", epoch,        "cursor",   cursor, "rng",
                         rng,    "total_steps", total,   "adamw_step", adamw_step, NULL };
  g_autoptr (GArray) tensors = g_array_new (FALSE, TRUE, sizeof (RmStTensor));
  RmStTensor order = { .name = "epoch_order",
                       .dtype = RM_ST_I32,
                       .ndim = 1,
                       .shape = { t->order->len },
                       .data = t->order->data,
                       .nbytes = t->order->len * sizeof (guint) };
  g_array_append_val (tensors, order);
  rm_adamw_foreach_state (t->opt, rm_weights_collect_st, tensors);
  gboolean ok = rm_safetensors_write (state_path, tensors->len,
                                      &g_array_index (tensors, RmStTensor, 0), meta, error);
  for (guint i = 1; i < tensors->len; i++)
    g_free ((char *) g_array_index (tensors, RmStTensor, i).name);
  return ok;
}

static gboolean
read_checkpoint (Trainer *t, GError **error)
{
  g_autofree char *state_path = g_build_filename (t->p->out_dir, STATE_FILE, NULL);
  g_autoptr (RmSafetensors) st = rm_safetensors_open (state_path, error);
  if (st == NULL)
    return FALSE;
  const char *step = rm_safetensors_get_metadata (st, "step");
  const char *epoch = rm_safetensors_get_metadata (st, "epoch");
  const char *cursor = rm_safetensors_get_metadata (st, "cursor");
  const char *rng = rm_safetensors_get_metadata (st, "rng");
  const RmStTensor *order = rm_safetensors_lookup (st, "epoch_order");
  if (!step || !epoch || !cursor || !rng || !order || order->dtype != RM_ST_I32 ||
      order->ndim != 1 || (guint) order->shape[0] != t->train->samples->len)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                   "%s: not a training state for this data (step, epoch, cursor, rng, epoch_order)",
                   state_path);
      return FALSE;
    }
  t->step = g_ascii_strtoll (step, NULL, 10);
  t->epoch = (int) g_ascii_strtoll (epoch, NULL, 10);
  t->cursor = g_ascii_strtoll (cursor, NULL, 10);
  t->rng.state = g_ascii_strtoull (rng, NULL, 10);
  g_array_set_size (t->order, order->shape[0]);
  memcpy (t->order->data, order->data, order->nbytes);
  for (guint i = 0; i < t->order->len; i++)
    if (g_array_index (t->order, guint, i) >= t->order->len)
      {
        g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "%s: corrupt epoch order", state_path);
        return FALSE;
      }
  return rm_adamw_load_state (t->opt, st, error);
}

/* ---- validation and reporting ------------------------------------------------------------- */

static void
log_line (Trainer *t, const char *json)
{
  if (t->log != NULL)
    {
      fputs (json, t->log);
      fputc ('\n', t->log);
      fflush (t->log);
    }
}

static gboolean
validate (Trainer *t, bool before, RmMetricsSummary *out, GError **error)
{
  RmMetrics m;
  rm_metrics_init (&m);
  RmSession *session = rm_session_new (t->model, t->p->n_threads);
  gboolean ok = rm_eval_dataset (session, t->val, t->p->val_limit, &m, NULL, NULL, NULL,
                                 t->p->abort, t->p->abort_user, error);
  rm_session_free (session);
  if (!ok)
    return FALSE;
  rm_metrics_summary (&m, out);
  g_autofree char *line = g_strdup_printf (
      "{\"event\": \"validation\", \"step\": %" G_GINT64_FORMAT ", \"n\": %" G_GINT64_FORMAT
      ", \"mIoU\": %.6f, \"oIoU\": %.6f, \"Pr@0.5\": %.6f, \"Pr@0.7\": %.6f, \"Pr@0.9\": %.6f}",
      t->step, out->n, out->miou, out->oiou, out->precision[0], out->precision[2],
      out->precision[4]);
  log_line (t, line);
  if (t->p->progress)
    {
      RmTrainProgress pr = { .event = "validation",
                             .step = t->step,
                             .total_steps = t->total_steps,
                             .epoch = t->epoch,
                             .validation = *out,
                             .validation_before = before };
      t->p->progress (t->p->progress_user, &pr);
    }
  return TRUE;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static void
collect_trainable (void *user, const char *key, const RmTensor *param)
{
  Trainer *t = user;
  if (!param->requires_grad)
    return;
  g_ptr_array_add (t->params, (gpointer) g_intern_string (key));
  /* Parameters frozen in the official recipe (trained here only with train_all) go to group 0. */
  int group = rm_param_adamw_group (key, NULL);
  rm_adamw_add_param (t->opt, g_intern_string (key), (RmTensor *) param, MAX (group, 0));
}

static void
trainer_clear (Trainer *t)
{
  if (t->log)
    fclose (t->log);
  g_clear_pointer (&t->acc, g_hash_table_unref);
  g_clear_pointer (&t->params, g_ptr_array_unref);
  g_clear_pointer (&t->order, g_array_unref);
  g_clear_pointer (&t->images, g_hash_table_unref);
  g_clear_pointer (&t->opt, rm_adamw_free);
  g_clear_pointer (&t->train, rm_dataset_free);
  g_clear_pointer (&t->val, rm_dataset_free);
  g_free (t->black);
  if (t->ctx)
    {
      rm_tape_free (t->ctx->tape);
      t->ctx->tape = NULL;
      rm_ctx_free (t->ctx);
    }
  g_clear_pointer (&t->model, rm_model_free);
}

static gboolean
trainer_init (Trainer *t, const RmTrainParams *p, GError **error)
{
  memset (t, 0, sizeof *t);
  t->p = p;
  if (p->out_dir == NULL || p->refs == NULL || (!p->resume && p->model_dir == NULL) || p->accum < 1)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT,
                   "training needs a model, refs, an output "
                   "directory and accum >= 1");
      return FALSE;
    }
  g_autofree char *out_model = g_build_filename (p->out_dir, "model.safetensors", NULL);
  g_autofree char *out_state = g_build_filename (p->out_dir, STATE_FILE, NULL);
  bool have_ckpt = g_file_test (out_state, G_FILE_TEST_EXISTS);
  if (p->resume && !have_ckpt)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s has no checkpoint to resume from", p->out_dir);
      return FALSE;
    }
  if (!p->resume && g_file_test (out_model, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO,
                   "%s already holds a model; resume it or choose another directory", p->out_dir);
      return FALSE;
    }
  if (g_mkdir_with_parents (p->out_dir, 0755) != 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "cannot create %s", p->out_dir);
      return FALSE;
    }
  t->model = rm_model_load (p->resume ? p->out_dir : p->model_dir, NULL, error);
  if (t->model == NULL)
    return FALSE;
  t->core = rm_model_get_core (t->model);
  rm_weights_make_trainable (t->core->weights);
  if (p->train_all)
    rm_weights_set_all_trainable (t->core->weights);
  t->train = rm_dataset_load_refs (p->refs, p->split ? p->split : "train", error);
  if (t->train == NULL)
    return FALSE;
  if (t->train->samples->len == 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "%s has no sample of split '%s'", p->refs,
                   p->split ? p->split : "train");
      return FALSE;
    }
  if (p->val_split != NULL)
    {
      t->val = rm_dataset_load_refs (p->refs, p->val_split, error);
      if (t->val == NULL)
        return FALSE;
    }
  RmAdamWGroup groups[2] = {
    { p->lr, p->beta1, p->beta2, p->eps, p->weight_decay },
    { p->lr_bifit, p->beta1, p->beta2, p->eps, p->weight_decay },
  };
  t->opt = rm_adamw_new (2, groups);
  t->params = g_ptr_array_new ();
  rm_weights_foreach (t->core->weights, &t->core->cfg, collect_trainable, t);
  t->acc = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  t->images =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) rm_image_free);
  t->order = g_array_new (FALSE, FALSE, sizeof (guint));
  t->ctx = rm_ctx_new (p->n_threads);
  t->ctx->tape = rm_tape_new ();
  t->rng.state = p->seed;
  guint n = t->train->samples->len;
  /* The official recipe draws the black-square subset once, at dataset construction. */
  t->black = g_new0 (uint8_t, n);
  RmRng pick = { p->seed ^ 0x5eedb1acull };
  for (guint i = 0; i < n; i++)
    t->black[i] = rm_rng_uniform (&pick) < BLACK_SQUARE_FRACTION;
  t->total_steps =
      p->steps > 0 ? p->steps : ((int64_t) n * MAX (p->epochs, 1) + p->accum - 1) / p->accum;
  if (p->resume)
    {
      if (!read_checkpoint (t, error))
        return FALSE;
      if (p->steps > 0)
        t->total_steps = p->steps;
    }
  else
    shuffle_epoch (t);
  g_autofree char *log_path = g_build_filename (p->out_dir, LOG_FILE, NULL);
  t->log = fopen (log_path, "a");
  if (t->log == NULL)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "cannot open %s", log_path);
      return FALSE;
    }
  return TRUE;
}

static bool
cancelled (const RmTrainParams *p)
{
  return p->abort != NULL && p->abort (p->abort_user);
}

gboolean
rm_train (const RmTrainParams *p, RmTrainResult *result, GError **error)
{
  memset (result, 0, sizeof *result);
  Trainer t;
  gint64 t_start = g_get_monotonic_time ();
  if (!trainer_init (&t, p, error))
    {
      trainer_clear (&t);
      return FALSE;
    }
  gboolean ok = TRUE;
  if (t.val != NULL && t.step == 0)
    {
      ok = validate (&t, true, &result->val_before, error);
      result->have_validation = ok;
    }
  gint64 t_loop = g_get_monotonic_time ();
  int64_t first_step = t.step;
  while (ok && t.step < t.total_steps)
    {
      if (cancelled (p))
        {
          result->cancelled = true;
          break;
        }
      if (p->lr_drop_step > 0 && t.step >= p->lr_drop_step)
        for (int g = 0; g < 2; g++)
          rm_adamw_group (t.opt, g)->lr = (g == 0 ? p->lr : p->lr_bifit) * 0.1f;
      double lr_now = rm_adamw_group (t.opt, 0)->lr, lr_bifit_now = rm_adamw_group (t.opt, 1)->lr;
      RmLossTerms mean = { 0 };
      for (int micro = 0; ok && micro < p->accum; micro++)
        {
          if (t.cursor >= (int64_t) t.order->len)
            {
              t.epoch++;
              t.cursor = 0;
              shuffle_epoch (&t);
            }
          Example e = { 0 };
          RmLossTerms terms;
          ok = make_example (&t, g_array_index (t.order, guint, t.cursor++), &e, error) &&
               train_micro_batch (&t, &e, &terms, error);
          example_clear (&e);
          mean.ce += terms.ce / p->accum, mean.dice += terms.dice / p->accum;
          mean.boundary += terms.boundary / p->accum, mean.total += terms.total / p->accum;
        }
      if (!ok || !(ok = optimizer_step (&t, p->accum, error)))
        break;
      t.step++;
      double elapsed = (double) (g_get_monotonic_time () - t_loop) / 1e6;
      double sps = (double) (t.step - first_step) * p->accum / MAX (elapsed, 1e-9);
      double eta = (double) (t.total_steps - t.step) * p->accum / MAX (sps, 1e-9);
      g_autofree char *line = g_strdup_printf (
          "{\"event\": \"step\", \"step\": %" G_GINT64_FORMAT ", \"epoch\": %d, \"loss\": %.6f, "
          "\"ce\": %.6f, \"dice\": %.6f, \"boundary\": %.6g, \"lr\": %g, \"lr_bifit\": %g, "
          "\"samples_per_s\": %.3f}",
          t.step, t.epoch, mean.total, mean.ce, mean.dice, mean.boundary, lr_now, lr_bifit_now,
          sps);
      log_line (&t, line);
      if (p->progress)
        {
          RmTrainProgress pr = { .event = "step",
                                 .step = t.step,
                                 .total_steps = t.total_steps,
                                 .epoch = t.epoch,
                                 .loss = mean,
                                 .lr = lr_now,
                                 .lr_bifit = lr_bifit_now,
                                 .samples_per_s = sps,
                                 .eta_s = eta };
          p->progress (p->progress_user, &pr);
        }
      if (p->checkpoint_every > 0 && t.step % p->checkpoint_every == 0 && t.step < t.total_steps)
        ok = write_checkpoint (&t, error);
    }
  /* Cancelled or finished: keep what was learned. After a failure (NaN, I/O) the last good
   * checkpoint stays as it is. */
  if (ok)
    ok = write_checkpoint (&t, error);
  if (ok && t.val != NULL && !result->cancelled)
    {
      ok = validate (&t, false, &result->val_after, error);
      result->have_validation = ok && t.step > 0;
    }
  result->steps_done = t.step;
  result->seconds = (double) (g_get_monotonic_time () - t_start) / 1e6;
  trainer_clear (&t);
  return ok;
}
