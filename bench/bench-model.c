/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench/bench-model: time per query of the engine, as a ratio to this machine's roofline measured
 * in the same run. Configurations: (a) the golden set's, (b) the small interactive one (Hiera-tiny
 * at 512 + BEiT-3 6 x 384 at 224), (c) the released large one at 1024; random weights.
 *
 *   bench-model [--configs abct] [--runs N] [--threads N] [--shared DIR] [--device cpu|cuda]
 *               [--recompute]
 *
 * --device cuda times the forward on the first GPU (weights uploaded once, as a CUDA session
 * does; each run ends when the logits are back on the host). The roofline ratios are the CPU's
 * and are not printed for it. --recompute makes the training step (t) re-run each Hiera block in
 * the backward (RmTrainParams.recompute) instead of keeping its activations.
 */
#include "rm-config.h"
#include "rm-cuda.h"
#include "rm-device.h"
#include "rm-forward.h"
#include "rm-adamw.h"
#include "rm-autograd.h"
#include "rm-loss.h"
#include "rm-roofline.h"
#include "rm-tape.h"

#include <cblas.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void
config_small (RmModelConfig *c)
{
  rm_model_config_init_large (c);
  c->sam_image_size = 512;
  c->hiera_embed_dim = 96;
  c->hiera_num_heads = 1;
  int stages[] = { 1, 2, 7, 2 }, windows[] = { 8, 4, 14, 7 }, globals[] = { 5, 7, 9 };
  memcpy (c->hiera_stages, stages, sizeof stages);
  memcpy (c->hiera_window_spec, windows, sizeof windows);
  memcpy (c->hiera_global_att_blocks, globals, sizeof globals);
  c->hiera_n_global_att_blocks = 3;
  c->beit_dim = 384;
  c->beit_heads = 6;
  c->beit_ffn_dim = 1536;
  c->beit_layers = 6;
}

static bool
config_golden (RmModelConfig *c, const char *shared, GError **error)
{
  g_autofree char *path = g_build_filename (shared, "golden", "manifest.json", NULL);
  return rm_model_config_load (c, path, error);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
peak_rss_gib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double) ru.ru_maxrss / (1024.0 * 1024.0);
}

typedef struct
{
  RmForward *fw;
  const RmForwardInput *in;
  RmForwardOutput *out;
} ForwardCall;

static bool
forward_run (void *user, GError **error)
{
  const ForwardCall *call = user;
  return rm_forward (call->fw, call->in, call->out);
}

