/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-weights.h"
#include "rm-device.h"
#include "rm-error.h"
#include "rm-model-keys.h"
#include "rm-params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_REPORTED_PROBLEMS 20

struct RmWeights
{
  RmSafetensors *st;   /* owned */
  GHashTable *tensors; /* official key -> RmTensor* (g_free'd) */
  GPtrArray *owned;    /* converted fp32 buffers */
};

typedef struct
{
  RmWeights *w;
  GHashTable *file_keys; /* official key -> const RmStTensor* not yet matched */
  GString *problems;
  int n_problems;
} Validation;

static void add_problem (Validation *v, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
add_problem (Validation *v, const char *fmt, ...)
{
  if (v->n_problems++ >= MAX_REPORTED_PROBLEMS)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_string_append (v->problems, "\n  ");
  g_string_append_vprintf (v->problems, fmt, ap);
  va_end (ap);
}

static char *
shape_string (int ndim, const int64_t *shape)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
check_expected_key (void *user, const char *key, int ndim, const int64_t *shape)
{
  Validation *v = user;
  const RmStTensor *t = g_hash_table_lookup (v->file_keys, key);
  if (t == NULL)
    {
      g_autofree char *want = shape_string (ndim, shape);
      add_problem (v, "missing: %s %s", key, want);
      return;
    }
  g_hash_table_remove (v->file_keys, key);
  bool same = t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++)
    same = t->shape[i] == shape[i];
  if (!same)
    {
      g_autofree char *want = shape_string (ndim, shape);
      g_autofree char *have = shape_string (t->ndim, t->shape);
      add_problem (v, "wrong shape: %s is %s, expected %s", key, have, want);
      return;
    }
  if (t->dtype != RM_ST_F32 && t->dtype != RM_ST_F16 && t->dtype != RM_ST_BF16)
    {
      add_problem (v, "wrong dtype: %s is %s, expected F32, F16 or BF16", key,
                   rm_st_dtype_name (t->dtype));
      return;
    }
  float *data;
  if (t->dtype == RM_ST_F32)
    data = (float *) t->data; /* read-only mapping: ops never write to weights */
  else
    {
      g_autoptr (GError) err = NULL;
      data = rm_st_tensor_to_float32 (t, NULL, &err);
      if (data == NULL)
        {
          add_problem (v, "%s: %s", key, err->message);
          return;
        }
      g_ptr_array_add (v->w->owned, data);
    }
  RmTensor *tensor = g_new0 (RmTensor, 1);
  rm_tensor_init (tensor, data, ndim, shape);
  g_hash_table_insert (v->w->tensors, g_strdup (key), tensor);
}

static const char *
official_key (const char *name)
{
  static const char *const training_prefixes[] = { "module.evf_model.", "evf_model." };
  for (size_t i = 0; i < G_N_ELEMENTS (training_prefixes); i++)
    if (g_str_has_prefix (name, training_prefixes[i]))
      return name + strlen (training_prefixes[i]);
  return name;
}

RmWeights *
rm_weights_from_safetensors (RmSafetensors *st, const RmModelConfig *cfg, GError **error)
{
  RmWeights *w = g_new0 (RmWeights, 1);
  w->st = st;
  w->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  w->owned = g_ptr_array_new_with_free_func (g_free);

  Validation v = { .w = w, .problems = g_string_new (NULL) };
  v.file_keys = g_hash_table_new (g_str_hash, g_str_equal);
  size_t n = rm_safetensors_count (st);
  for (size_t i = 0; i < n; i++)
    {
      const RmStTensor *t = rm_safetensors_nth (st, i);
      const char *key = official_key (t->name);
      if (g_hash_table_contains (v.file_keys, key))
        add_problem (&v, "duplicate: %s (under two prefixes)", key);
      g_hash_table_insert (v.file_keys, (gpointer) key, (gpointer) t);
    }
  rm_model_foreach_key (cfg, check_expected_key, &v);

  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, v.file_keys);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!rm_model_key_is_unused (key))
      add_problem (&v, "unexpected: %s", (const char *) key);
  g_hash_table_unref (v.file_keys);

  if (v.n_problems > 0)
    {
      if (v.n_problems > MAX_REPORTED_PROBLEMS)
        g_string_append_printf (v.problems, "\n  … and %d more",
                                v.n_problems - MAX_REPORTED_PROBLEMS);
      g_set_error (error, RM_ERROR, RM_ERROR_SHAPE,
                   "the weights do not match the configuration (%d problem%s):%s", v.n_problems,
                   v.n_problems == 1 ? "" : "s", v.problems->str);
      g_string_free (v.problems, TRUE);
      w->st = NULL; /* the caller keeps ownership on failure */
      rm_weights_free (w);
      return NULL;
    }
  g_string_free (v.problems, TRUE);
  return w;
}

