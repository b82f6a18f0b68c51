/* SPDX-License-Identifier: GPL-3.0-or-later
 * Safetensors reader (mmap + full validation) and atomic writer. See rm-safetensors.h.
 */
#include "rm-safetensors.h"
#include "rm-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "safetensors data are little-endian; this reader assumes a little-endian host"
#endif

/* Root object -> tensor entry -> shape / data_offsets array: nothing valid nests deeper.
 * Checked before json-glib sees the header because its parser recurses without a limit. */
#define MAX_JSON_DEPTH 3

struct RmSafetensors
{
  GMappedFile *mapped; /* NULL for rm_safetensors_from_memory */
  RmStTensor *tensors; /* header order */
  size_t n;
  GHashTable *by_name;  /* name -> GUINT_TO_POINTER (index + 1) */
  GHashTable *metadata; /* key -> value, both owned */
  GStringChunk *strings;
  GPtrArray *copies; /* aligned copies of tensors whose bytes are misaligned in the file */
};

static const struct
{
  const char *name;
  size_t size;
} dtype_info[] = {
  [RM_ST_F32] = { "F32", 4 },   [RM_ST_F16] = { "F16", 2 }, [RM_ST_BF16] = { "BF16", 2 },
  [RM_ST_I64] = { "I64", 8 },   [RM_ST_I32] = { "I32", 4 }, [RM_ST_U8] = { "U8", 1 },
  [RM_ST_BOOL] = { "BOOL", 1 },
};

/* What a zero-byte tensor points at: aligned for every dtype, never NULL (memcpy (d, p, 0)
 * with p == NULL is undefined). */
static const int64_t empty_data[1];

size_t
rm_st_dtype_size (RmStDtype dtype)
{
  g_return_val_if_fail ((unsigned) dtype < G_N_ELEMENTS (dtype_info), 0);
  return dtype_info[dtype].size;
}

const char *
rm_st_dtype_name (RmStDtype dtype)
{
  g_return_val_if_fail ((unsigned) dtype < G_N_ELEMENTS (dtype_info), "?");
  return dtype_info[dtype].name;
}

static gboolean
dtype_from_name (const char *name, RmStDtype *out)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (dtype_info); i++)
    if (strcmp (name, dtype_info[i].name) == 0)
      {
        *out = (RmStDtype) i;
        return TRUE;
      }
  return FALSE;
}

uint64_t
rm_st_tensor_numel (const RmStTensor *t)
{
  uint64_t numel = 1;
  for (int i = 0; i < t->ndim; i++)
    numel *= (uint64_t) t->shape[i];
  return numel;
}

/* numel x dtype size, FALSE on overflow. Shape entries must already be known >= 0. */
static gboolean
checked_nbytes (RmStDtype dtype, int ndim, const int64_t *shape, uint64_t *nbytes)
{
  uint64_t v = dtype_info[dtype].size;
  for (int i = 0; i < ndim; i++)
    if (!g_uint64_checked_mul (&v, v, (uint64_t) shape[i]))
      return FALSE;
  *nbytes = v;
  return TRUE;
}

static void
append_shape (GString *s, int ndim, const int64_t *shape)
{
  g_string_append_c (s, '[');
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
}

/* Sets an RM_ERROR whose message starts with the file (or "<memory>") it is about. */
static void st_error (GError **error, RmError code, const char *origin, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static void
st_error (GError **error, RmError code, const char *origin, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, RM_ERROR, code, "%s: %s", origin, msg);
}

/* ---- reading -------------------------------------------------------------------------- */

/* Lexical pass over the header: bounds the nesting depth, and counts the keys of the root
 * object and of the objects directly inside it, so that duplicate keys (which json-glib
 * silently merges) can be detected by comparing with the parsed object sizes. */
