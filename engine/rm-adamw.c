/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-adamw.h"

#include "rm-error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* torch's vectorised kernels compute v + (c*g)*g and p + (s*m)/d with separate roundings: keep
 * the compiler from fusing them. */
#if defined(__clang__)
#define RM_NO_CONTRACT
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#define RM_NO_CONTRACT __attribute__ ((optimize ("fp-contract=off")))
#else
#define RM_NO_CONTRACT
#endif

typedef struct
{
  char *name;
  RmTensor *param;
  int group;
  float *exp_avg, *exp_avg_sq;
  int64_t step;
  float step_f; /* the step as the float tensor handed out by rm_adamw_foreach_state */
} RmAdamWParam;

struct RmAdamW
{
  int n_groups;
  RmAdamWGroup *groups;
  GPtrArray *params; /* RmAdamWParam* */
  GHashTable *by_name;
  int64_t step;
  RmThreadPool *pool;
};

RmAdamWGroup
rm_adamw_group_default (float lr)
{
  return (RmAdamWGroup){
    .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f
  };
}

static void
param_free (gpointer p)
{
  RmAdamWParam *ap = p;
  g_free (ap->name);
  g_free (ap->exp_avg);
  g_free (ap->exp_avg_sq);
  g_free (ap);
}

RmAdamW *
rm_adamw_new (int n_groups, const RmAdamWGroup *groups)
{
  RM_CHECK (n_groups > 0 && groups != NULL, "adamw: %d groups", n_groups);
  RmAdamW *opt = g_new0 (RmAdamW, 1);
  opt->n_groups = n_groups;
  opt->groups = g_memdup2 (groups, (gsize) n_groups * sizeof *groups);
  opt->params = g_ptr_array_new_with_free_func (param_free);
  opt->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return opt;
}

void
rm_adamw_free (RmAdamW *opt)
{
  if (opt == NULL)
    return;
  g_hash_table_unref (opt->by_name);
  g_ptr_array_unref (opt->params);
  g_free (opt->groups);
  g_free (opt);
}

void
rm_adamw_add_param (RmAdamW *opt, const char *name, RmTensor *param, int group)
{
  RM_CHECK (group >= 0 && group < opt->n_groups, "adamw: group %d of %d for %s", group,
            opt->n_groups, name);
  RM_CHECK (!g_hash_table_contains (opt->by_name, name), "adamw: %s registered twice", name);
  RM_CHECK (rm_tensor_is_contiguous (param), "adamw: %s must be contiguous", name);
  RmAdamWParam *ap = g_new0 (RmAdamWParam, 1);
  ap->name = g_strdup (name);
  ap->param = param;
  ap->group = group;
  const int64_t n = rm_tensor_numel (param);
  ap->exp_avg = g_new0 (float, n > 0 ? n : 1);
  ap->exp_avg_sq = g_new0 (float, n > 0 ? n : 1);
  g_ptr_array_add (opt->params, ap);
  g_hash_table_insert (opt->by_name, ap->name, ap);
}

size_t
rm_adamw_n_params (const RmAdamW *opt)
{
  return opt->params->len;
}

void
rm_adamw_set_pool (RmAdamW *opt, RmThreadPool *pool)
{
  opt->pool = pool;
}

RmAdamWGroup *
rm_adamw_group (RmAdamW *opt, int group)
{
  RM_CHECK (group >= 0 && group < opt->n_groups, "adamw: group %d of %d", group, opt->n_groups);
  return &opt->groups[group];
}

int64_t
rm_adamw_get_step (const RmAdamW *opt)
{
  return opt->step;
}

void
rm_adamw_set_step (RmAdamW *opt, int64_t step)
{
  opt->step = step;
}

/* The double a Python user meant by a float hyper-parameter: the shortest decimal that rounds to
 * it (0.999f -> 0.999, not 0.99900001287). torch forms 1 - beta2**t and lr * wd in double. */
static double
decimal_value (float f)
{
  char buf[32];
  for (int digits = 1; digits <= 9; digits++)
    {
      snprintf (buf, sizeof buf, "%.*g", digits, (double) f);
      if (strtof (buf, NULL) == f)
        return strtod (buf, NULL);
    }
  return (double) f;
}

