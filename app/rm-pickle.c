/* SPDX-License-Identifier: GPL-3.0-or-later
 * Safe pickle reader: a stack machine over data values only (see rm-pickle.h). */
#include "rm-pickle.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (rm - pickle - error - quark, rm_pickle_error)

struct RmPickle
{
  GPtrArray *values; /* owns every value */
  RmPickleValue *root;
};

/* Walk state kept outside the public struct. */
typedef struct
{
  guint8 color; /* 0 new, 1 on the walk stack, 2 done */
  guint height;
} Visit;

typedef struct
{
  const guint8 *start, *p, *end;
  RmPickle *doc;
  RmPickleLimits lim;
  GPtrArray *stack;
  GArray *marks;
  GHashTable *memo;
  GError **error;
} Reader;

/* Sets the error and returns FALSE, so "return fail (...)" reads naturally. */
static gboolean G_GNUC_PRINTF (3, 4) fail (Reader *r, int code, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  if (r->error != NULL && *r->error == NULL)
    *r->error = g_error_new_valist (RM_PICKLE_ERROR, code, format, ap);
  va_end (ap);
  return FALSE;
}

static void
value_free (RmPickleValue *v)
{
  g_free (v->data);
  g_free (v->name);
  g_free (v->items);
  g_free (v->pairs);
  g_free (v);
}

void
rm_pickle_free (RmPickle *pickle)
{
  if (pickle == NULL)
    return;
  g_ptr_array_unref (pickle->values);
  g_free (pickle);
}

const RmPickleValue *
rm_pickle_get_root (const RmPickle *pickle)
{
  return pickle->root;
}

const char *
rm_pickle_type_name (RmPickleType type)
{
  static const char *const names[] = { "None",      "bool",   "int",   "float",        "str",
                                       "bytes",     "list",   "tuple", "dict",         "set",
                                       "frozenset", "global", "call",  "persistent id" };
  return (guint) type < G_N_ELEMENTS (names) ? names[type] : "?";
}

static RmPickleValue *
new_value (Reader *r, RmPickleType type)
{
  RmPickleValue *v;
  if (r->doc->values->len >= r->lim.max_values)
    {
      fail (r, RM_PICKLE_ERROR_LIMIT, "pickle has more than %" G_GSIZE_FORMAT " values",
            r->lim.max_values);
      return NULL;
    }
  v = g_new0 (RmPickleValue, 1);
  v->type = type;
  g_ptr_array_add (r->doc->values, v);
  return v;
}

static void
grow_append (RmPickleValue ***arr, gsize *n, gsize *cap, gsize per, RmPickleValue *const *add,
             gsize n_add)
{
  /* `per` pointers an element: 1 for items, 2 for key/value pairs. */
  if (*n + n_add > *cap)
    {
      gsize want = MAX (8, MAX (*cap * 2, *n + n_add));
      *arr = g_renew (RmPickleValue *, *arr, want * per);
      *cap = want;
    }
  memcpy (*arr + *n * per, add, n_add * per * sizeof (RmPickleValue *));
  *n += n_add;
}

static void
add_items (RmPickleValue *v, RmPickleValue *const *items, gsize n)
{
  grow_append (&v->items, &v->n_items, &v->cap_items, 1, items, n);
}

static void
add_pairs (RmPickleValue *v, RmPickleValue *const *kv, gsize n_pairs)
{
  grow_append (&v->pairs, &v->n_pairs, &v->cap_pairs, 2, kv, n_pairs);
}

/* ---- input ---- */

static const guint8 *
take (Reader *r, guint64 n)
{
  const guint8 *at = r->p;
  if (n > (guint64) (r->end - r->p))
    {
      fail (r, RM_PICKLE_ERROR_TRUNCATED,
            "pickle is truncated or declares an absurd size (%" G_GUINT64_FORMAT
            " bytes wanted at offset %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT " left)",
            n, (gsize) (r->p - r->start), (gsize) (r->end - r->p));
      return NULL;
    }
  r->p += n;
  return at;
}

static gboolean
take_uint (Reader *r, guint nbytes, guint64 *out)
{
  const guint8 *b = take (r, nbytes);
  if (b == NULL)
    return FALSE;
  *out = 0;
  for (guint i = 0; i < nbytes; i++)
    *out |= (guint64) b[i] << (8 * i);
  return TRUE;
}

/* A text argument up to the next newline (protocol 0). */
static char *
take_line (Reader *r)
{
  const guint8 *nl = memchr (r->p, '\n', (gsize) (r->end - r->p));
  char *line;
  if (nl == NULL)
    {
      fail (r, RM_PICKLE_ERROR_TRUNCATED, "pickle is truncated inside a text argument");
      return NULL;
    }
  line = g_strndup ((const char *) r->p, (gsize) (nl - r->p));
  r->p = nl + 1;
  return line;
}

/* ---- stack ---- */

static gsize
frame_base (Reader *r)
{
  return r->marks->len > 0 ? g_array_index (r->marks, gsize, r->marks->len - 1) : 0;
}

static gboolean
push (Reader *r, RmPickleValue *v)
{
  if (v == NULL)
    return FALSE;
  g_ptr_array_add (r->stack, v);
  return TRUE;
}

static RmPickleValue *
pop (Reader *r)
{
  if (r->stack->len <= frame_base (r))
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle stack underflow at offset %" G_GSIZE_FORMAT,
            (gsize) (r->p - r->start));
      return NULL;
    }
  return g_ptr_array_steal_index (r->stack, r->stack->len - 1);
}

