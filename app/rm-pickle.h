/* SPDX-License-Identifier: GPL-3.0-or-later
 * A safe reader for Python pickle data (protocols 0 to 5), and a small writer.
 *
 * The reader interprets the opcodes as data only: nothing is ever imported or called.
 * A GLOBAL (or STACK_GLOBAL, INST, OBJ) is accepted only when "module.name" is on the
 * caller's whitelist, and then becomes an RM_PICKLE_GLOBAL value; REDUCE / NEWOBJ /
 * NEWOBJ_EX / OBJ / INST on it give an RM_PICKLE_CALL value that records the callable and
 * its arguments (BUILD adds the state, APPEND / SETITEM on it collect list and dict items),
 * for the caller to interpret. Persistent ids (torch storages) are accepted only when the
 * limits allow them. Extension codes and out-of-band buffers are refused.
 *
 * Hard limits: input size, number of values, memo entries and nesting depth; every length
 * field is checked against the bytes that remain. Cyclic data is refused, so a caller can
 * walk the result recursively (its depth is at most max_depth).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define RM_PICKLE_ERROR (rm_pickle_error_quark ())
GQuark rm_pickle_error_quark (void);

typedef enum
{
  RM_PICKLE_ERROR_TRUNCATED,
  RM_PICKLE_ERROR_OPCODE,  /* unknown or refused opcode */
  RM_PICKLE_ERROR_GLOBAL,  /* global not on the whitelist */
  RM_PICKLE_ERROR_LIMIT,   /* size, count or depth limit */
  RM_PICKLE_ERROR_INVALID, /* malformed: bad stack, bad text field, cycle, ... */
  RM_PICKLE_ERROR_TYPE,    /* rm_pickle_dump: a value JSON-to-pickle cannot write */
} RmPickleError;

typedef enum
{
  RM_PICKLE_NONE,
  RM_PICKLE_BOOL,
  RM_PICKLE_INT, /* fits in 64 bits; larger integers are refused */
  RM_PICKLE_FLOAT,
  RM_PICKLE_STR,   /* UTF-8 text (also a Python 2 str that is valid UTF-8) */
  RM_PICKLE_BYTES, /* bytes, bytearray, or a Python 2 str that is not UTF-8 */
  RM_PICKLE_LIST,
  RM_PICKLE_TUPLE,
  RM_PICKLE_DICT, /* ordered key/value pairs as written; a later duplicate key wins */
  RM_PICKLE_SET,
  RM_PICKLE_FROZENSET,
  RM_PICKLE_GLOBAL, /* module + name, whitelisted */
  RM_PICKLE_CALL,   /* callable(args) [+ state, list items, dict items], never executed */
  RM_PICKLE_PERSID, /* persistent id: `args` holds the id object */
} RmPickleType;

typedef struct RmPickleValue RmPickleValue;

/* Read-only view of a loaded value; everything is owned by its RmPickle. */
struct RmPickleValue
{
  RmPickleType type;
  gboolean boolean;
  gint64 integer;
  double real;
  char *data; /* STR / BYTES (NUL-terminated too); GLOBAL: the module */
  gsize len;
  char *name;            /* GLOBAL: the name */
  RmPickleValue **items; /* LIST, TUPLE, SET, FROZENSET; CALL: appended list items */
  gsize n_items, cap_items;
  RmPickleValue **pairs;                  /* DICT and CALL: key0, value0, key1, value1, ... */
  gsize n_pairs, cap_pairs;               /* number of pairs */
  RmPickleValue *callable, *args, *state; /* CALL; PERSID uses args */
  gboolean newobj;                        /* CALL made by NEWOBJ / NEWOBJ_EX */
  RmPickleValue *kwargs;                  /* CALL made by NEWOBJ_EX */
};

typedef struct
{
  gsize max_input_bytes;              /* 0: 256 MiB */
  gsize max_values;                   /* 0: 16 M */
  gsize max_memo;                     /* 0: 16 M */
  guint max_depth;                    /* 0: 200 */
  const char *const *allowed_globals; /* NULL-terminated "module.name" list, or NULL */
  gboolean allow_persistent_ids;
} RmPickleLimits;

typedef struct RmPickle RmPickle;

RmPickle *rm_pickle_load (const guint8 *data, gsize len, const RmPickleLimits *limits,
                          GError **error);
RmPickle *rm_pickle_load_file (const char *path, const RmPickleLimits *limits, GError **error);
const RmPickleValue *rm_pickle_get_root (const RmPickle *pickle);
void rm_pickle_free (RmPickle *pickle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmPickle, rm_pickle_free)

/* Helpers for walking: NULL / FALSE when the type does not match. */
const RmPickleValue *rm_pickle_dict_get (const RmPickleValue *dict, const char *key);
const char *rm_pickle_get_str (const RmPickleValue *v);
gboolean rm_pickle_get_int (const RmPickleValue *v, gint64 *out);
gboolean rm_pickle_is_sequence (const RmPickleValue *v); /* list or tuple */
const char *rm_pickle_type_name (RmPickleType type);

/* Plain data (None, bool, int, float, str, list, tuple, dict with str or int keys) as JSON;
 * anything else (bytes, sets, globals, calls) is an RM_PICKLE_ERROR_TYPE error. */
JsonNode *rm_pickle_to_json (const RmPickleValue *value, GError **error);

/* Writes JSON data as a protocol-2 pickle (objects become dicts with str keys, arrays
 * lists, strings str, integers int, doubles float, booleans bool, null None), which both
 * Python 2 and 3 read. */
GBytes *rm_pickle_dump_json (JsonNode *node, GError **error);

G_END_DECLS