static gboolean
scan_header (const char *h, size_t n, size_t *root_keys, size_t *inner_keys, const char *origin,
             GError **error)
{
  int depth = 0;
  gboolean in_string = FALSE, escaped = FALSE;

  *root_keys = *inner_keys = 0;
  for (size_t i = 0; i < n; i++)
    {
      char c = h[i];
      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      switch (c)
        {
        case '"':
          in_string = TRUE;
          break;
        case '{':
        case '[':
          if (++depth > MAX_JSON_DEPTH)
            {
              st_error (error, RM_ERROR_FORMAT, origin, "header JSON nests deeper than %d levels",
                        MAX_JSON_DEPTH);
              return FALSE;
            }
          break;
        case '}':
        case ']':
          if (--depth < 0)
            {
              st_error (error, RM_ERROR_FORMAT, origin, "header JSON has an unbalanced '%c'", c);
              return FALSE;
            }
          break;
        case ':':
          if (depth == 1)
            (*root_keys)++;
          else if (depth == 2)
            (*inner_keys)++;
          break;
        default:
          break;
        }
    }
  return TRUE;
}

/* A JSON integer >= 0 (json-glib stores integers as gint64; 1.0 or 1e3 are doubles). */
static gboolean
json_get_uint (JsonNode *node, uint64_t *out)
{
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (uint64_t) v;
  return TRUE;
}

static gboolean
parse_metadata (RmSafetensors *st, JsonNode *node, const char *origin, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      st_error (error, RM_ERROR_FORMAT, origin, "__metadata__ is not an object");
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);
  g_autoptr (GList) keys = json_object_get_members (obj);
  for (GList *l = keys; l; l = l->next)
    {
      const char *key = l->data;
      JsonNode *v = json_object_get_member (obj, key);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
        {
          st_error (error, RM_ERROR_FORMAT, origin, "__metadata__ value of '%s' is not a string",
                    key);
          return FALSE;
        }
      g_hash_table_replace (st->metadata, g_strdup (key), g_strdup (json_node_get_string (v)));
    }
  return TRUE;
}