static RmPickleValue *
top (Reader *r)
{
  if (r->stack->len <= frame_base (r))
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle stack underflow at offset %" G_GSIZE_FORMAT,
            (gsize) (r->p - r->start));
      return NULL;
    }
  return r->stack->pdata[r->stack->len - 1];
}

/* Ends the innermost mark; the values above it are at stack[*base ..] until truncated. */
static gboolean
pop_mark (Reader *r, gsize *base)
{
  if (r->marks->len == 0)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle uses a mark that was never set");
  *base = g_array_index (r->marks, gsize, r->marks->len - 1);
  g_array_set_size (r->marks, r->marks->len - 1);
  return TRUE;
}

static RmPickleValue *
make_sequence (Reader *r, RmPickleType type, gsize base)
{
  RmPickleValue *v = new_value (r, type);
  if (v == NULL)
    return NULL;
  if (r->stack->len > base)
    add_items (v, (RmPickleValue **) r->stack->pdata + base, r->stack->len - base);
  g_ptr_array_set_size (r->stack, base);
  return v;
}

/* ---- values from the input ---- */

static RmPickleValue *
make_string (Reader *r, RmPickleType type, const char *data, gsize len)
{
  RmPickleValue *v;
  if (type == RM_PICKLE_STR && !g_utf8_validate_len (data, len, NULL))
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle has a text string that is not valid UTF-8");
      return NULL;
    }
  v = new_value (r, type);
  if (v == NULL)
    return NULL;
  v->data = g_malloc (len + 1);
  memcpy (v->data, data, len);
  v->data[len] = '\0';
  v->len = len;
  return v;
}

/* Python 2 str: text when it is UTF-8, bytes otherwise (lossless either way). */
static RmPickleValue *
make_py2_string (Reader *r, const char *data, gsize len)
{
  return make_string (r, g_utf8_validate_len (data, len, NULL) ? RM_PICKLE_STR : RM_PICKLE_BYTES,
                      data, len);
}

static RmPickleValue *
make_int (Reader *r, gint64 i)
{
  RmPickleValue *v = new_value (r, RM_PICKLE_INT);
  if (v != NULL)
    v->integer = i;
  return v;
}

static gboolean
parse_decimal (Reader *r, const char *s, gint64 *out)
{
  char *end = NULL;
  gint64 x;
  errno = 0;
  x = g_ascii_strtoll (s, &end, 10);
  if (end != NULL && *end == 'L') /* Python 2 long suffix */
    end++;
  if (errno == ERANGE)
    return fail (r, RM_PICKLE_ERROR_LIMIT, "pickle integer %s does not fit in 64 bits", s);
  if (end == s || *end != '\0')
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle has a malformed integer \"%s\"", s);
  *out = x;
  return TRUE;
}

/* Little-endian two's complement (LONG1 / LONG4); more than 8 bytes only as sign padding. */
static RmPickleValue *
make_long (Reader *r, const guint8 *b, gsize n)
{
  guint64 u = 0;
  gboolean neg = n > 0 && (b[n - 1] & 0x80);
  for (gsize i = 8; i < n; i++)
    if (b[i] != (neg ? 0xff : 0x00))
      {
        fail (r, RM_PICKLE_ERROR_LIMIT,
              "pickle integer of %" G_GSIZE_FORMAT " bytes does not fit in 64 bits", n);
        return NULL;
      }
  if (n >= 8 && ((b[7] & 0x80) != 0) != neg)
    {
      fail (r, RM_PICKLE_ERROR_LIMIT, "pickle integer does not fit in 64 bits");
      return NULL;
    }
  for (gsize i = 0; i < MIN (n, 8); i++)
    u |= (guint64) b[i] << (8 * i);
  if (neg && n < 8)
    u |= ~(guint64) 0 << (8 * n);
  return make_int (r, (gint64) u);
}

/* Protocol 0 STRING: a quoted Python literal with backslash escapes. */
static RmPickleValue *
parse_quoted (Reader *r, const char *line)
{
  gsize len = strlen (line);
  g_autoptr (GString) out = g_string_new (NULL);
  if (len < 2 || (line[0] != '\'' && line[0] != '"') || line[len - 1] != line[0])
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle STRING argument is not quoted");
      return NULL;
    }
  for (gsize i = 1; i < len - 1; i++)
    {
      char c = line[i];
      if (c != '\\')
        {
          g_string_append_c (out, c);
          continue;
        }
      if (++i >= len - 1)
        {
          fail (r, RM_PICKLE_ERROR_INVALID, "pickle STRING ends with a lone backslash");
          return NULL;
        }
      c = line[i];
      switch (c)
        {
        case 'n':
          g_string_append_c (out, '\n');
          break;
        case 'r':
          g_string_append_c (out, '\r');
          break;
        case 't':
          g_string_append_c (out, '\t');
          break;
        case 'a':
          g_string_append_c (out, '\a');
          break;
        case 'b':
          g_string_append_c (out, '\b');
          break;
        case 'f':
          g_string_append_c (out, '\f');
          break;
        case 'v':
          g_string_append_c (out, '\v');
          break;
        case '\\':
        case '\'':
        case '"':
          g_string_append_c (out, c);
          break;
        case 'x':
          if (i + 2 <= len - 2 && g_ascii_isxdigit (line[i + 1]) && g_ascii_isxdigit (line[i + 2]))
            {
              g_string_append_c (out, (char) (g_ascii_xdigit_value (line[i + 1]) * 16 +
                                              g_ascii_xdigit_value (line[i + 2])));
              i += 2;
              break;
            }
          fail (r, RM_PICKLE_ERROR_INVALID, "pickle STRING has a bad \\x escape");
          return NULL;
        default:
          if (c >= '0' && c <= '7')
            {
              int v = 0, k = 0;
              while (k < 3 && i < len - 1 && line[i] >= '0' && line[i] <= '7')
                v = v * 8 + (line[i++] - '0'), k++;
              i--;
              g_string_append_c (out, (char) (v & 0xff));
            }
          else /* unknown escapes stay as written, as in Python */
            {
              g_string_append_c (out, '\\');
              g_string_append_c (out, c);
            }
        }
    }
  return make_py2_string (r, out->str, out->len);
}

