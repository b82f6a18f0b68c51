/* SPDX-License-Identifier: GPL-3.0-or-later
 * The public API (refmask-engine.h): model directories, sessions, and segmentation with the
 * official pre- and post-processing around rm_forward().
 */
#include "refmask-engine.h"
#include "rm-backend.h"
#include "rm-config.h"
#include "rm-cuda.h"
#include "rm-device.h"
#include "rm-forward.h"
#include "rm-model-internal.h"
#include "rm-model-keys.h"
#include "rm-tokenizer.h"

#include <string.h>
#include <unistd.h>

struct RmModel
{
  RmModelCore core;
  RmTokenizer *tokenizer;
  char *dir;
  char *tokenizer_path;
  int64_t n_params;
  /* Copies of core on each device, made by the first session there and kept until the model is
   * freed (its weights never change once loaded: training works on a model of its own). The
   * only mutable part of a model, hence the lock: sessions of several threads share it. */
  GMutex device_lock;
  RmModelCore *device_cores[RM_DEVICE_EMULATED + 1];
};

struct RmSession
{
  const RmModel *model;
  const RmModelCore *core; /* model->core, or its copy on ctx's device */
  RmCtx *ctx;
};

RmLoadParams
rm_load_default_params (void)
{
  return (RmLoadParams){ 0 };
}

RmSegmentParams
rm_segment_default_params (void)
{
  return (RmSegmentParams){ .want_prior_image = true };
}

static char *
find_tokenizer (const char *dir)
{
  static const char *const names[] = { "sentencepiece.bpe.model", "tokenizer.model" };
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    {
      char *path = g_build_filename (dir, names[i], NULL);
      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return path;
      g_free (path);
    }
  return NULL;
}

static void
count_params (void *user, const char *key, int ndim, const int64_t *shape)
{
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  *(int64_t *) user += n;
}

RmModel *
rm_model_load (const char *dir, const RmLoadParams *params, GError **error)
{
  RmLoadParams defaults = rm_load_default_params ();
  if (params == NULL)
    params = &defaults;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s: not a model directory", dir);
      return NULL;
    }
  if (params->progress)
    params->progress (params->progress_user, 0, "config", 0.0);
  g_autofree char *config_path = g_build_filename (dir, "config.json", NULL);
  RmModelConfig cfg;
  if (!rm_model_config_load (&cfg, config_path, error))
    return NULL;
  g_autofree char *spm_path = find_tokenizer (dir);
  if (spm_path == NULL)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO,
                   "%s: no sentencepiece model (sentencepiece.bpe.model or tokenizer.model)", dir);
      return NULL;
    }
  RmTokenizer *tokenizer = rm_tokenizer_new_from_file (spm_path, error);
  if (tokenizer == NULL)
    return NULL;
  if (rm_tokenizer_vocab_size (tokenizer) + 3 > cfg.beit_vocab_size)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_SHAPE,
                   "%s has %d pieces, more than the model's %d-row text embedding allows", spm_path,
                   rm_tokenizer_vocab_size (tokenizer), cfg.beit_vocab_size);
      rm_tokenizer_free (tokenizer);
      return NULL;
    }
  if (params->abort && params->abort (params->abort_user))
    {
      rm_tokenizer_free (tokenizer);
      g_set_error (error, RM_ERROR, RM_ERROR_CANCELLED, "model loading cancelled");
      return NULL;
    }
  if (params->progress)
    params->progress (params->progress_user, 0, "weights", 0.2);
  g_autofree char *weights_path = g_build_filename (dir, "model.safetensors", NULL);
  RmWeights *weights = rm_weights_load (weights_path, &cfg, error);
  if (weights == NULL)
    {
      rm_tokenizer_free (tokenizer);
      return NULL;
    }
  RmModel *model = g_new0 (RmModel, 1);
  g_mutex_init (&model->device_lock);
  rm_model_core_init (&model->core, &cfg, weights);
  model->tokenizer = tokenizer;
  model->dir = g_strdup (dir);
  model->tokenizer_path = g_strdup (spm_path);
  rm_model_foreach_key (&cfg, count_params, &model->n_params);
  if (params->progress)
    params->progress (params->progress_user, 0, "weights", 1.0);
  return model;
}