/* Fills t (except data) and the entry's [begin, end) byte range in the data section. */
static gboolean
parse_entry (const char *name, JsonNode *node, uint64_t data_size, RmStTensor *t, uint64_t *begin,
             uint64_t *end, const char *origin, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      st_error (error, RM_ERROR_FORMAT, origin, "tensor '%s': entry is not an object", name);
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (node);

  g_autoptr (GList) keys = json_object_get_members (obj);
  for (GList *l = keys; l; l = l->next)
    if (strcmp (l->data, "dtype") != 0 && strcmp (l->data, "shape") != 0 &&
        strcmp (l->data, "data_offsets") != 0)
      {
        st_error (error, RM_ERROR_FORMAT, origin, "tensor '%s': unexpected key '%s'", name,
                  (const char *) l->data);
        return FALSE;
      }

  JsonNode *dtype = json_object_get_member (obj, "dtype");
  if (!dtype || !JSON_NODE_HOLDS_VALUE (dtype) || json_node_get_value_type (dtype) != G_TYPE_STRING)
    {
      st_error (error, RM_ERROR_FORMAT, origin, "tensor '%s': missing or non-string dtype", name);
      return FALSE;
    }
  if (!dtype_from_name (json_node_get_string (dtype), &t->dtype))
    {
      st_error (error, RM_ERROR_DTYPE, origin,
                "tensor '%s': unsupported dtype '%s' (F32, F16, BF16, I64, I32, U8, BOOL)", name,
                json_node_get_string (dtype));
      return FALSE;
    }

  JsonNode *shape = json_object_get_member (obj, "shape");
  if (!shape || !JSON_NODE_HOLDS_ARRAY (shape))
    {
      st_error (error, RM_ERROR_FORMAT, origin, "tensor '%s': missing or non-array shape", name);
      return FALSE;
    }
  JsonArray *dims = json_node_get_array (shape);
  guint ndim = json_array_get_length (dims);
  if (ndim > RM_ST_MAX_DIMS)
    {
      st_error (error, RM_ERROR_SHAPE, origin, "tensor '%s': %u dimensions, at most %d supported",
                name, ndim, RM_ST_MAX_DIMS);
      return FALSE;
    }
  t->ndim = (int) ndim;
  for (guint i = 0; i < ndim; i++)
    {
      uint64_t d;
      if (!json_get_uint (json_array_get_element (dims, i), &d) || d > G_MAXINT64)
        {
          st_error (error, RM_ERROR_SHAPE, origin,
                    "tensor '%s': shape entry %u is not a non-negative integer", name, i);
          return FALSE;
        }
      t->shape[i] = (int64_t) d;
    }

  JsonNode *offsets = json_object_get_member (obj, "data_offsets");
  JsonArray *off =
      offsets && JSON_NODE_HOLDS_ARRAY (offsets) ? json_node_get_array (offsets) : NULL;
  if (!off || json_array_get_length (off) != 2 ||
      !json_get_uint (json_array_get_element (off, 0), begin) ||
      !json_get_uint (json_array_get_element (off, 1), end))
    {
      st_error (error, RM_ERROR_FORMAT, origin,
                "tensor '%s': data_offsets is not a pair of non-negative integers", name);
      return FALSE;
    }
  if (*begin > *end)
    {
      st_error (error, RM_ERROR_FORMAT, origin,
                "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                "] end before begin",
                name, *begin, *end);
      return FALSE;
    }
  if (*end > data_size)
    {
      st_error (error, RM_ERROR_FORMAT, origin,
                "tensor '%s': data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                "] beyond the %" G_GUINT64_FORMAT "-byte data section (truncated file?)",
                name, *begin, *end, data_size);
      return FALSE;
    }

  uint64_t nbytes;
  if (!checked_nbytes (t->dtype, t->ndim, t->shape, &nbytes) || nbytes != *end - *begin)
    {
      g_autoptr (GString) s = g_string_new (NULL);
      append_shape (s, t->ndim, t->shape);
      st_error (error, RM_ERROR_SHAPE, origin,
                "tensor '%s': shape %s x %s does not match the %" G_GUINT64_FORMAT
                " bytes of data_offsets",
                name, s->str, dtype_info[t->dtype].name, *end - *begin);
      return FALSE;
    }
  t->nbytes = (size_t) nbytes;
  return TRUE;
}

typedef struct
{
  uint64_t begin, end;
  size_t index;
} Range;

static int
range_cmp (const void *pa, const void *pb)
{
  const Range *a = pa, *b = pb;
  if (a->begin != b->begin)
    return a->begin < b->begin ? -1 : 1;
  if (a->end != b->end)
    return a->end < b->end ? -1 : 1;
  return 0;
}

/* Two non-empty tensors must not share a byte. */
static gboolean
check_overlaps (const RmSafetensors *st, Range *ranges, const char *origin, GError **error)
{
  if (st->n > 1)
    qsort (ranges, st->n, sizeof *ranges, range_cmp);
  const Range *prev = NULL;
  for (size_t i = 0; i < st->n; i++)
    {
      const Range *r = &ranges[i];
      if (r->begin == r->end)
        continue;
      if (prev && r->begin < prev->end)
        {
          st_error (error, RM_ERROR_FORMAT, origin, "tensor '%s' overlaps tensor '%s'",
                    st->tensors[r->index].name, st->tensors[prev->index].name);
          return FALSE;
        }
      prev = r;
    }
  return TRUE;
}