static void
bench_one (const char *label, const RmModelConfig *cfg, int runs, int threads,
           const RmRoofline *roof, bool cuda)
{
  RmWeights *w = rm_weights_new_random (cfg, 7, 0.02f);
  RmModelCore core, dev_core;
  rm_model_core_init (&core, cfg, w);
  g_autoptr (GError) error = NULL;
  RmCtx *ctx = cuda ? rm_ctx_new_cuda (0, &error) : rm_ctx_new (threads);
  RmCtx *weights_ctx = cuda && ctx != NULL ? rm_ctx_new_cuda (0, &error) : NULL;
  if (cuda &&
      (weights_ctx == NULL || !rm_model_core_to_device (&core, weights_ctx, &dev_core, &error)))
    {
      fprintf (stderr, "bench-model: %s: %s\n", label, error->message);
      rm_ctx_free (ctx);
      rm_model_core_clear (&core);
      return;
    }
  int64_t s = cfg->sam_image_size, b = cfg->beit_image_size;
  int len = 16; /* a typical RRSIS-D expression with <s> and </s> */
  int64_t ids[16];
  uint8_t pad[16] = { 0 };
  for (int i = 0; i < len; i++)
    ids[i] = i == 0 ? 0 : i == len - 1 ? 2 : 4 + 37 * i % (cfg->beit_vocab_size - 10);
  float *sam = g_new0 (float, 3 * s * s), *beit = g_new0 (float, 3 * b * b);
  for (int64_t i = 0; i < 3 * s * s; i++)
    sam[i] = (float) ((i * 7919) % 255) / 255.0f - 0.5f;
  for (int64_t i = 0; i < 3 * b * b; i++)
    beit[i] = (float) ((i * 104729) % 255) / 255.0f - 0.5f;

  double *t = g_new (double, runs);
  uint64_t flops = 0;
  double beit_ms = 0, hiera_ms = 0, heads_ms = 0;
  size_t peak = 0;
  bool failed = false;
  for (int r = -1; r < runs; r++) /* run -1 warms up */
    {
      rm_ctx_reset (ctx);
      ctx->flops = 0;
      RmForward fw = { .ctx = ctx, .core = cuda ? &dev_core : &core };
      gint64 t0 = g_get_monotonic_time ();
      RmForwardInput in = {
        .sam_image = rm_upload (ctx, rm_wrap (ctx, sam, 4, (int64_t[]){ 1, 3, s, s }), &error),
        .beit_image = rm_upload (ctx, rm_wrap (ctx, beit, 4, (int64_t[]){ 1, 3, b, b }), &error),
        .ids = ids,
        .pad = pad,
        .batch = 1,
        .text_len = len
      };
      RmForwardOutput out;
      if (in.sam_image == NULL || in.beit_image == NULL ||
          /* running out of device memory is reported (the inputs and outputs live in the
           * context's arenas, which the guard trims; nothing else is allocated below it) */
          !rm_device_run_guarded (ctx, forward_run, &(ForwardCall){ &fw, &in, &out }, &error) ||
          rm_download (ctx, out.pred_masks, &error) == NULL) /* waits for a device */
        {
          fprintf (stderr, "bench-model: %s: %s\n", label,
                   error      ? error->message
                   : fw.error ? fw.error->message
                              : "forward failed");
          g_clear_error (&fw.error);
          failed = true;
          break;
        }
      double sec = (double) (g_get_monotonic_time () - t0) / 1e6;
      if (r >= 0)
        {
          t[r] = sec;
          beit_ms += fw.ms_beit / runs, hiera_ms += fw.ms_hiera / runs,
              heads_ms += fw.ms_heads / runs;
        }
      flops = ctx->flops;
      peak = rm_ctx_peak_bytes (ctx);
    }
  if (failed)
    goto done;
  qsort (t, (size_t) runs, sizeof *t, compare_doubles);
  double med = t[runs / 2];
  double gemm_roof = threads > 1 ? roof->gemm_gflops_all : roof->gemm_gflops_1t;
  double gflops = (double) flops / 1e9;
  double roof_time = gflops / gemm_roof;
  printf ("%-8s median %8.3f s/query on %s (%d runs; BEiT-3 %.0f ms, Hiera %.0f ms, heads %.0f "
          "ms%s)\n",
          label, med, cuda ? "cuda" : "cpu", runs, beit_ms, hiera_ms, heads_ms,
          cuda ? " to queue" : "");
  if (cuda)
    printf ("%-8s %.1f GFLOP/query, %.1f GFLOP/s; device arena peak %.2f GiB\n", label,
            (double) flops / 1e9, (double) flops / 1e9 / med, (double) peak / (1 << 30));
  else
    printf ("%-8s %.1f GFLOP/query, %.1f GFLOP/s achieved = %.2f of the %d-thread GEMM roofline "
            "(%.1f GFLOP/s); time / roofline time = %.2fx\n",
            label, gflops, gflops / med, gflops / med / gemm_roof, threads, gemm_roof,
            med / roof_time);
  if (!cuda)
    printf ("%-8s activation arena peak %.2f GiB, process peak RSS %.2f GiB\n", label,
            (double) peak / (1 << 30), peak_rss_gib ());
  fflush (stdout);
done:
  g_free (t), g_free (sam), g_free (beit);
  rm_ctx_free (ctx);
  if (cuda)
    rm_model_core_clear (&dev_core); /* and weights_ctx, which it owns */
  rm_model_core_clear (&core);
}

static const RmGrad *grad_for_step;

static void
register_param (void *user, const RmTensor *leaf, const float *grad)
{
  g_autofree char *name = g_strdup_printf ("p%p", (const void *) leaf);
  rm_adamw_add_param (user, g_intern_string (name), (RmTensor *) leaf, 0);
}