void
rm_model_free (RmModel *model)
{
  if (model == NULL)
    return;
  for (size_t i = 0; i < G_N_ELEMENTS (model->device_cores); i++)
    if (model->device_cores[i] != NULL)
      {
        rm_model_core_clear (model->device_cores[i]);
        g_free (model->device_cores[i]);
      }
  g_mutex_clear (&model->device_lock);
  rm_model_core_clear (&model->core);
  rm_tokenizer_free (model->tokenizer);
  g_free (model->dir);
  g_free (model->tokenizer_path);
  g_free (model);
}

int
rm_model_get_image_size (const RmModel *model)
{
  return model->core.cfg.sam_image_size;
}

int
rm_model_get_prior_size (const RmModel *model)
{
  return model->core.cfg.beit_image_size / model->core.cfg.beit_patch_size;
}

int
rm_model_get_max_tokens (const RmModel *model)
{
  /* Text positions start at row 2 of the position table. */
  return model->core.cfg.beit_max_text_positions - 2;
}

char *
rm_model_describe (const RmModel *model)
{
  const RmModelConfig *c = &model->core.cfg;
  return g_strdup_printf ("RS2-SAM2: Hiera %d-dim %d+%d+%d+%d blocks at %d px, BEiT-3 %d x %d at "
                          "%d px, SAM width %d, %.1f M parameters",
                          c->hiera_embed_dim, c->hiera_stages[0], c->hiera_stages[1],
                          c->hiera_stages[2], c->hiera_stages[3], c->sam_image_size, c->beit_layers,
                          c->beit_dim, c->beit_image_size, c->sam_dim,
                          (double) model->n_params / 1e6);
}

bool
rm_device_choice_from_string (const char *name, RmDeviceChoice *out)
{
  static const char *const names[] = { "auto", "cpu", "cuda" };
  for (size_t i = 0; name != NULL && i < G_N_ELEMENTS (names); i++)
    if (strcmp (name, names[i]) == 0)
      {
        *out = (RmDeviceChoice) i;
        return true;
      }
  return false;
}

const char *
rm_device_choice_to_string (RmDeviceChoice choice)
{
  switch (choice)
    {
    case RM_DEVICE_CHOICE_AUTO:
      return "auto";
    case RM_DEVICE_CHOICE_CPU:
      return "cpu";
    case RM_DEVICE_CHOICE_CUDA:
      return "cuda";
    }
  return "auto";
}

/* The CUDA backend's state (stream, cuBLAS / cuDNN handles, the remembered error) is
 * process-wide and not thread-safe, so device sessions take turns: creating one (weight upload
 * included), each rm_session_segment call, and freeing one hold this lock. Host sessions never
 * take it. (The studio may run a query and a batch at the same time.) */
static GMutex device_turn;

/* A fresh context on `device` (the first GPU for CUDA). */
static RmCtx *
ctx_new_on (RmDevice device, int n_threads, GError **error)
{
  switch (device)
    {
    case RM_DEVICE_CUDA:
      return rm_ctx_new_cuda (0, error);
    case RM_DEVICE_EMULATED:
      return rm_ctx_new_emulated_device ();
    case RM_DEVICE_CPU:
      break;
    }
  if (n_threads <= 0)
    n_threads = (int) sysconf (_SC_NPROCESSORS_ONLN);
  return rm_ctx_new (n_threads > 0 ? n_threads : 1);
}

/* The model's core on `device`: its own on the CPU, else the device copy, uploaded by the first
 * caller (in a device context of its own, so that no session's resets touch it). */
static const RmModelCore *
model_core_on (const RmModel *model, RmDevice device, GError **error)
{
  if (device == RM_DEVICE_CPU)
    return &model->core;
  RmModel *m = (RmModel *) model; /* the device cache, behind its lock */
  g_mutex_lock (&m->device_lock);
  RmModelCore *core = m->device_cores[device];
  if (core == NULL)
    {
      RmCtx *ctx = ctx_new_on (device, 1, error);
      core = g_new0 (RmModelCore, 1);
      if (ctx != NULL && rm_model_core_to_device (&model->core, ctx, core, error))
        m->device_cores[device] = core;
      else
        g_clear_pointer (&core, g_free);
    }
  g_mutex_unlock (&m->device_lock);
  return core;
}

static RmSession *
session_new_on (const RmModel *model, RmDevice device, int n_threads, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (device != RM_DEVICE_CPU)
    g_mutex_lock (&device_turn);
  RmCtx *ctx = ctx_new_on (device, n_threads, &local);
  const RmModelCore *core = ctx != NULL ? model_core_on (model, device, &local) : NULL;
  if (device != RM_DEVICE_CPU)
    g_mutex_unlock (&device_turn);
  if (core == NULL)
    {
      rm_ctx_free (ctx);
      g_set_error (error, RM_ERROR, local->code, "cannot segment on %s: %s",
                   rm_device_name (device), local->message);
      return NULL;
    }
  RmSession *s = g_new0 (RmSession, 1);
  s->model = model;
  s->core = core;
  s->ctx = ctx;
  return s;
}