static gboolean
parse (RmSafetensors *st, const uint8_t *data, size_t len, const char *origin, GError **error)
{
  if (len < 8)
    {
      st_error (error, RM_ERROR_FORMAT, origin,
                "%zu bytes, too short for the 8-byte header length (truncated file?)", len);
      return FALSE;
    }
  uint64_t header_len;
  memcpy (&header_len, data, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > RM_ST_MAX_HEADER_BYTES)
    {
      st_error (error, RM_ERROR_TOO_LARGE, origin,
                "header length %" G_GUINT64_FORMAT " is over the %" G_GUINT64_FORMAT "-byte limit",
                header_len, RM_ST_MAX_HEADER_BYTES);
      return FALSE;
    }
  if (header_len > len - 8)
    {
      st_error (error, RM_ERROR_FORMAT, origin,
                "header length %" G_GUINT64_FORMAT " but only %zu bytes follow (truncated file?)",
                header_len, len - 8);
      return FALSE;
    }
  const char *header = (const char *) data + 8;
  const uint8_t *section = data + 8 + header_len;
  uint64_t data_size = len - 8 - header_len;

  size_t root_keys, inner_keys;
  if (!scan_header (header, header_len, &root_keys, &inner_keys, origin, error))
    return FALSE;

  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, header, (gssize) header_len, &json_error))
    {
      st_error (error, RM_ERROR_FORMAT, origin, "invalid JSON header: %s", json_error->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    {
      st_error (error, RM_ERROR_FORMAT, origin, "header is not a JSON object");
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (root);
  g_autoptr (GList) names = json_object_get_members (obj);

  size_t inner_size = 0;
  for (GList *l = names; l; l = l->next)
    {
      JsonNode *v = json_object_get_member (obj, l->data);
      if (JSON_NODE_HOLDS_OBJECT (v))
        inner_size += json_object_get_size (json_node_get_object (v));
    }
  if (root_keys != json_object_get_size (obj) || inner_keys != inner_size)
    {
      st_error (error, RM_ERROR_FORMAT, origin, "header has duplicate keys");
      return FALSE;
    }

  st->tensors = g_new0 (RmStTensor, json_object_get_size (obj));
  g_autofree Range *ranges = g_new0 (Range, json_object_get_size (obj));
  for (GList *l = names; l; l = l->next)
    {
      const char *name = l->data;
      JsonNode *v = json_object_get_member (obj, name);
      if (strcmp (name, "__metadata__") == 0)
        {
          if (!parse_metadata (st, v, origin, error))
            return FALSE;
          continue;
        }
      if (name[0] == '\0')
        {
          st_error (error, RM_ERROR_FORMAT, origin, "a tensor has an empty name");
          return FALSE;
        }
      RmStTensor *t = &st->tensors[st->n];
      Range *r = &ranges[st->n];
      if (!parse_entry (name, v, data_size, t, &r->begin, &r->end, origin, error))
        return FALSE;
      t->name = g_string_chunk_insert (st->strings, name);
      r->index = st->n;
      g_hash_table_insert (st->by_name, (gpointer) t->name, GUINT_TO_POINTER (st->n + 1));
      st->n++;
    }
  if (!check_overlaps (st, ranges, origin, error))
    return FALSE;

  for (size_t i = 0; i < st->n; i++)
    {
      RmStTensor *t = &st->tensors[ranges[i].index];
      const uint8_t *p = section + ranges[i].begin;
      if (t->nbytes == 0)
        t->data = empty_data;
      else if ((uintptr_t) p % dtype_info[t->dtype].size == 0)
        t->data = p;
      else
        {
          /* Typed access needs natural alignment; g_malloc's is enough for 8-byte types. */
          void *copy = g_memdup2 (p, t->nbytes);
          g_ptr_array_add (st->copies, copy);
          t->data = copy;
        }
    }
  return TRUE;
}

static RmSafetensors *
st_new (void)
{
  RmSafetensors *st = g_new0 (RmSafetensors, 1);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  st->strings = g_string_chunk_new (4096);
  st->copies = g_ptr_array_new_with_free_func (g_free);
  return st;
}

void
rm_safetensors_close (RmSafetensors *st)
{
  if (!st)
    return;
  g_hash_table_unref (st->by_name);
  g_hash_table_unref (st->metadata);
  g_string_chunk_free (st->strings);
  g_ptr_array_unref (st->copies);
  g_free (st->tensors);
  if (st->mapped)
    g_mapped_file_unref (st->mapped);
  g_free (st);
}

RmSafetensors *
rm_safetensors_from_memory (const void *data, size_t len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_autoptr (RmSafetensors) st = st_new ();
  if (!parse (st, data, len, "<memory>", error))
    return NULL;
  return g_steal_pointer (&st);
}

RmSafetensors *
rm_safetensors_open (const char *path, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, &io_error);
  if (!mapped)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s", io_error->message);
      return NULL;
    }
  g_autoptr (RmSafetensors) st = st_new ();
  if (!parse (st, (const uint8_t *) g_mapped_file_get_contents (mapped),
              g_mapped_file_get_length (mapped), path, error))
    return NULL;
  st->mapped = g_steal_pointer (&mapped);
  return g_steal_pointer (&st);
}