/* Protocol 0 UNICODE: raw-unicode-escape (\uXXXX, \UXXXXXXXX, other bytes Latin-1). */
static RmPickleValue *
parse_raw_unicode (Reader *r, const char *line)
{
  g_autoptr (GString) out = g_string_new (NULL);
  for (gsize i = 0; line[i] != '\0'; i++)
    {
      guint32 cp = (guchar) line[i];
      if (line[i] == '\\' && (line[i + 1] == 'u' || line[i + 1] == 'U'))
        {
          int digits = line[i + 1] == 'u' ? 4 : 8;
          cp = 0;
          for (int k = 0; k < digits; k++)
            {
              char c = line[i + 2 + k];
              if (!g_ascii_isxdigit (c))
                {
                  fail (r, RM_PICKLE_ERROR_INVALID, "pickle UNICODE has a bad escape");
                  return NULL;
                }
              cp = cp * 16 + (guint32) g_ascii_xdigit_value (c);
            }
          i += 1 + digits;
        }
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        {
          fail (r, RM_PICKLE_ERROR_INVALID, "pickle UNICODE has an invalid code point");
          return NULL;
        }
      g_string_append_unichar (out, cp);
    }
  return make_string (r, RM_PICKLE_STR, out->str, out->len);
}

static RmPickleValue *
make_global (Reader *r, const char *module, const char *name)
{
  g_autofree char *full = g_strconcat (module, ".", name, NULL);
  RmPickleValue *v;
  gboolean ok = FALSE;

  for (const char *const *g = r->lim.allowed_globals; g != NULL && *g != NULL; g++)
    if (strcmp (*g, full) == 0)
      ok = TRUE;
  if (!ok)
    {
      fail (r, RM_PICKLE_ERROR_GLOBAL, "pickle refers to %s, which is not allowed here", full);
      return NULL;
    }
  v = new_value (r, RM_PICKLE_GLOBAL);
  if (v == NULL)
    return NULL;
  v->data = g_strdup (module);
  v->len = strlen (module);
  v->name = g_strdup (name);
  return v;
}

static RmPickleValue *
make_call (Reader *r, RmPickleValue *callable, RmPickleValue *args)
{
  RmPickleValue *v;
  if (callable->type != RM_PICKLE_GLOBAL)
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle calls a value of type %s, not a global",
            rm_pickle_type_name (callable->type));
      return NULL;
    }
  if (args->type != RM_PICKLE_TUPLE)
    {
      fail (r, RM_PICKLE_ERROR_INVALID, "pickle call arguments are of type %s, not a tuple",
            rm_pickle_type_name (args->type));
      return NULL;
    }
  v = new_value (r, RM_PICKLE_CALL);
  if (v == NULL)
    return NULL;
  v->callable = callable;
  v->args = args;
  return v;
}

static gboolean
memo_put (Reader *r, guint64 idx)
{
  RmPickleValue *v = top (r);
  if (v == NULL)
    return FALSE;
  if (g_hash_table_size (r->memo) >= r->lim.max_memo &&
      !g_hash_table_contains (r->memo, GSIZE_TO_POINTER ((gsize) idx)))
    return fail (r, RM_PICKLE_ERROR_LIMIT, "pickle memo has more than %" G_GSIZE_FORMAT " entries",
                 r->lim.max_memo);
  g_hash_table_insert (r->memo, GSIZE_TO_POINTER ((gsize) idx), v);
  return TRUE;
}

static gboolean
memo_get (Reader *r, guint64 idx)
{
  RmPickleValue *v = g_hash_table_lookup (r->memo, GSIZE_TO_POINTER ((gsize) idx));
  if (v == NULL)
    return fail (r, RM_PICKLE_ERROR_INVALID,
                 "pickle refers to memo entry %" G_GUINT64_FORMAT ", which is not set", idx);
  return push (r, v);
}

static gboolean
memo_text_index (Reader *r, guint64 *idx)
{
  g_autofree char *line = take_line (r);
  gint64 i;
  if (line == NULL || !parse_decimal (r, line, &i))
    return FALSE;
  if (i < 0)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle memo index is negative");
  *idx = (guint64) i;
  return TRUE;
}

/* APPEND(S) target: a list, or a reconstructed object collecting list items. */
static gboolean
append_to (Reader *r, RmPickleValue *target, RmPickleValue *const *items, gsize n)
{
  if (target->type != RM_PICKLE_LIST && target->type != RM_PICKLE_CALL)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle appends to a value of type %s",
                 rm_pickle_type_name (target->type));
  if (n > 0)
    add_items (target, items, n);
  return TRUE;
}

static gboolean
setitems_to (Reader *r, RmPickleValue *target, RmPickleValue *const *kv, gsize n_values)
{
  if (target->type != RM_PICKLE_DICT && target->type != RM_PICKLE_CALL)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle sets items on a value of type %s",
                 rm_pickle_type_name (target->type));
  if (n_values % 2 != 0)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle SETITEMS has an odd number of values");
  if (n_values > 0)
    add_pairs (target, kv, n_values / 2);
  return TRUE;
}