RmSession *
rm_session_new (const RmModel *model, int n_threads)
{
  return session_new_on (model, RM_DEVICE_CPU, n_threads, NULL);
}

RmSession *
rm_session_new_on_device (const RmModel *model, RmDeviceChoice device, int n_threads,
                          GError **error)
{
  bool cuda = device == RM_DEVICE_CHOICE_CUDA ||
              (device == RM_DEVICE_CHOICE_AUTO && rm_cuda_device_count () > 0);
  return session_new_on (model, cuda ? RM_DEVICE_CUDA : RM_DEVICE_CPU, n_threads, error);
}

RmSession *
rm_session_new_emulated_device (const RmModel *model, GError **error)
{
  return session_new_on (model, RM_DEVICE_EMULATED, 1, error);
}

const char *
rm_session_get_device_name (const RmSession *session)
{
  return rm_device_name (session->ctx->backend->device);
}

RmCtx *
rm_session_get_ctx (RmSession *session)
{
  return session->ctx;
}

void
rm_session_free (RmSession *session)
{
  if (session == NULL)
    return;
  const bool device = rm_ctx_is_device (session->ctx);
  if (device)
    g_mutex_lock (&device_turn);
  rm_ctx_free (session->ctx);
  if (device)
    g_mutex_unlock (&device_turn);
  g_free (session);
}

void
rm_segment_result_free (RmSegmentResult *r)
{
  if (r == NULL)
    return;
  g_free (r->logits);
  g_free (r->mask);
  g_free (r->prior);
  g_free (r->prior_image);
  g_free (r);
}

void
rm_segment_results_free (RmSegmentResult **results, int n)
{
  if (results == NULL)
    return;
  for (int i = 0; i < n; i++)
    rm_segment_result_free (results[i]);
  g_free (results);
}

typedef struct
{
  const RmSegmentParams *params;
  int index;
} ProgressRelay;

static void
relay_stage (void *user, const char *stage, double fraction)
{
  ProgressRelay *r = user;
  r->params->progress (r->params->progress_user, r->index, stage, fraction);
}

static bool
relay_abort (void *user)
{
  const RmSegmentParams *p = user;
  return p->abort (p->abort_user);
}

static double
ms_since (gint64 t0)
{
  return (double) (g_get_monotonic_time () - t0) / 1000.0;
}

/* A g_malloc'ed host copy of t's data (copied back first when t is on the device). */
static float *
copy_out (RmCtx *ctx, const RmTensor *t, GError **error)
{
  const RmTensor *host = rm_download (ctx, t, error);
  return host != NULL ? g_memdup2 (host->data, (size_t) rm_tensor_numel (host) * sizeof (float))
                      : NULL;
}

/* Logits to the original size (bilinear, align_corners False), then z > 0.5; area and bbox. The
 * resizes run where the session computes; the thresholding reads a host copy. */
static bool
postprocess (RmSession *s, RmSegmentResult *r, const RmForwardOutput *out, bool want_prior_image,
             GError **error)
{
  RmCtx *ctx = s->ctx;
  const RmTensor *z = rm_download (
      ctx, rm_resize_bilinear (ctx, out->pred_masks, r->height, r->width, false), error);
  if (z == NULL)
    return false;
  size_t n = (size_t) r->width * r->height;
  r->mask = g_new (uint8_t, n);
  int x0 = r->width, y0 = r->height, x1 = -1, y1 = -1;
  r->area = 0;
  for (int y = 0; y < r->height; y++)
    for (int x = 0; x < r->width; x++)
      {
        size_t i = (size_t) y * r->width + x;
        r->mask[i] = z->data[i] > 0.5f;
        if (r->mask[i])
          {
            r->area++;
            x0 = MIN (x0, x), x1 = MAX (x1, x), y0 = MIN (y0, y), y1 = MAX (y1, y);
          }
      }
  if (r->area > 0)
    {
      r->bbox[0] = x0, r->bbox[1] = y0, r->bbox[2] = x1 - x0 + 1, r->bbox[3] = y1 - y0 + 1;
    }
  if (want_prior_image)
    r->prior_image =
        copy_out (ctx, rm_resize_bilinear (ctx, out->prior, r->height, r->width, false), error);
  return !want_prior_image || r->prior_image != NULL;
}