static const float *
leaf_grad (void *user, const char *name, const RmTensor *param)
{
  return rm_grad_get (grad_for_step, param);
}

/* One training step of the official recipe at batch 1: forward with the tape, loss, backward,
 * AdamW on the trainable set. FLOPs: the forward's counted GEMM-class work times 3 (the usual
 * estimate: the backward costs two forwards; frozen weights need no weight gradient, so the true
 * count is somewhat lower and the ratio somewhat flattering). */
static void
bench_train_step (const char *label, const RmModelConfig *cfg, int runs, int threads,
                  bool recompute, const RmRoofline *roof)
{
  RmWeights *w = rm_weights_new_random (cfg, 7, 0.02f);
  rm_weights_make_trainable (w);
  RmModelCore core;
  rm_model_core_init (&core, cfg, w);
  RmCtx *ctx = rm_ctx_new (threads);
  ctx->tape = rm_tape_new ();
  RmAdamWGroup groups[2] = { rm_adamw_group_default (5e-5f), rm_adamw_group_default (1e-4f) };
  RmAdamW *opt = rm_adamw_new (2, groups);
  int64_t s = cfg->sam_image_size, b = cfg->beit_image_size, len = 16;
  int64_t ids[16];
  uint8_t pad[16] = { 0 };
  for (int i = 0; i < len; i++)
    ids[i] = i == 0 ? 0 : i == len - 1 ? 2 : 4 + 37 * i % (cfg->beit_vocab_size - 10);
  float *sam = g_new0 (float, 3 * s * s), *beit = g_new0 (float, 3 * b * b),
        *dz = g_new (float, s *s);
  uint8_t *target = g_new0 (uint8_t, s * s);
  for (int64_t i = 0; i < s * s; i++)
    target[i] = (i / s) < s / 3;
  double *t = g_new (double, runs), fwd_ms = 0, bwd_ms = 0, opt_ms = 0;
  uint64_t flops = 0;
  for (int r = -1; r < runs; r++)
    {
      rm_ctx_reset (ctx);
      rm_tape_reset (ctx->tape);
      ctx->flops = 0;
      RmForward fw = { .ctx = ctx, .core = &core, .recompute = recompute };
      RmForwardInput in = { .sam_image = rm_wrap (ctx, sam, 4, (int64_t[]){ 1, 3, s, s }),
                            .beit_image = rm_wrap (ctx, beit, 4, (int64_t[]){ 1, 3, b, b }),
                            .ids = ids,
                            .pad = pad,
                            .batch = 1,
                            .text_len = (int) len };
      RmForwardOutput out;
      gint64 t0 = g_get_monotonic_time ();
      rm_forward (&fw, &in, &out);
      flops = ctx->flops;
      gint64 t1 = g_get_monotonic_time ();
      RmLossParams lp = rm_loss_default_params ();
      RmLossTerms terms;
      float dsen;
      rm_refseg_loss (&lp, out.pred_masks->data, target, out.text_weight->data, 1, (int) s, (int) s,
                      &terms, dz, &dsen);
      const RmTensor *seeds[] = { out.pred_masks, out.text_weight };
      const float *grads[] = { dz, &dsen };
      RmGrad *g = rm_backward (ctx, 2, seeds, grads, NULL);
      gint64 t2 = g_get_monotonic_time ();
      if (r == -1)
        rm_grad_foreach_leaf (g, register_param, opt);
      grad_for_step = g;
      rm_adamw_step (opt, leaf_grad, NULL);
      rm_grad_free (g);
      gint64 t3 = g_get_monotonic_time ();
      if (r >= 0)
        {
          t[r] = (double) (t3 - t0) / 1e6;
          fwd_ms += (double) (t1 - t0) / 1e3 / runs, bwd_ms += (double) (t2 - t1) / 1e3 / runs;
          opt_ms += (double) (t3 - t2) / 1e3 / runs;
        }
    }
  qsort (t, (size_t) runs, sizeof *t, compare_doubles);
  double med = t[runs / 2], gemm_roof = threads > 1 ? roof->gemm_gflops_all : roof->gemm_gflops_1t;
  double gflops = 3.0 * (double) flops / 1e9;
  printf ("%-8s training step median %.3f s (forward %.0f ms, backward %.0f ms, AdamW %.0f ms)\n",
          label, med, fwd_ms, bwd_ms, opt_ms);
  printf ("%-8s ~%.0f GFLOP/step (3x forward), %.1f GFLOP/s = %.2f of the GEMM roofline; time / "
          "roofline time = %.2fx; arena peak %.2f GiB, peak RSS %.2f GiB\n",
          label, gflops, gflops / med, gflops / med / gemm_roof, med / (gflops / gemm_roof),
          (double) rm_arena_peak_bytes (ctx->arena) / (1 << 30), peak_rss_gib ());
  fflush (stdout);
  g_free (t), g_free (sam), g_free (beit), g_free (dz), g_free (target);
  rm_adamw_free (opt);
  rm_tape_free (ctx->tape);
  ctx->tape = NULL;
  rm_ctx_free (ctx);
  rm_model_core_clear (&core);
}