/* Items from the innermost mark to the top of the stack, applied to the value below. */
static gboolean
apply_marked (Reader *r,
              gboolean (*apply) (Reader *, RmPickleValue *, RmPickleValue *const *, gsize))
{
  gsize base = 0;
  gboolean ok;
  if (!pop_mark (r, &base))
    return FALSE;
  if (base == 0 || base <= frame_base (r))
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle stack underflow before a mark");
  ok = apply (r, r->stack->pdata[base - 1], (RmPickleValue **) r->stack->pdata + base,
              r->stack->len - base);
  g_ptr_array_set_size (r->stack, base);
  return ok;
}

static gboolean
additems_to (Reader *r, RmPickleValue *target, RmPickleValue *const *items, gsize n)
{
  if (target->type != RM_PICKLE_SET)
    return fail (r, RM_PICKLE_ERROR_INVALID, "pickle adds set items to a value of type %s",
                 rm_pickle_type_name (target->type));
  if (n > 0)
    add_items (target, items, n);
  return TRUE;
}

static gboolean
take_utf8_or_bytes (Reader *r, RmPickleType type, guint nbytes_len)
{
  guint64 n;
  const guint8 *b;
  if (!take_uint (r, nbytes_len, &n) || (b = take (r, n)) == NULL)
    return FALSE;
  return push (r, make_string (r, type, (const char *) b, (gsize) n));
}

static gboolean
take_py2_string (Reader *r, guint nbytes_len)
{
  guint64 n;
  const guint8 *b;
  if (!take_uint (r, nbytes_len, &n) || (b = take (r, n)) == NULL)
    return FALSE;
  return push (r, make_py2_string (r, (const char *) b, (gsize) n));
}