/* What session_segment prepares once for all expressions. */
typedef struct
{
  const RmSegmentParams *params;
  const int64_t *const *ids; /* token ids of each expression, lens[i] of them */
  const size_t *lens;
  float *sam_in, *beit_in; /* the preprocessed image at both models' sizes (NCHW) */
  double ms_tok, ms_pre;
} SegmentInputs;

/* The forward and post-processing of each expression, into results[i]; false with error set
 * when one fails. */
static bool
segment_each (RmSession *s, const RmImage *image, const SegmentInputs *in,
              RmSegmentResult **results, int n, GError **error)
{
  const RmModelConfig *cfg = &s->model->core.cfg;
  for (int i = 0; i < n; i++)
    {
      gint64 t2 = g_get_monotonic_time ();
      rm_ctx_reset (s->ctx);
      ProgressRelay relay = { in->params, i };
      RmForward fw = { .ctx = s->ctx,
                       .core = s->core,
                       .abort = in->params->abort ? relay_abort : NULL,
                       .abort_user = (void *) in->params,
                       .stage = in->params->progress ? relay_stage : NULL,
                       .stage_user = &relay };
      int64_t s_side = cfg->sam_image_size, b_side = cfg->beit_image_size;
      /* In the request's host arena, as everything a device-memory unwind may skip over. */
      uint8_t *pad = rm_arena_alloc (s->ctx->arena, in->lens[i]);
      const int64_t *tok = in->ids[i];
      /* As in the official code, an in-text <unk> (id 3) is treated as padding by BEiT-3. */
      for (size_t j = 0; j < in->lens[i]; j++)
        pad[j] = tok[j] == 3;
      /* The preprocessed images are host memory: copied to the session's device (used in place
       * on the CPU). */
      const RmTensor *sam_image = rm_upload (
          s->ctx, rm_wrap (s->ctx, in->sam_in, 4, (int64_t[]){ 1, 3, s_side, s_side }), error);
      const RmTensor *beit_image =
          sam_image != NULL
              ? rm_upload (s->ctx,
                           rm_wrap (s->ctx, in->beit_in, 4, (int64_t[]){ 1, 3, b_side, b_side }),
                           error)
              : NULL;
      RmForwardInput fin = {
        .sam_image = sam_image,
        .beit_image = beit_image,
        .ids = tok,
        .pad = pad,
        .batch = 1,
        .text_len = (int) in->lens[i],
      };
      RmForwardOutput out;
      if (beit_image == NULL || !rm_forward (&fw, &fin, &out))
        {
          if (fw.error != NULL)
            g_propagate_error (error, fw.error);
          else if (beit_image != NULL)
            g_set_error (error, RM_ERROR, RM_ERROR_CANCELLED, "segmentation cancelled");
          return false;
        }
      RmSegmentResult *r = g_new0 (RmSegmentResult, 1);
      results[i] = r;
      r->n_tokens = (int) in->lens[i];
      r->model_size = cfg->sam_image_size;
      r->prior_size = (int) out.prior->shape[2];
      r->width = image->width;
      r->height = image->height;
      gint64 t3 = g_get_monotonic_time ();
      if (in->params->progress)
        in->params->progress (in->params->progress_user, i, "postprocess", 0.0);
      /* A device failure anywhere in the forward shows here, at the first copy back. */
      if ((r->logits = copy_out (s->ctx, out.pred_masks, error)) == NULL ||
          (r->prior = copy_out (s->ctx, out.prior, error)) == NULL ||
          !postprocess (s, r, &out, in->params->want_prior_image, error))
        return false;
      r->ms_tokenize = in->ms_tok;
      r->ms_preprocess = in->ms_pre;
      r->ms_beit = fw.ms_beit;
      r->ms_hiera = fw.ms_hiera;
      r->ms_heads = fw.ms_heads;
      r->ms_postprocess = ms_since (t3);
      r->ms_total = ms_since (t2) + in->ms_tok + (i == 0 ? in->ms_pre : 0);
      r->peak_bytes = rm_ctx_peak_bytes (s->ctx);
    }
  return true;
}

typedef struct
{
  RmSession *s;
  const RmImage *image;
  const SegmentInputs *in;
  RmSegmentResult **results;
  int n;
} SegmentEach;