size_t
rm_safetensors_count (const RmSafetensors *st)
{
  return st->n;
}

const RmStTensor *
rm_safetensors_nth (const RmSafetensors *st, size_t i)
{
  g_return_val_if_fail (i < st->n, NULL);
  return &st->tensors[i];
}

const RmStTensor *
rm_safetensors_lookup (const RmSafetensors *st, const char *name)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (st->by_name, name));
  return i ? &st->tensors[i - 1] : NULL;
}

const RmStTensor *
rm_safetensors_get (const RmSafetensors *st, const char *name, GError **error)
{
  const RmStTensor *t = rm_safetensors_lookup (st, name);
  if (!t)
    g_set_error (error, RM_ERROR, RM_ERROR_MISSING_KEY, "tensor '%s' not found", name);
  return t;
}

const char *
rm_safetensors_get_metadata (const RmSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

/* ---- conversions ---------------------------------------------------------------------- */

static float
half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  uint32_t bits;
  float f;
  if (exp == 0)
    {
      /* zero or subnormal: mant * 2^-24 is exact in float */
      f = (float) mant * 0x1p-24f;
      return sign ? -f : f;
    }
  if (exp == 31)
    bits = sign | 0x7f800000u | (mant << 13); /* inf / NaN (payload kept) */
  else
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  memcpy (&f, &bits, sizeof f);
  return f;
}

static float
bf16_to_float (uint16_t h)
{
  uint32_t bits = (uint32_t) h << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static void *
alloc_elements (const RmStTensor *t, size_t elem, size_t *numel, GError **error)
{
  size_t n = t->nbytes / dtype_info[t->dtype].size;
  void *out = g_try_malloc_n (MAX (n, 1), elem);
  if (!out)
    g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE, "tensor '%s': cannot allocate %zu elements",
                 t->name ? t->name : "?", n);
  else if (numel)
    *numel = n;
  return out;
}

float *
rm_st_tensor_to_float32 (const RmStTensor *t, size_t *numel, GError **error)
{
  size_t n;
  float *out = alloc_elements (t, sizeof (float), &n, error);
  if (!out)
    return NULL;
  switch (t->dtype)
    {
    case RM_ST_F32:
      memcpy (out, t->data, n * sizeof (float));
      break;
    case RM_ST_F16:
      for (size_t i = 0; i < n; i++)
        out[i] = half_to_float (((const uint16_t *) t->data)[i]);
      break;
    case RM_ST_BF16:
      for (size_t i = 0; i < n; i++)
        out[i] = bf16_to_float (((const uint16_t *) t->data)[i]);
      break;
    case RM_ST_I64:
      for (size_t i = 0; i < n; i++)
        out[i] = (float) ((const int64_t *) t->data)[i];
      break;
    case RM_ST_I32:
      for (size_t i = 0; i < n; i++)
        out[i] = (float) ((const int32_t *) t->data)[i];
      break;
    case RM_ST_U8:
      for (size_t i = 0; i < n; i++)
        out[i] = (float) ((const uint8_t *) t->data)[i];
      break;
    case RM_ST_BOOL:
      for (size_t i = 0; i < n; i++)
        out[i] = ((const uint8_t *) t->data)[i] ? 1.0f : 0.0f;
      break;
    }
  if (numel)
    *numel = n;
  return out;
}