/* One opcode; sets *stop at STOP. */
static gboolean
step (Reader *r, gboolean *stop)
{
  const guint8 *opp = take (r, 1);
  guint8 op;
  guint64 u;

  if (opp == NULL)
    return fail (r, RM_PICKLE_ERROR_TRUNCATED, "pickle ends without a STOP opcode");
  op = *opp;
  switch (op)
    {
    case 0x80: /* PROTO */
      if (!take_uint (r, 1, &u))
        return FALSE;
      if (u > 5)
        return fail (r, RM_PICKLE_ERROR_OPCODE, "pickle protocol %u is not supported (0-5 are)",
                     (guint) u);
      return TRUE;
    case 0x95: /* FRAME: only a hint for buffering */
      if (!take_uint (r, 8, &u))
        return FALSE;
      if (u > (guint64) (r->end - r->p))
        return fail (r, RM_PICKLE_ERROR_TRUNCATED, "pickle frame is larger than the data left");
      return TRUE;
    case '.': /* STOP */
      {
        RmPickleValue *v = pop (r);
        if (v == NULL)
          return FALSE;
        r->doc->root = v;
        *stop = TRUE;
        return TRUE;
      }
    case '(': /* MARK */
      {
        gsize h = r->stack->len;
        g_array_append_val (r->marks, h);
        return TRUE;
      }
    case '0': /* POP: an item, or a mark when the frame is empty */
      if (r->stack->len > frame_base (r))
        {
          g_ptr_array_set_size (r->stack, r->stack->len - 1);
          return TRUE;
        }
      else
        {
          gsize base = 0;
          return pop_mark (r, &base);
        }
    case '1': /* POP_MARK */
      {
        gsize base = 0;
        if (!pop_mark (r, &base))
          return FALSE;
        g_ptr_array_set_size (r->stack, base);
        return TRUE;
      }
    case '2': /* DUP */
      {
        RmPickleValue *v = top (r);
        return v != NULL && push (r, v);
      }
    case 'N':
      return push (r, new_value (r, RM_PICKLE_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
      {
        RmPickleValue *v = new_value (r, RM_PICKLE_BOOL);
        if (v != NULL)
          v->boolean = op == 0x88;
        return push (r, v);
      }
    case 'I': /* INT (text; I00 / I01 are False / True) */
      {
        g_autofree char *line = take_line (r);
        gint64 x;
        if (line == NULL)
          return FALSE;
        if (strcmp (line, "00") == 0 || strcmp (line, "01") == 0)
          {
            RmPickleValue *v = new_value (r, RM_PICKLE_BOOL);
            if (v != NULL)
              v->boolean = line[1] == '1';
            return push (r, v);
          }
        return parse_decimal (r, line, &x) && push (r, make_int (r, x));
      }
    case 'L': /* LONG (text) */
      {
        g_autofree char *line = take_line (r);
        gint64 x;
        return line != NULL && parse_decimal (r, line, &x) && push (r, make_int (r, x));
      }
    case 'J': /* BININT */
      return take_uint (r, 4, &u) && push (r, make_int (r, (gint32) (guint32) u));
    case 'K': /* BININT1 */
      return take_uint (r, 1, &u) && push (r, make_int (r, (gint64) u));
    case 'M': /* BININT2 */
      return take_uint (r, 2, &u) && push (r, make_int (r, (gint64) u));
    case 0x8a: /* LONG1 */
    case 0x8b: /* LONG4 */
      {
        const guint8 *b;
        if (!take_uint (r, op == 0x8a ? 1 : 4, &u) || (b = take (r, u)) == NULL)
          return FALSE;
        return push (r, make_long (r, b, (gsize) u));
      }
    case 'F': /* FLOAT (text) */
      {
        g_autofree char *line = take_line (r);
        char *end = NULL;
        RmPickleValue *v;
        double d;
        if (line == NULL)
          return FALSE;
        d = g_ascii_strtod (line, &end);
        if (end == line || *end != '\0')
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle has a malformed float \"%s\"", line);
        v = new_value (r, RM_PICKLE_FLOAT);
        if (v != NULL)
          v->real = d;
        return push (r, v);
      }
    case 'G': /* BINFLOAT: big-endian IEEE double */
      {
        const guint8 *b = take (r, 8);
        guint64 bits = 0;
        RmPickleValue *v;
        if (b == NULL)
          return FALSE;
        for (int i = 0; i < 8; i++)
          bits = (bits << 8) | b[i];
        v = new_value (r, RM_PICKLE_FLOAT);
        if (v != NULL)
          memcpy (&v->real, &bits, sizeof v->real);
        return push (r, v);
      }
    case 'S': /* STRING (quoted text) */
      {
        g_autofree char *line = take_line (r);
        return line != NULL && push (r, parse_quoted (r, line));
      }
    case 'T': /* BINSTRING */
      return take_py2_string (r, 4);
    case 'U': /* SHORT_BINSTRING */
      return take_py2_string (r, 1);
    case 'V': /* UNICODE (raw-unicode-escape text) */
      {
        g_autofree char *line = take_line (r);
        return line != NULL && push (r, parse_raw_unicode (r, line));
      }
    case 'X': /* BINUNICODE */
      return take_utf8_or_bytes (r, RM_PICKLE_STR, 4);
    case 0x8c: /* SHORT_BINUNICODE */
      return take_utf8_or_bytes (r, RM_PICKLE_STR, 1);
    case 0x8d: /* BINUNICODE8 */
      return take_utf8_or_bytes (r, RM_PICKLE_STR, 8);
    case 'B': /* BINBYTES */
      return take_utf8_or_bytes (r, RM_PICKLE_BYTES, 4);
    case 'C': /* SHORT_BINBYTES */
      return take_utf8_or_bytes (r, RM_PICKLE_BYTES, 1);
    case 0x8e: /* BINBYTES8 */
    case 0x96: /* BYTEARRAY8 */
      return take_utf8_or_bytes (r, RM_PICKLE_BYTES, 8);
    case 0x97: /* NEXT_BUFFER */
      return fail (r, RM_PICKLE_ERROR_OPCODE,
                   "pickle uses out-of-band buffers, which are not supported");
    case 0x98: /* READONLY_BUFFER: no effect on data */
      return top (r) != NULL;
    case ']': /* EMPTY_LIST */
      return push (r, new_value (r, RM_PICKLE_LIST));
    case '}': /* EMPTY_DICT */
      return push (r, new_value (r, RM_PICKLE_DICT));
    case ')': /* EMPTY_TUPLE */
      return push (r, new_value (r, RM_PICKLE_TUPLE));
    case 0x8f: /* EMPTY_SET */
      return push (r, new_value (r, RM_PICKLE_SET));
    case 'l':  /* LIST */
    case 't':  /* TUPLE */
    case 0x91: /* FROZENSET */
      {
        gsize base = 0;
        RmPickleType type = op == 'l'   ? RM_PICKLE_LIST
                            : op == 't' ? RM_PICKLE_TUPLE
                                        : RM_PICKLE_FROZENSET;
        return pop_mark (r, &base) && push (r, make_sequence (r, type, base));
      }
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
      {
        gsize n = op - 0x84u;
        if (r->stack->len < frame_base (r) + n)
          return fail (r, RM_PICKLE_ERROR_INVALID,
                       "pickle stack underflow in TUPLE%" G_GSIZE_FORMAT, n);
        return push (r, make_sequence (r, RM_PICKLE_TUPLE, r->stack->len - n));
      }
    case 'd': /* DICT */
      {
        gsize base = 0;
        RmPickleValue *d;
        if (!pop_mark (r, &base))
          return FALSE;
        if ((r->stack->len - base) % 2 != 0)
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle DICT has an odd number of values");
        d = new_value (r, RM_PICKLE_DICT);
        if (d == NULL)
          return FALSE;
        if (r->stack->len > base)
          add_pairs (d, (RmPickleValue **) r->stack->pdata + base, (r->stack->len - base) / 2);
        g_ptr_array_set_size (r->stack, base);
        return push (r, d);
      }
    case 'a': /* APPEND */
      {
        RmPickleValue *item = pop (r), *list;
        return item != NULL && (list = top (r)) != NULL && append_to (r, list, &item, 1);
      }
    case 'e': /* APPENDS */
      return apply_marked (r, append_to);
    case 's': /* SETITEM */
      {
        RmPickleValue *kv[2], *d;
        kv[1] = pop (r);
        kv[0] = kv[1] != NULL ? pop (r) : NULL;
        return kv[0] != NULL && (d = top (r)) != NULL && setitems_to (r, d, kv, 2);
      }
    case 'u': /* SETITEMS */
      return apply_marked (r, setitems_to);
    case 0x90: /* ADDITEMS */
      return apply_marked (r, additems_to);
    case 'p': /* PUT */
      return memo_text_index (r, &u) && memo_put (r, u);
    case 'q': /* BINPUT */
      return take_uint (r, 1, &u) && memo_put (r, u);
    case 'r': /* LONG_BINPUT */
      return take_uint (r, 4, &u) && memo_put (r, u);
    case 0x94: /* MEMOIZE */
      return memo_put (r, g_hash_table_size (r->memo));
    case 'g': /* GET */
      return memo_text_index (r, &u) && memo_get (r, u);
    case 'h': /* BINGET */
      return take_uint (r, 1, &u) && memo_get (r, u);
    case 'j': /* LONG_BINGET */
      return take_uint (r, 4, &u) && memo_get (r, u);
    case 'c': /* GLOBAL */
    case 'i': /* INST */
      {
        g_autofree char *module = take_line (r);
        g_autofree char *name = module != NULL ? take_line (r) : NULL;
        RmPickleValue *g;
        gsize base = 0;
        if (name == NULL || (g = make_global (r, module, name)) == NULL)
          return FALSE;
        if (op == 'c')
          return push (r, g);
        if (!pop_mark (r, &base))
          return FALSE;
        {
          RmPickleValue *args = make_sequence (r, RM_PICKLE_TUPLE, base);
          return args != NULL && push (r, make_call (r, g, args));
        }
      }
    case 0x93: /* STACK_GLOBAL */
      {
        RmPickleValue *name = pop (r), *module = name != NULL ? pop (r) : NULL;
        if (module == NULL)
          return FALSE;
        if (module->type != RM_PICKLE_STR || name->type != RM_PICKLE_STR)
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle STACK_GLOBAL needs two strings");
        return push (r, make_global (r, module->data, name->data));
      }
    case 'o': /* OBJ: mark, class, args... */
      {
        gsize base = 0;
        RmPickleValue *cls, *args;
        if (!pop_mark (r, &base))
          return FALSE;
        if (r->stack->len <= base)
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle OBJ without a class");
        cls = r->stack->pdata[base];
        args = make_sequence (r, RM_PICKLE_TUPLE, base + 1);
        g_ptr_array_set_size (r->stack, base);
        return args != NULL && push (r, make_call (r, cls, args));
      }
    case 'R':  /* REDUCE */
    case 0x81: /* NEWOBJ */
      {
        RmPickleValue *args = pop (r), *callable = args != NULL ? pop (r) : NULL, *call;
        if (callable == NULL || (call = make_call (r, callable, args)) == NULL)
          return FALSE;
        call->newobj = op == 0x81;
        return push (r, call);
      }
    case 0x92: /* NEWOBJ_EX */
      {
        RmPickleValue *kwargs = pop (r), *args = kwargs != NULL ? pop (r) : NULL;
        RmPickleValue *cls = args != NULL ? pop (r) : NULL, *call;
        if (cls == NULL || (call = make_call (r, cls, args)) == NULL)
          return FALSE;
        if (kwargs->type != RM_PICKLE_DICT)
          return fail (r, RM_PICKLE_ERROR_INVALID,
                       "pickle NEWOBJ_EX keyword arguments are not a dict");
        call->newobj = TRUE;
        call->kwargs = kwargs;
        return push (r, call);
      }
    case 'b': /* BUILD */
      {
        RmPickleValue *state = pop (r), *obj;
        if (state == NULL || (obj = top (r)) == NULL)
          return FALSE;
        if (obj->type != RM_PICKLE_CALL)
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle BUILD on a value of type %s",
                       rm_pickle_type_name (obj->type));
        obj->state = state;
        return TRUE;
      }
    case 'P': /* PERSID */
    case 'Q': /* BINPERSID */
      {
        RmPickleValue *pid, *v;
        if (!r->lim.allow_persistent_ids)
          return fail (r, RM_PICKLE_ERROR_OPCODE,
                       "pickle uses persistent ids, which are not allowed here");
        if (op == 'P')
          {
            g_autofree char *line = take_line (r);
            pid = line != NULL ? make_string (r, RM_PICKLE_STR, line, strlen (line)) : NULL;
          }
        else
          pid = pop (r);
        if (pid == NULL || (v = new_value (r, RM_PICKLE_PERSID)) == NULL)
          return FALSE;
        v->args = pid;
        return push (r, v);
      }
    case 0x82: /* EXT1 */
    case 0x83: /* EXT2 */
    case 0x84: /* EXT4 */
      return fail (r, RM_PICKLE_ERROR_OPCODE,
                   "pickle uses the copyreg extension registry, which is not supported");
    default:
      return fail (r, RM_PICKLE_ERROR_OPCODE,
                   "unknown pickle opcode 0x%02x at offset %" G_GSIZE_FORMAT, op,
                   (gsize) (r->p - r->start - 1));
    }
}