typedef struct
{
  float *p, *m, *v;
  const float *g;
  float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
} RmAdamWUpdate;

RM_NO_CONTRACT static void
update_range (void *user, int64_t begin, int64_t end, int worker)
{
  const RmAdamWUpdate *u = user;
  float *restrict p = u->p, *restrict m = u->m, *restrict v = u->v;
  const float *restrict g = u->g;
  for (int64_t i = begin; i < end; i++)
    {
      /* param.mul_(1 - lr * weight_decay) */
      const float pi = p[i] * u->decay;
      /* exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1): add is fmadd(grad, alpha, self) */
      const float mi = fmaf (g[i], u->one_minus_beta1, m[i] * u->beta1);
      /* exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2): self + value*t1*t2 */
      const float vi = v[i] * u->beta2 + (u->one_minus_beta2 * g[i]) * g[i];
      /* denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) */
      const float denom = sqrtf (vi) / u->bc2_sqrt + u->eps;
      /* param.addcdiv_(exp_avg, denom, value=-step_size): self + value*t1/t2 */
      p[i] = pi + (u->neg_step_size * mi) / denom;
      m[i] = mi;
      v[i] = vi;
    }
}

void
rm_adamw_step (RmAdamW *opt, RmAdamWGradFunc grad_of, void *user)
{
  for (guint i = 0; i < opt->params->len; i++)
    {
      RmAdamWParam *ap = g_ptr_array_index (opt->params, i);
      const float *g = grad_of (user, ap->name, ap->param);
      if (g == NULL)
        continue;
      const RmAdamWGroup *grp = &opt->groups[ap->group];
      const double lr = decimal_value (grp->lr), wd = decimal_value (grp->weight_decay);
      const double b1 = decimal_value (grp->beta1), b2 = decimal_value (grp->beta2);
      ap->step++;
      const double bc1 = 1.0 - pow (b1, (double) ap->step);
      const double bc2 = 1.0 - pow (b2, (double) ap->step);
      RmAdamWUpdate u = {
        .p = ap->param->data,
        .m = ap->exp_avg,
        .v = ap->exp_avg_sq,
        .g = g,
        .decay = (float) (1.0 - lr * wd),
        .beta1 = (float) b1,
        .one_minus_beta1 = (float) (1.0 - b1),
        .beta2 = (float) b2,
        .one_minus_beta2 = (float) (1.0 - b2),
        .bc2_sqrt = (float) sqrt (bc2),
        .eps = (float) decimal_value (grp->eps),
        .neg_step_size = (float) -(lr / bc1),
      };
      rm_parallel_for_grain (opt->pool, rm_tensor_numel (ap->param), 65536, update_range, &u);
    }
  opt->step++;
}

/* ---- state ------------------------------------------------------------------------------ */

void
rm_adamw_foreach_state (const RmAdamW *opt, RmAdamWStateFunc fn, void *user)
{
  for (guint i = 0; i < opt->params->len; i++)
    {
      RmAdamWParam *ap = g_ptr_array_index (opt->params, i);
      RmTensor t;
      g_autofree char *n_avg = g_strconcat (ap->name, ".exp_avg", NULL);
      g_autofree char *n_sq = g_strconcat (ap->name, ".exp_avg_sq", NULL);
      g_autofree char *n_step = g_strconcat (ap->name, ".step", NULL);
      rm_tensor_init (&t, ap->exp_avg, ap->param->ndim, ap->param->shape);
      fn (user, n_avg, &t);
      rm_tensor_init (&t, ap->exp_avg_sq, ap->param->ndim, ap->param->shape);
      fn (user, n_sq, &t);
      ap->step_f = (float) ap->step; /* lives in the optimizer, like the moments */
      rm_tensor_init (&t, &ap->step_f, 1, (const int64_t[]){ 1 });
      fn (user, n_step, &t);
    }
}

static const RmStTensor *
state_tensor (const RmSafetensors *st, const char *name, const RmTensor *param, bool scalar,
              GError **error)
{
  const RmStTensor *t = rm_safetensors_get (st, name, error);
  if (t == NULL)
    return NULL;
  bool ok = t->dtype == RM_ST_F32;
  if (ok && scalar)
    ok = rm_st_tensor_numel (t) == 1;
  else if (ok)
    {
      ok = t->ndim == param->ndim;
      for (int d = 0; ok && d < t->ndim; d++)
        ok = t->shape[d] == param->shape[d];
    }
  if (!ok)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_SHAPE, "optimizer state %s: expected F32 %s", name,
                   scalar ? "scalar" : "of the parameter's shape");
      return NULL;
    }
  return t;
}

