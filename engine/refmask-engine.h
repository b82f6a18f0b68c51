/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask-engine.h — the public C API of the Refmask engine: RS2-SAM2 referring-expression
 * segmentation of aerial and satellite images, computed as the official PyTorch code does.
 *
 * Usage:
 *
 *   g_autoptr (GError) error = NULL;
 *   RmModel *model = rm_model_load ("data/model", NULL, &error);      // immutable, shareable
 *   RmSession *session = rm_session_new (model, 2);                   // one per thread
 *   g_autoptr (RmImage) image = rm_image_load ("tile.jpg", NULL, &error);
 *   const char *texts[] = { "the largest building on the right", "all water" };
 *   RmSegmentParams params = rm_segment_default_params ();
 *   RmSegmentResult **results = rm_session_segment (session, image, texts, 2, &params, &error);
 *   ... results[i]->mask (width x height, 0/1), results[i]->prior (g x g probabilities) ...
 *   rm_segment_results_free (results, 2);
 *   rm_session_free (session);
 *   rm_model_free (model);
 *
 * Every expression is run alone, as the official test does, so a result never depends on what
 * else was asked. Failures are GErrors in the RM_ERROR domain (rm-error.h) with a message
 * that names the file, tensor or input at fault.
 *
 * A model directory holds config.json (sizes; see README), model.safetensors (official
 * state-dict key names; F32, F16 or BF16) and the sentencepiece model
 * (sentencepiece.bpe.model, or tokenizer.model).
 */
#pragma once

#include "rm-error.h"
#include "rm-image.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct RmModel RmModel;
typedef struct RmSession RmSession;

/* stage: "tokenize", "preprocess", "BEiT-3", "Hiera", "decoder", "postprocess"; fraction in
 * [0, 1] within the current expression; index: which expression. */
typedef void (*RmProgressCallback) (void *user, int index, const char *stage, double fraction);
/* Polled between blocks; returning true cancels (RM_ERROR_CANCELLED). */
typedef bool (*RmAbortCallback) (void *user);

typedef struct
{
  RmProgressCallback progress;
  void *progress_user;
  RmAbortCallback abort;
  void *abort_user;
} RmLoadParams;

typedef struct
{
  RmProgressCallback progress;
  void *progress_user;
  RmAbortCallback abort;
  void *abort_user;
  bool want_prior_image; /* also upsample the prior to the image size (for display) */
} RmSegmentParams;

RmLoadParams rm_load_default_params (void);
RmSegmentParams rm_segment_default_params (void);

/* params may be NULL (defaults). */
RmModel *rm_model_load (const char *dir, const RmLoadParams *params, GError **error);
void rm_model_free (RmModel *model);
/* The SAM2 input side S (masks are computed at S x S) and the prior grid side g. */
int rm_model_get_image_size (const RmModel *model);
int rm_model_get_prior_size (const RmModel *model);
/* The longest expression, in tokens including <s> and </s>. */
int rm_model_get_max_tokens (const RmModel *model);
/* One line: sizes and parameter count. Caller frees. */
char *rm_model_describe (const RmModel *model);

/* Where a session computes. AUTO: CUDA when this build has the CUDA backend and
 * rm_cuda_device_count() > 0 (rm-cuda.h), else the CPU. CUDA: the first GPU, or an error. */
typedef enum
{
  RM_DEVICE_CHOICE_AUTO,
  RM_DEVICE_CHOICE_CPU,
  RM_DEVICE_CHOICE_CUDA
} RmDeviceChoice;

/* "auto", "cpu", "cuda" (the CLI's --device and the GUI's `device` setting); false for anything
 * else. */
bool rm_device_choice_from_string (const char *name, RmDeviceChoice *out);
const char *rm_device_choice_to_string (RmDeviceChoice choice);

/* n_threads <= 0: one per online core. The engine's threads and OpenBLAS's share this count
 * and never run at once. Computes on the CPU; rm_session_new_on_device chooses. */
RmSession *rm_session_new (const RmModel *model, int n_threads);
/* A session on `device`. The first session on a GPU uploads the model's weights there (once
 * per model and device: they stay until rm_model_free). NULL with RM_ERROR_UNSUPPORTED when
 * CUDA is asked for and the build or the machine has none (never a silent fallback to the
 * CPU), RM_ERROR_DEVICE when the GPU fails. n_threads is for the CPU (a GPU session uses one
 * host thread). GPU sessions of several threads take turns, request by request (the backend's
 * state is process-wide). A GPU session segments only; training always runs on the CPU. */
RmSession *rm_session_new_on_device (const RmModel *model, RmDeviceChoice device, int n_threads,
                                     GError **error);
/* "cpu" or "cuda": where the session computes (what AUTO chose). */
const char *rm_session_get_device_name (const RmSession *session);
void rm_session_free (RmSession *session);

typedef struct
{
  int n_tokens;       /* including <s> and </s> */
  int model_size;     /* S */
  float *logits;      /* S x S logits z at model resolution; foreground iff z > 0.5 */
  int width, height;  /* the original image */
  uint8_t *mask;      /* width x height, 0/1: bilinear of z to the image size, then > 0.5 */
  int prior_size;     /* g */
  float *prior;       /* g x g pseudo-mask probabilities (the MPG prior) */
  float *prior_image; /* width x height, bilinear, when asked for; else NULL */
  int64_t area;       /* foreground pixels of mask */
  int bbox[4];        /* x, y, width, height of mask (all 0 when empty) */
  /* On a GPU the kernels run asynchronously: the BEiT-3 / Hiera / heads split is the time to
   * queue them, ms_postprocess includes waiting for them, ms_total is right. */
  double ms_tokenize, ms_preprocess, ms_beit, ms_hiera, ms_heads, ms_postprocess, ms_total;
  size_t peak_bytes; /* arena high-water mark (host + device arenas) of the session so far */
} RmSegmentResult;

/* Segments an RGB image (channels = 3) with n expressions. Returns n results or NULL. */
RmSegmentResult **rm_session_segment (RmSession *session, const RmImage *image,
                                      const char *const *texts, int n,
                                      const RmSegmentParams *params, GError **error);
void rm_segment_result_free (RmSegmentResult *result);
void rm_segment_results_free (RmSegmentResult **results, int n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmModel, rm_model_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmSession, rm_session_free)

G_END_DECLS