/* ---- result check: no cycles, bounded depth ---- */

static RmPickleValue *
child_at (const RmPickleValue *v, gsize i)
{
  if (i < v->n_items)
    return v->items[i];
  i -= v->n_items;
  if (i < v->n_pairs * 2)
    return v->pairs[i];
  i -= v->n_pairs * 2;
  {
    RmPickleValue *extra[4] = { v->callable, v->args, v->state, v->kwargs };
    for (guint k = 0; k < 4; k++)
      if (extra[k] != NULL && i-- == 0)
        return extra[k];
  }
  return NULL;
}

static gboolean
check_graph (Reader *r)
{
  g_autoptr (GHashTable) visits = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_autoptr (GArray) stack = g_array_new (FALSE, FALSE, sizeof (gpointer) * 2);
  gpointer entry[2] = { r->doc->root, GSIZE_TO_POINTER (0) };
  Visit *root_visit = g_new0 (Visit, 1);

  root_visit->color = 1;
  g_hash_table_insert (visits, r->doc->root, root_visit);
  g_array_append_val (stack, entry);
  while (stack->len > 0)
    {
      gpointer *e = &g_array_index (stack, gpointer, (stack->len - 1) * 2);
      RmPickleValue *v = e[0];
      gsize i = GPOINTER_TO_SIZE (e[1]);
      RmPickleValue *c = child_at (v, i);
      Visit *vv = g_hash_table_lookup (visits, v);

      if (c == NULL)
        {
          vv->color = 2;
          vv->height += 1;
          g_array_set_size (stack, stack->len - 1);
          if (stack->len > 0)
            {
              RmPickleValue *parent = g_array_index (stack, gpointer, (stack->len - 1) * 2);
              Visit *pv = g_hash_table_lookup (visits, parent);
              pv->height = MAX (pv->height, vv->height);
            }
          continue;
        }
      e[1] = GSIZE_TO_POINTER (i + 1);
      {
        Visit *cv = g_hash_table_lookup (visits, c);
        if (cv != NULL && cv->color == 1)
          return fail (r, RM_PICKLE_ERROR_INVALID, "pickle data contains a cycle");
        if (cv != NULL) /* shared, already measured */
          {
            vv->height = MAX (vv->height, cv->height);
            continue;
          }
        if (stack->len >= r->lim.max_depth)
          return fail (r, RM_PICKLE_ERROR_LIMIT, "pickle data is nested deeper than %u levels",
                       r->lim.max_depth);
        cv = g_new0 (Visit, 1);
        cv->color = 1;
        g_hash_table_insert (visits, c, cv);
        entry[0] = c;
        entry[1] = GSIZE_TO_POINTER (0);
        g_array_append_val (stack, entry);
      }
    }
  if (root_visit->height > r->lim.max_depth)
    return fail (r, RM_PICKLE_ERROR_LIMIT, "pickle data is nested deeper than %u levels",
                 r->lim.max_depth);
  return TRUE;
}