gboolean
rm_adamw_load_state (RmAdamW *opt, const RmSafetensors *st, GError **error)
{
  const guint n = opt->params->len;
  g_autofree const RmStTensor **found = g_new0 (const RmStTensor *, 3 * (gsize) n + 1);
  for (guint i = 0; i < n; i++)
    {
      RmAdamWParam *ap = g_ptr_array_index (opt->params, i);
      static const char *const suffix[3] = { ".exp_avg", ".exp_avg_sq", ".step" };
      for (int k = 0; k < 3; k++)
        {
          g_autofree char *name = g_strconcat (ap->name, suffix[k], NULL);
          found[3 * i + k] = state_tensor (st, name, ap->param, k == 2, error);
          if (found[3 * i + k] == NULL)
            return FALSE;
        }
      float step = *(const float *) found[3 * i + 2]->data;
      if (!(step >= 0.0f && step <= 16777216.0f && step == floorf (step)))
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "optimizer state %s.step: bad count %g",
                       ap->name, (double) step);
          return FALSE;
        }
    }
  int64_t global = -1;
  const char *meta = rm_safetensors_get_metadata (st, "adamw_step");
  if (meta != NULL)
    {
      char *end = NULL;
      long long v = strtoll (meta, &end, 10);
      if (end == meta || *end != '\0' || v < 0)
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "optimizer metadata adamw_step: '%s'",
                       meta);
          return FALSE;
        }
      global = v;
    }
  for (guint i = 0; i < n; i++)
    {
      RmAdamWParam *ap = g_ptr_array_index (opt->params, i);
      const size_t bytes = (size_t) rm_tensor_numel (ap->param) * sizeof (float);
      memcpy (ap->exp_avg, found[3 * i]->data, bytes);
      memcpy (ap->exp_avg_sq, found[3 * i + 1]->data, bytes);
      ap->step = (int64_t) * (const float *) found[3 * i + 2]->data;
    }
  if (global >= 0)
    opt->step = global;
  return TRUE;
}

gboolean
rm_adamw_save (const RmAdamW *opt, const char *path, GError **error)
{
  const guint n = opt->params->len;
  g_autofree RmStTensor *ts = g_new0 (RmStTensor, 3 * (gsize) n + 1);
  g_autofree float *steps = g_new0 (float, n + 1);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n; i++)
    {
      const RmAdamWParam *ap = g_ptr_array_index (opt->params, i);
      const size_t bytes = (size_t) rm_tensor_numel (ap->param) * sizeof (float);
      static const char *const suffix[3] = { ".exp_avg", ".exp_avg_sq", ".step" };
      steps[i] = (float) ap->step;
      for (int k = 0; k < 3; k++)
        {
          RmStTensor *t = &ts[3 * i + k];
          char *name = g_strconcat (ap->name, suffix[k], NULL);
          g_ptr_array_add (names, name);
          t->name = name;
          t->dtype = RM_ST_F32;
          if (k == 2)
            {
              t->ndim = 1;
              t->shape[0] = 1;
              t->data = &steps[i];
              t->nbytes = sizeof (float);
              continue;
            }
          t->ndim = ap->param->ndim;
          for (int d = 0; d < t->ndim; d++)
            t->shape[d] = ap->param->shape[d];
          t->data = k == 0 ? ap->exp_avg : ap->exp_avg_sq;
          t->nbytes = bytes;
        }
    }
  g_autofree char *step = g_strdup_printf ("%" G_GINT64_FORMAT, opt->step);
  const char *metadata[] = { "format", "refmask-adamw", "adamw_step", step, NULL };
  return rm_safetensors_write (path, 3 * (size_t) n, ts, metadata, error);
}

gboolean
rm_adamw_load (RmAdamW *opt, const char *path, GError **error)
{
  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, error);
  return st != NULL && rm_adamw_load_state (opt, st, error);
}