RmWeights *
rm_weights_load (const char *path, const RmModelConfig *cfg, GError **error)
{
  RmSafetensors *st = rm_safetensors_open (path, error);
  if (st == NULL)
    return NULL;
  g_autoptr (GError) local = NULL;
  RmWeights *w = rm_weights_from_safetensors (st, cfg, &local);
  if (w == NULL)
    {
      rm_safetensors_close (st);
      g_set_error (error, RM_ERROR, local->code, "%s: %s", path, local->message);
    }
  return w;
}

void
rm_weights_free (RmWeights *w)
{
  if (w == NULL)
    return;
  g_hash_table_unref (w->tensors);
  g_ptr_array_unref (w->owned);
  if (w->st != NULL)
    rm_safetensors_close (w->st);
  g_free (w);
}

RmWeights *
rm_weights_to_device (const RmWeights *w, RmCtx *ctx, GError **error)
{
  RmWeights *dev = g_new0 (RmWeights, 1);
  dev->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  dev->owned = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, w->tensors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr (GError) local = NULL;
      const RmTensor *t = rm_upload (ctx, value, &local);
      if (t == NULL)
        {
          g_set_error (error, RM_ERROR, local->code, "weight %s: %s", (const char *) key,
                       local->message);
          rm_weights_free (dev);
          return NULL;
        }
      /* The struct moves to the heap (the table owns its values); the data stays in the
       * context's data arena. */
      g_hash_table_insert (dev->tensors, g_strdup (key), g_memdup2 (t, sizeof *t));
    }
  return dev;
}

const RmTensor *
rm_weights_lookup (const RmWeights *w, const char *key)
{
  return g_hash_table_lookup (w->tensors, key);
}

size_t
rm_weights_count (const RmWeights *w)
{
  return g_hash_table_size (w->tensors);
}

const RmTensor *
rm_weights_get (const RmWeights *w, const char *key)
{
  const RmTensor *t = g_hash_table_lookup (w->tensors, key);
  RM_CHECK (t != NULL, "weight '%s' was not validated by the loader", key);
  return t;
}

const RmTensor *
rm_weights_getf (const RmWeights *w, const char *fmt, ...)
{
  char key[256];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (key, sizeof key, fmt, ap);
  va_end (ap);
  return rm_weights_get (w, key);
}