RmPickle *
rm_pickle_load (const guint8 *data, gsize len, const RmPickleLimits *limits, GError **error)
{
  Reader r = { 0 };
  g_autoptr (RmPickle) doc = g_new0 (RmPickle, 1);
  gboolean stop = FALSE, ok = TRUE;

  doc->values = g_ptr_array_new_with_free_func ((GDestroyNotify) value_free);

  if (limits != NULL)
    r.lim = *limits;
  if (r.lim.max_input_bytes == 0)
    r.lim.max_input_bytes = 256u << 20;
  if (r.lim.max_values == 0)
    r.lim.max_values = 16u << 20;
  if (r.lim.max_memo == 0)
    r.lim.max_memo = 16u << 20;
  if (r.lim.max_depth == 0)
    r.lim.max_depth = 200;
  if (len > r.lim.max_input_bytes)
    {
      g_set_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_LIMIT,
                   "pickle of %" G_GSIZE_FORMAT
                   " bytes is larger than the limit of %" G_GSIZE_FORMAT,
                   len, r.lim.max_input_bytes);
      return NULL;
    }
  r.start = r.p = data;
  r.end = data + len;
  r.doc = doc;
  r.stack = g_ptr_array_new ();
  r.marks = g_array_new (FALSE, FALSE, sizeof (gsize));
  r.memo = g_hash_table_new (NULL, NULL);
  r.error = error;
  while (ok && !stop)
    ok = step (&r, &stop);
  if (ok)
    ok = check_graph (&r);
  g_ptr_array_unref (r.stack);
  g_array_unref (r.marks);
  g_hash_table_unref (r.memo);
  return ok ? g_steal_pointer (&doc) : NULL;
}

RmPickle *
rm_pickle_load_file (const char *path, const RmPickleLimits *limits, GError **error)
{
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, error);
  g_autoptr (GError) local = NULL;
  RmPickle *p;
  if (map == NULL)
    return NULL;
  p = rm_pickle_load ((const guint8 *) g_mapped_file_get_contents (map),
                      g_mapped_file_get_length (map), limits, &local);
  if (p == NULL)
    g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", path);
  return p;
}

const RmPickleValue *
rm_pickle_dict_get (const RmPickleValue *dict, const char *key)
{
  if (dict == NULL || (dict->type != RM_PICKLE_DICT && dict->type != RM_PICKLE_CALL))
    return NULL;
  for (gsize i = dict->n_pairs; i-- > 0;)
    {
      const RmPickleValue *k = dict->pairs[2 * i];
      if (k->type == RM_PICKLE_STR && strcmp (k->data, key) == 0)
        return dict->pairs[2 * i + 1];
    }
  return NULL;
}

const char *
rm_pickle_get_str (const RmPickleValue *v)
{
  return v != NULL && v->type == RM_PICKLE_STR ? v->data : NULL;
}

gboolean
rm_pickle_get_int (const RmPickleValue *v, gint64 *out)
{
  if (v == NULL || (v->type != RM_PICKLE_INT && v->type != RM_PICKLE_BOOL))
    return FALSE;
  *out = v->type == RM_PICKLE_INT ? v->integer : v->boolean;
  return TRUE;
}

gboolean
rm_pickle_is_sequence (const RmPickleValue *v)
{
  return v != NULL && (v->type == RM_PICKLE_LIST || v->type == RM_PICKLE_TUPLE);
}

/* ---- to JSON ---- */