int64_t *
rm_st_tensor_to_int64 (const RmStTensor *t, size_t *numel, GError **error)
{
  if (t->dtype == RM_ST_F32 || t->dtype == RM_ST_F16 || t->dtype == RM_ST_BF16)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_DTYPE, "tensor '%s': %s is not an integer type",
                   t->name ? t->name : "?", dtype_info[t->dtype].name);
      return NULL;
    }
  size_t n;
  int64_t *out = alloc_elements (t, sizeof (int64_t), &n, error);
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++)
    switch (t->dtype)
      {
      case RM_ST_I64:
        out[i] = ((const int64_t *) t->data)[i];
        break;
      case RM_ST_I32:
        out[i] = ((const int32_t *) t->data)[i];
        break;
      case RM_ST_U8:
        out[i] = ((const uint8_t *) t->data)[i];
        break;
      case RM_ST_BOOL:
        out[i] = ((const uint8_t *) t->data)[i] != 0;
        break;
      default:
        g_assert_not_reached ();
      }
  if (numel)
    *numel = n;
  return out;
}

/* ---- writing -------------------------------------------------------------------------- */

static gboolean
validate_for_write (size_t n, const RmStTensor *tensors, const char *const *metadata,
                    const char *path, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < n; i++)
    {
      const RmStTensor *t = &tensors[i];
      const char *name = t->name ? t->name : "";
      uint64_t nbytes;
      gboolean dims_ok = t->ndim >= 0 && t->ndim <= RM_ST_MAX_DIMS;
      for (int d = 0; dims_ok && d < t->ndim; d++)
        dims_ok = t->shape[d] >= 0;
      if (!name[0] || !g_utf8_validate (name, -1, NULL) || strcmp (name, "__metadata__") == 0)
        st_error (error, RM_ERROR_INPUT, path, "tensor %zu: invalid name '%s'", i, name);
      else if (!g_hash_table_add (seen, (gpointer) name))
        st_error (error, RM_ERROR_INPUT, path, "tensor '%s': duplicate name", name);
      else if ((unsigned) t->dtype >= G_N_ELEMENTS (dtype_info))
        st_error (error, RM_ERROR_DTYPE, path, "tensor '%s': invalid dtype %d", name, t->dtype);
      else if (!dims_ok)
        st_error (error, RM_ERROR_SHAPE, path, "tensor '%s': invalid shape", name);
      else if (!checked_nbytes (t->dtype, t->ndim, t->shape, &nbytes) || nbytes != t->nbytes)
        st_error (error, RM_ERROR_SHAPE, path, "tensor '%s': %zu bytes do not match its shape",
                  name, t->nbytes);
      else if (t->nbytes && !t->data)
        st_error (error, RM_ERROR_INPUT, path, "tensor '%s': no data", name);
      else
        continue;
      return FALSE;
    }
  for (size_t i = 0; metadata && metadata[i]; i += 2)
    if (!metadata[i + 1] || !g_utf8_validate (metadata[i], -1, NULL) ||
        !g_utf8_validate (metadata[i + 1], -1, NULL))
      {
        st_error (error, RM_ERROR_INPUT, path, "metadata key '%s': missing or invalid value",
                  metadata[i]);
        return FALSE;
      }
  return TRUE;
}

/* Data layout order: larger elements first (stable), so that with a header padded to
 * 8 bytes every tensor is naturally aligned; header (= iteration) order stays the caller's. */
static size_t *
layout_order (size_t n, const RmStTensor *tensors)
{
  size_t *order = g_new (size_t, MAX (n, 1));
  size_t k = 0;
  for (size_t size = 8; size >= 1; size /= 2)
    for (size_t i = 0; i < n; i++)
      if (dtype_info[tensors[i].dtype].size == size)
        order[k++] = i;
  g_assert (k == n);
  return order;
}