static bool
segment_each_run (void *user, GError **error)
{
  const SegmentEach *e = user;
  return segment_each (e->s, e->image, e->in, e->results, e->n, error);
}

/* segment_each, with a device context's running out of device memory turned into
 * RM_ERROR_DEVICE (results[] then holds what was made so far, for the caller to free).
 * Unwinding out of segment_each (rm_device_run_guarded) is safe because of this invariant,
 * which any change to the code below this frame must keep:
 * - every allocation the forward makes lives in the context's arenas, trimmed on the way out;
 *   the host memory of the request (the inputs, ids, lens) belongs to session_segment's frame,
 *   which outlives the jump, and each result is stored in results[] as soon as it is allocated,
 *   with its buffers stored in it as soon as they are, so session_segment's
 *   rm_segment_results_free finds them all;
 * - no lock is taken or released below this frame: the device lock (device_turn) is held by
 *   rm_session_segment around this whole call, and the model's upload-cache lock only by
 *   session creation, whose uploads report failure without unwinding (rm_upload);
 * - a device context has no thread pool, so every allocation, and so the longjmp, happens on
 *   this thread (rm_arena_alloc checks it).
 * GErrors of the forward (fw.error) are only set on its way out, never before a further
 * allocation. */
static bool
segment_each_guarded (RmSession *s, const RmImage *image, const SegmentInputs *in,
                      RmSegmentResult **results, int n, GError **error)
{
  SegmentEach each = { s, image, in, results, n };
  return rm_device_run_guarded (s->ctx, segment_each_run, &each, error);
}

static RmSegmentResult **session_segment (RmSession *s, const RmImage *image,
                                          const char *const *texts, int n,
                                          const RmSegmentParams *params, GError **error);

RmSegmentResult **
rm_session_segment (RmSession *s, const RmImage *image, const char *const *texts, int n,
                    const RmSegmentParams *params, GError **error)
{
  if (!rm_ctx_is_device (s->ctx))
    return session_segment (s, image, texts, n, params, error);
  g_mutex_lock (&device_turn);
  RmSegmentResult **results = session_segment (s, image, texts, n, params, error);
  g_mutex_unlock (&device_turn);
  return results;
}

static RmSegmentResult **
session_segment (RmSession *s, const RmImage *image, const char *const *texts, int n,
                 const RmSegmentParams *params, GError **error)
{
  RmSegmentParams defaults = rm_segment_default_params ();
  if (params == NULL)
    params = &defaults;
  const RmModel *model = s->model;
  const RmModelConfig *cfg = &model->core.cfg;
  if (image == NULL || image->channels != 3 || image->width <= 0 || image->height <= 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "the image must be a non-empty RGB image");
      return NULL;
    }
  if (n <= 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "no expression given");
      return NULL;
    }

  /* Tokenise everything first so that a bad expression fails before any compute. */
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree size_t *lens = g_new (size_t, n);
  for (int i = 0; i < n; i++)
    {
      g_autoptr (GError) local = NULL;
      int64_t *t = rm_tokenizer_encode (model->tokenizer, texts[i],
                                        (size_t) rm_model_get_max_tokens (model), &lens[i], &local);
      if (t == NULL)
        {
          g_set_error (error, RM_ERROR, local->code, "expression %d: %s", i + 1, local->message);
          return NULL;
        }
      g_ptr_array_add (ids, t);
    }
  double ms_tok = ms_since (t0) / n;

  gint64 t1 = g_get_monotonic_time ();
  g_autofree float *sam_in = rm_image_preprocess_nchw (image, cfg->sam_image_size);
  g_autofree float *beit_in = rm_image_preprocess_nchw (image, cfg->beit_image_size);
  const SegmentInputs in = { .params = params,
                             .ids = (const int64_t *const *) ids->pdata,
                             .lens = lens,
                             .sam_in = sam_in,
                             .beit_in = beit_in,
                             .ms_tok = ms_tok,
                             .ms_pre = ms_since (t1) };

  RmSegmentResult **results = g_new0 (RmSegmentResult *, n);
  if (!segment_each_guarded (s, image, &in, results, n, error))
    {
      rm_segment_results_free (results, n);
      return NULL;
    }
  return results;
}

RmModelCore *
rm_model_get_core (RmModel *model)
{
  return &model->core;
}

const RmTokenizer *
rm_model_get_tokenizer (const RmModel *model)
{
  return model->tokenizer;
}

const char *
rm_model_get_tokenizer_path (const RmModel *model)
{
  return model->tokenizer_path;
}