JsonNode *
rm_pickle_to_json (const RmPickleValue *v, GError **error)
{
  JsonNode *node = NULL;

  switch (v->type)
    {
    case RM_PICKLE_NONE:
      return json_node_new (JSON_NODE_NULL);
    case RM_PICKLE_BOOL:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_boolean (node, v->boolean);
      return node;
    case RM_PICKLE_INT:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_int (node, v->integer);
      return node;
    case RM_PICKLE_FLOAT:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_double (node, v->real);
      return node;
    case RM_PICKLE_STR:
      node = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (node, v->data);
      return node;
    case RM_PICKLE_LIST:
    case RM_PICKLE_TUPLE:
      {
        g_autoptr (JsonArray) arr = json_array_sized_new ((guint) v->n_items);
        for (gsize i = 0; i < v->n_items; i++)
          {
            JsonNode *item = rm_pickle_to_json (v->items[i], error);
            if (item == NULL)
              return NULL;
            json_array_add_element (arr, item);
          }
        node = json_node_new (JSON_NODE_ARRAY);
        json_node_set_array (node, arr);
        return node;
      }
    case RM_PICKLE_DICT:
      {
        g_autoptr (JsonObject) obj = json_object_new ();
        for (gsize i = 0; i < v->n_pairs; i++)
          {
            const RmPickleValue *k = v->pairs[2 * i];
            g_autofree char *key = NULL;
            JsonNode *val;
            if (k->type == RM_PICKLE_STR)
              key = g_strdup (k->data);
            else if (k->type == RM_PICKLE_INT)
              key = g_strdup_printf ("%" G_GINT64_FORMAT, k->integer);
            else
              {
                g_set_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_TYPE,
                             "a dict key of type %s has no JSON form",
                             rm_pickle_type_name (k->type));
                return NULL;
              }
            val = rm_pickle_to_json (v->pairs[2 * i + 1], error);
            if (val == NULL)
              return NULL;
            json_object_set_member (obj, key, val); /* a later duplicate wins, as in Python */
          }
        node = json_node_new (JSON_NODE_OBJECT);
        json_node_set_object (node, obj);
        return node;
      }
    default:
      g_set_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_TYPE, "a pickled %s has no JSON form",
                   rm_pickle_type_name (v->type));
      return NULL;
    }
}

/* ---- writer ---- */

static void
put_u32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (out, b, 4);
}

static void
put_op (GByteArray *out, guint8 op)
{
  g_byte_array_append (out, &op, 1);
}

static gboolean
dump_node (JsonNode *node, GByteArray *out, guint depth, GError **error)
{
  if (depth > 200)
    {
      g_set_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_LIMIT,
                   "data nested too deeply to pickle");
      return FALSE;
    }
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      put_op (out, 'N');
      return TRUE;
    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (node);
        put_op (out, ']');
        if (json_array_get_length (a) == 0)
          return TRUE;
        put_op (out, '(');
        for (guint i = 0; i < json_array_get_length (a); i++)
          if (!dump_node (json_array_get_element (a, i), out, depth + 1, error))
            return FALSE;
        put_op (out, 'e');
        return TRUE;
      }
    case JSON_NODE_OBJECT:
      {
        JsonObject *o = json_node_get_object (node);
        g_autoptr (GList) members = json_object_get_members (o);
        put_op (out, '}');
        if (members == NULL)
          return TRUE;
        put_op (out, '(');
        for (GList *l = members; l != NULL; l = l->next)
          {
            gsize klen = strlen (l->data);
            put_op (out, 'X');
            put_u32 (out, (guint32) klen);
            g_byte_array_append (out, l->data, (guint) klen);
            if (!dump_node (json_object_get_member (o, l->data), out, depth + 1, error))
              return FALSE;
          }
        put_op (out, 'u');
        return TRUE;
      }
    case JSON_NODE_VALUE:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      put_op (out, json_node_get_boolean (node) ? 0x88 : 0x89);
      return TRUE;
    case G_TYPE_INT64:
      {
        gint64 v = json_node_get_int (node);
        if (v >= G_MININT32 && v <= G_MAXINT32)
          {
            put_op (out, 'J');
            put_u32 (out, (guint32) (gint32) v);
          }
        else
          {
            /* LONG1 with 8 bytes of two's complement: always exact for 64-bit values. */
            guint8 b[8];
            for (int i = 0; i < 8; i++)
              b[i] = (guint8) (((guint64) v >> (8 * i)) & 0xff);
            put_op (out, 0x8a);
            put_op (out, 8);
            g_byte_array_append (out, b, 8);
          }
        return TRUE;
      }
    case G_TYPE_DOUBLE:
      {
        double d = json_node_get_double (node);
        guint64 bits;
        guint8 b[8];
        memcpy (&bits, &d, 8);
        for (int i = 0; i < 8; i++)
          b[i] = (guint8) (bits >> (56 - 8 * i));
        put_op (out, 'G');
        g_byte_array_append (out, b, 8);
        return TRUE;
      }
    case G_TYPE_STRING:
      {
        const char *s = json_node_get_string (node);
        gsize len = strlen (s);
        put_op (out, 'X');
        put_u32 (out, (guint32) len);
        g_byte_array_append (out, (const guint8 *) s, (guint) len);
        return TRUE;
      }
    default:
      g_set_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_TYPE,
                   "cannot pickle a JSON value of type %s",
                   g_type_name (json_node_get_value_type (node)));
      return FALSE;
    }
}

GBytes *
rm_pickle_dump_json (JsonNode *node, GError **error)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 head[2] = { 0x80, 2 };

  g_byte_array_append (out, head, 2);
  if (!dump_node (node, out, 0, error))
    return NULL;
  put_op (out, '.');
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}