static char *
build_header (size_t n, const RmStTensor *tensors, const size_t *order, const char *const *metadata,
              size_t *len)
{
  g_autofree uint64_t *begin = g_new (uint64_t, MAX (n, 1));
  uint64_t offset = 0;
  for (size_t k = 0; k < n; k++)
    {
      begin[order[k]] = offset;
      offset += tensors[order[k]].nbytes;
    }

  g_autoptr (JsonBuilder) b = json_builder_new_immutable ();
  json_builder_begin_object (b);
  if (metadata && metadata[0])
    {
      json_builder_set_member_name (b, "__metadata__");
      json_builder_begin_object (b);
      for (size_t i = 0; metadata[i]; i += 2)
        {
          json_builder_set_member_name (b, metadata[i]);
          json_builder_add_string_value (b, metadata[i + 1]);
        }
      json_builder_end_object (b);
    }
  for (size_t i = 0; i < n; i++)
    {
      const RmStTensor *t = &tensors[i];
      json_builder_set_member_name (b, t->name);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dtype");
      json_builder_add_string_value (b, dtype_info[t->dtype].name);
      json_builder_set_member_name (b, "shape");
      json_builder_begin_array (b);
      for (int d = 0; d < t->ndim; d++)
        json_builder_add_int_value (b, t->shape[d]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "data_offsets");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, (gint64) begin[i]);
      json_builder_add_int_value (b, (gint64) (begin[i] + t->nbytes));
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  gsize json_len;
  g_autofree char *json = json_generator_to_data (gen, &json_len);

  /* Pad with spaces (as the reference writer does) so the data section starts 8-aligned. */
  GString *s = g_string_new_len (json, (gssize) json_len);
  while ((s->len + 8) % 8 != 0)
    g_string_append_c (s, ' ');
  *len = s->len;
  return g_string_free (s, FALSE);
}

static gboolean
write_all (int fd, const void *data, size_t len)
{
  const uint8_t *p = data;
  while (len > 0)
    {
      ssize_t w = write (fd, p, len);
      if (w < 0 && errno == EINTR)
        continue;
      if (w == 0)
        errno = EIO; /* no progress without an error: do not loop forever */
      if (w <= 0)
        return FALSE;
      p += w;
      len -= (size_t) w;
    }
  return TRUE;
}

/* The folder entry of a rename is only durable once the folder itself is synced. */
static gboolean
fsync_dir_of (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  gboolean ok = fsync (fd) == 0;
  int saved = errno;
  close (fd);
  errno = saved;
  return ok;
}

gboolean
rm_safetensors_write (const char *path, size_t n, const RmStTensor *tensors,
                      const char *const *metadata, GError **error)
{
  if (!validate_for_write (n, tensors, metadata, path, error))
    return FALSE;

  g_autofree size_t *order = layout_order (n, tensors);
  size_t header_len;
  g_autofree char *header = build_header (n, tensors, order, metadata, &header_len);
  uint64_t len_le = GUINT64_TO_LE ((uint64_t) header_len);

  g_autofree char *tmp = g_strconcat (path, ".tmp-XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int e = errno;
      st_error (error, RM_ERROR_IO, path, "cannot create a temporary file: %s", g_strerror (e));
      return FALSE;
    }
  gboolean ok = write_all (fd, &len_le, 8) && write_all (fd, header, header_len);
  for (size_t k = 0; ok && k < n; k++)
    ok = write_all (fd, tensors[order[k]].data, tensors[order[k]].nbytes);
  ok = ok && fsync (fd) == 0;
  int saved = ok ? 0 : errno;
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      saved = errno;
    }
  if (ok && rename (tmp, path) != 0)
    {
      ok = FALSE;
      saved = errno;
    }
  if (!ok)
    {
      g_unlink (tmp);
      st_error (error, RM_ERROR_IO, path, "cannot write: %s", g_strerror (saved));
      return FALSE;
    }
  if (!fsync_dir_of (path))
    {
      saved = errno;
      st_error (error, RM_ERROR_IO, path, "written, but syncing its folder failed: %s",
                g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}