int
main (int argc, char **argv)
{
  g_autofree char *configs = g_strdup ("ab");
  g_autofree char *shared = NULL, *config_file = NULL, *device = NULL;
  gboolean recompute = FALSE;
  int runs = 3, threads = (int) sysconf (_SC_NPROCESSORS_ONLN);
  GOptionEntry entries[] = {
    { "configs", 'c', 0, G_OPTION_ARG_STRING, &configs,
      "Which of a, b, c, t (t: a training step of b; default ab)", "abct" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs, "Timed runs each (default 3)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { "shared", 's', 0, G_OPTION_ARG_FILENAME, &shared, "Shared references (for a)", "DIR" },
    { "config-file", 'f', 0, G_OPTION_ARG_FILENAME, &config_file, "Also this config.json", "FILE" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "Forward on cpu (default) or cuda",
      "cpu|cuda" },
    { "recompute", 0, 0, G_OPTION_ARG_NONE, &recompute,
      "Training step (t): re-run each Hiera block in the backward", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("— engine benchmark");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || runs < 1 || threads < 1 ||
      (device != NULL && strcmp (device, "cpu") != 0 && strcmp (device, "cuda") != 0))
    {
      fprintf (stderr, "bench-model: %s\n", error ? error->message : "bad arguments");
      return 2;
    }
  const bool cuda = device != NULL && strcmp (device, "cuda") == 0;
  if (shared == NULL)
    shared =
        g_strdup (g_getenv ("REFMASK_SHARED_DIR") ? g_getenv ("REFMASK_SHARED_DIR") : "../shared");
  RmRoofline roof;
  rm_roofline_measure (&roof, 1);
  if (config_file != NULL)
    {
      RmModelConfig cfg;
      if (!rm_model_config_load (&cfg, config_file, &error))
        {
          fprintf (stderr, "bench-model: %s\n", error->message);
          return 1;
        }
      bench_one ("(file)", &cfg, runs, threads, &roof, cuda);
    }
  for (const char *c = configs; *c; c++)
    {
      RmModelConfig cfg;
      if (*c == 'a')
        {
          if (!config_golden (&cfg, shared, &error))
            {
              fprintf (stderr, "bench-model: (a) needs the golden set: %s\n", error->message);
              g_clear_error (&error);
              continue;
            }
          bench_one ("(a)", &cfg, runs, threads, &roof, cuda);
        }
      else if (*c == 'b')
        {
          config_small (&cfg);
          bench_one ("(b)", &cfg, runs, threads, &roof, cuda);
        }
      else if (*c == 't')
        {
          config_small (&cfg);
          if (cuda) /* the CUDA backend has no backward kernels */
            fprintf (stderr,
                     "bench-model: (t) trains on the CPU only; skipped with --device cuda\n");
          else
            bench_train_step (recompute ? "(b) train, recompute" : "(b) train", &cfg, runs, threads,
                              recompute, &roof);
        }
      else if (*c == 'c')
        {
          rm_model_config_init_large (&cfg);
          bench_one ("(c)", &cfg, runs, threads, &roof, cuda);
        }
    }
  return 0;
}
