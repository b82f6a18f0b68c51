/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask train: fine-tune a model on a refs.jsonl split with the official recipe.
 * Ctrl+C stops after the current step and keeps a checkpoint; --resume continues it.
 */
#include "cli.h"
#include "cli-common.h"
#include "rm-project.h"
#include "rm-train.h"

#include <stdio.h>

static void
on_progress (void *user, const RmTrainProgress *p)
{
  if (g_str_equal (p->event, "validation"))
    rm_cli_print_metrics (p->validation_before ? "validation before" : "validation",
                          &p->validation);
  else if (g_str_equal (p->event, "step"))
    printf ("step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT "  epoch %d  loss %.4f (ce %.4f dice "
            "%.4f boundary %.2e)  lr %.2g/%.2g  %.2f samples/s  ETA %.0f s\n",
            p->step, p->total_steps, p->epoch, p->loss.total, p->loss.ce, p->loss.dice,
            p->loss.boundary, p->lr, p->lr_bifit, p->samples_per_s, p->eta_s);
  fflush (stdout);
}

int
rm_cli_train (int argc, char **argv)
{
  RmTrainParams p = rm_train_default_params ();
  g_autofree char *model = NULL, *refs = NULL, *split = NULL, *val_split = NULL, *out = NULL;
  g_autofree char *project = NULL, *project_tmp = NULL;
  gint64 steps = 0, seed = (gint64) p.seed, lr_drop = 0;
  int epochs = 0, accum = p.accum, threads = 0, ckpt = p.checkpoint_every, val_limit = 0;
  double lr = p.lr, lr_bifit = p.lr_bifit, wd = p.weight_decay;
  gboolean resume = FALSE, black = FALSE, flips = FALSE, train_all = FALSE, recompute = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model directory to start from", "DIR" },
    { "refs", 'r', 0, G_OPTION_ARG_FILENAME, &refs, "refs.jsonl with the samples", "FILE" },
    { "project", 'p', 0, G_OPTION_ARG_FILENAME, &project, "Or: a project's accepted annotations",
      "FILE" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split, "Training split (default: train)", "NAME" },
    { "val-split", 0, 0, G_OPTION_ARG_STRING, &val_split, "Validation split (before and after)",
      "NAME" },
    { "val-limit", 0, 0, G_OPTION_ARG_INT, &val_limit, "At most N validation samples", "N" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output model directory", "DIR" },
    { "steps", 0, 0, G_OPTION_ARG_INT64, &steps, "Optimizer steps", "N" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "Passes over the split (default 1)", "N" },
    { "accum", 0, 0, G_OPTION_ARG_INT, &accum, "Expressions per optimizer step (default 8)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Learning rate (default 5e-5)", "LR" },
    { "lr-bifit", 0, 0, G_OPTION_ARG_DOUBLE, &lr_bifit,
      "LR of adapters, fusion, MPG (default 1e-4)", "LR" },
    { "lr-drop-step", 0, 0, G_OPTION_ARG_INT64, &lr_drop, "From this step on, both rates x0.1",
      "N" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &wd, "AdamW weight decay (default 0.01)", "WD" },
    { "train-all", 0, 0, G_OPTION_ARG_NONE, &train_all,
      "Also train the Hiera trunk and neck (training from scratch)", NULL },
    { "black-squares", 0, 0, G_OPTION_ARG_NONE, &black, "Official black-square augmentation",
      NULL },
    { "flips", 0, 0, G_OPTION_ARG_NONE, &flips, "Mirror flips that rewrite left/right, top/bottom",
      NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (default 2401)", "N" },
    { "checkpoint-every", 0, 0, G_OPTION_ARG_INT, &ckpt, "Checkpoint every N steps (default 100)",
      "N" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &resume, "Continue the run in --out", NULL },
    { "recompute", 0, 0, G_OPTION_ARG_NONE, &recompute,
      "Re-run each Hiera block in the backward instead of keeping its activations (less memory, "
      "same gradients)",
      NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx =
      g_option_context_new ("— fine-tune a model with the official recipe");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error) || argc != 1 ||
      (refs == NULL) == (project == NULL) || out == NULL || (model == NULL && !resume))
    {
      fprintf (stderr, "refmask train: %s\n",
               error ? error->message
                     : "--refs or --project, --out and --model (or --resume) are required");
      return 2;
    }
  if (project != NULL && (refs = rm_cli_project_to_refs (project, &project_tmp, &error)) == NULL)
    {
      fprintf (stderr, "refmask train: %s\n", error->message);
      rm_remove_tree (project_tmp);
      return 1;
    }
  p.model_dir = model;
  p.refs = refs;
  p.split = split ? split : "train";
  p.val_split = val_split;
  p.val_limit = val_limit;
  p.out_dir = out;
  p.steps = steps;
  p.epochs = epochs > 0 ? epochs : 1;
  p.accum = accum;
  p.lr = (float) lr;
  p.lr_bifit = (float) lr_bifit;
  p.weight_decay = (float) wd;
  p.lr_drop_step = lr_drop;
  p.black_squares = black;
  p.flips = flips;
  p.train_all = train_all;
  p.seed = (uint64_t) seed;
  p.checkpoint_every = ckpt;
  p.resume = resume;
  p.recompute = recompute;
  p.n_threads = threads;
  p.progress = on_progress;
  p.abort = rm_cli_interrupted;
  rm_cli_catch_interrupts ();
  RmTrainResult r;
  gboolean trained = rm_train (&p, &r, &error);
  rm_remove_tree (project_tmp);
  if (!trained)
    {
      fprintf (stderr, "refmask train: %s\n", error->message);
      return 1;
    }
  printf ("%s after %" G_GINT64_FORMAT " steps in %.0f s; model in %s%s\n",
          r.cancelled ? "stopped" : "finished", r.steps_done, r.seconds, out,
          r.cancelled ? " (resume with --resume)" : "");
  if (r.have_validation && !r.cancelled)
    {
      if (r.val_before.n > 0) /* not measured again when a run is resumed */
        rm_cli_print_metrics ("validation before", &r.val_before);
      rm_cli_print_metrics ("validation after ", &r.val_after);
    }
  return r.cancelled ? 130 : 0;
}