/* splitmix64 + Box-Muller: reproducible on every platform, unlike rand(). */
static uint64_t
next_u64 (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double
next_normal (uint64_t *state)
{
  double u1 = ((double) (next_u64 (state) >> 11) + 0.5) / 9007199254740992.0;
  double u2 = (double) (next_u64 (state) >> 11) / 9007199254740992.0;
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

typedef struct
{
  RmWeights *w;
  uint64_t state;
  float std;
} RandomInit;

static bool
is_norm_scale (const char *key, int ndim)
{
  return ndim == 1 && g_str_has_suffix (key, ".weight") &&
         (strstr (key, "norm") != NULL || strstr (key, "_ln.") != NULL ||
          strstr (key, "ffn_layernorm") != NULL || strstr (key, "output_upscaling.1.") != NULL ||
          strstr (key, "mask_downscaling.1.") != NULL ||
          strstr (key, "mask_downscaling.4.") != NULL);
}

/* PyTorch's default initialisation where the official modules rely on it: Linear and Conv weights
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)), biases 0, LayerNorm
 * scales 1, the prompt encoder's Fourier matrix N(0, 1); embeddings, tokens and position tables
 * N(0, std) as BEiT-3 and Hiera initialise theirs. */
static void
init_random_key (void *user, const char *key, int ndim, const int64_t *shape)
{
  RandomInit *r = user;
  int64_t n = 1, fan_in = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  for (int i = 1; i < ndim; i++)
    fan_in *= shape[i];
  float *data = g_new (float, n);
  bool bias = g_str_has_suffix (key, ".bias") || g_str_has_suffix (key, "in_proj_bias");
  bool scale = is_norm_scale (key, ndim);
  bool fourier = g_str_has_suffix (key, "positional_encoding_gaussian_matrix");
  bool table = strstr (key, "embed") != NULL || strstr (key, "token") != NULL ||
               g_str_has_suffix (key, "pos_embed_window");
  double bound = 1.0 / sqrt ((double) MAX (fan_in, 1));
  for (int64_t i = 0; i < n; i++)
    {
      if (scale)
        data[i] = 1.0f;
      else if (bias)
        data[i] = 0.0f;
      else if (fourier)
        data[i] = (float) next_normal (&r->state);
      else if (table || ndim < 2)
        data[i] = (float) (r->std * next_normal (&r->state));
      else
        {
          double u = (double) (next_u64 (&r->state) >> 11) / 9007199254740992.0;
          data[i] = (float) ((2.0 * u - 1.0) * bound);
        }
    }
  g_ptr_array_add (r->w->owned, data);
  RmTensor *t = g_new0 (RmTensor, 1);
  rm_tensor_init (t, data, ndim, shape);
  g_hash_table_insert (r->w->tensors, g_strdup (key), t);
}

RmWeights *
rm_weights_new_random (const RmModelConfig *cfg, uint64_t seed, float std)
{
  RmWeights *w = g_new0 (RmWeights, 1);
  w->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  w->owned = g_ptr_array_new_with_free_func (g_free);
  RandomInit r = { .w = w, .state = seed, .std = std };
  rm_model_foreach_key (cfg, init_random_key, &r);
  return w;
}

typedef struct
{
  const RmWeights *w;
  RmWeightFunc fn;
  void *user;
} ForeachRelay;

static void
foreach_relay (void *user, const char *key, int ndim, const int64_t *shape)
{
  ForeachRelay *r = user;
  r->fn (r->user, key, rm_weights_get (r->w, key));
}

void
rm_weights_foreach (const RmWeights *w, const RmModelConfig *cfg, RmWeightFunc fn, void *user)
{
  ForeachRelay r = { w, fn, user };
  rm_model_foreach_key (cfg, foreach_relay, &r);
}

void
rm_weights_collect_st (void *user, const char *key, const RmTensor *t)
{
  GArray *arr = user;
  RmStTensor st = { .name = g_strdup (key),
                    .dtype = RM_ST_F32,
                    .ndim = t->ndim,
                    .data = t->data,
                    .nbytes = (size_t) rm_tensor_numel (t) * sizeof (float) };
  for (int i = 0; i < t->ndim; i++)
    st.shape[i] = t->shape[i];
  g_array_append_val (arr, st);
}

gboolean
rm_weights_save (const RmWeights *w, const RmModelConfig *cfg, const char *path, GError **error)
{
  g_autoptr (GArray) arr = g_array_new (FALSE, TRUE, sizeof (RmStTensor));
  rm_weights_foreach (w, cfg, rm_weights_collect_st, arr);
  const char *metadata[] = { "format", "pt", "producer", "refmask", NULL };
  gboolean ok =
      rm_safetensors_write (path, arr->len, &g_array_index (arr, RmStTensor, 0), metadata, error);
  for (guint i = 0; i < arr->len; i++)
    g_free ((char *) g_array_index (arr, RmStTensor, i).name);
  return ok;
}

void
rm_weights_make_trainable (RmWeights *w)
{
  GHashTableIter iter;
  gpointer key, value;
  g_autoptr (GHashTable) owned = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < w->owned->len; i++)
    g_hash_table_add (owned, g_ptr_array_index (w->owned, i));
  g_hash_table_iter_init (&iter, w->tensors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      RmTensor *t = value;
      if (!g_hash_table_contains (owned, t->data))
        {
          /* A read-only mapping of the file: copy it out. */
          float *copy = g_memdup2 (t->data, (gsize) rm_tensor_numel (t) * sizeof (float));
          g_ptr_array_add (w->owned, copy);
          g_hash_table_add (owned, copy);
          t->data = copy;
        }
      t->requires_grad = rm_param_is_trainable (key);
    }
}

void
rm_weights_set_all_trainable (RmWeights *w)
{
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, w->tensors);
  while (g_hash_table_iter_next (&iter, &key, &value))
    ((RmTensor *) value)->requires_grad =
        !g_str_has_suffix (key, "positional_encoding_gaussian_matrix");
}
