/* SPDX-License-Identifier: GPL-3.0-or-later
 * The safe pickle reader: every protocol, Python 2 strings, whitelisted globals, and
 * hostile input (unknown opcodes, absurd sizes, cycles, deep nesting, code execution). */
#include <string.h>

#include "rm-pickle.h"
#include "test-util.h"

static const RmPickleValue *
get (const RmPickleValue *d, const char *key)
{
  const RmPickleValue *v = rm_pickle_dict_get (d, key);
  g_assert_nonnull (v);
  return v;
}

static gint64
int_at (const RmPickleValue *seq, gsize i)
{
  gint64 x = 0;
  g_assert_true (rm_pickle_is_sequence (seq) || seq->type == RM_PICKLE_SET);
  g_assert_cmpuint (i, <, seq->n_items);
  g_assert_true (rm_pickle_get_int (seq->items[i], &x));
  return x;
}

static void
check_sample (const RmPickleValue *root)
{
  const RmPickleValue *refs, *ref, *sents, *nums, *flags, *tuples, *shared, *lst;

  g_assert_cmpint (root->type, ==, RM_PICKLE_DICT);
  refs = get (root, "refs");
  g_assert_cmpint (refs->type, ==, RM_PICKLE_LIST);
  g_assert_cmpuint (refs->n_items, ==, 1);
  ref = refs->items[0];
  g_assert_cmpint (get (ref, "ann_id")->integer, ==, 5);
  g_assert_cmpstr (rm_pickle_get_str (get (ref, "split")), ==, "train");
  sents = get (ref, "sentences");
  g_assert_cmpuint (sents->n_items, ==, 2);
  g_assert_cmpstr (rm_pickle_get_str (get (sents->items[0], "raw")), ==, "The red roof");
  g_assert_cmpstr (rm_pickle_get_str (get (sents->items[1], "raw")), ==, "a plane \u2708 \u00e9");
  g_assert_cmpuint (get (sents->items[0], "tokens")->n_items, ==, 3);

  nums = get (root, "numbers");
  g_assert_cmpint (int_at (nums, 0), ==, 0);
  g_assert_cmpint (int_at (nums, 1), ==, -1);
  g_assert_cmpint (int_at (nums, 2), ==, 255);
  g_assert_cmpint (int_at (nums, 3), ==, 256);
  g_assert_cmpint (int_at (nums, 4), ==, 65535);
  g_assert_cmpint (int_at (nums, 5), ==, 65536);
  g_assert_cmpint (int_at (nums, 6), ==, G_MININT32);
  g_assert_cmpint (int_at (nums, 7), ==, (gint64) G_MAXINT32 + 1);
  g_assert_cmpint (int_at (nums, 8), ==, G_GINT64_CONSTANT (1) << 40);
  g_assert_cmpint (int_at (nums, 9), ==, G_MININT64);
  g_assert_cmpint (int_at (nums, 10), ==, G_MAXINT64);
  g_assert_cmpint (nums->items[11]->type, ==, RM_PICKLE_FLOAT);
  g_assert_cmpfloat (nums->items[11]->real, ==, 1.5);
  g_assert_cmpfloat (nums->items[12]->real, ==, -0.25);

  flags = get (root, "flags");
  g_assert_cmpint (flags->items[0]->type, ==, RM_PICKLE_BOOL);
  g_assert_true (flags->items[0]->boolean);
  g_assert_false (flags->items[1]->boolean);
  g_assert_cmpint (flags->items[2]->type, ==, RM_PICKLE_NONE);

  tuples = get (root, "tuples");
  for (gsize i = 0; i < 5; i++)
    {
      g_assert_cmpint (tuples->items[i]->type, ==, RM_PICKLE_TUPLE);
      g_assert_cmpuint (tuples->items[i]->n_items, ==, i);
      if (i > 0)
        g_assert_cmpint (int_at (tuples->items[i], i - 1), ==, (gint64) i);
    }

  /* Memoised objects come back shared, as in Python. */
  shared = get (root, "shared");
  g_assert_true (shared->items[0] == shared->items[1]);
  g_assert_cmpint (int_at (shared->items[0], 1), ==, 2);

  lst = get (root, "long_list"); /* written in APPENDS batches of 1000 */
  g_assert_cmpuint (lst->n_items, ==, 2500);
  for (gsize i = 0; i < 2500; i++)
    g_assert_cmpint (int_at (lst, i), ==, (gint64) i);

  g_assert_cmpstr (rm_pickle_get_str (get (root, "text")), ==,
                   "back\\slash\nnew line 'quote' \"dq\" \u00fc\U0001F600");
}

static void
test_protocols (void)
{
  for (int proto = 0; proto <= 5; proto++)
    {
      g_autofree char *name = g_strdup_printf ("pickle/sample-p%d.pkl", proto);
      g_autofree char *path = rm_test_fixture (name);
      g_autoptr (GError) error = NULL;
      g_autoptr (RmPickle) p = rm_pickle_load_file (path, NULL, &error);

      g_test_message ("protocol %d", proto);
      g_assert_no_error (error);
      check_sample (rm_pickle_get_root (p));
    }
}

static void
test_sets (void)
{
  g_autofree char *path = rm_test_fixture ("pickle/sets-p4.pkl");
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = rm_pickle_load_file (path, NULL, &error);
  const RmPickleValue *root;

  g_assert_no_error (error);
  root = rm_pickle_get_root (p);
  g_assert_cmpint (get (root, "s")->type, ==, RM_PICKLE_SET);
  g_assert_cmpint (int_at (get (root, "s"), 0), ==, 3);
  g_assert_cmpint (get (root, "f")->type, ==, RM_PICKLE_FROZENSET);
  g_assert_cmpuint (get (root, "f")->n_items, ==, 1);
}

static RmPickle *
load (const char *bytes, gsize len, const RmPickleLimits *lim, GError **error)
{
  return rm_pickle_load ((const guint8 *) bytes, len, lim, error);
}

#define LOAD(lit, lim, err) load ((lit), sizeof (lit) - 1, (lim), (err))

static void
test_python2_strings (void)
{
  /* Protocol 2 as Python 2 writes str: SHORT_BINSTRING, BINSTRING, and STRING (protocol 0). */
  static const char p2[] = "\x80\x02]q\x00(U\x05hello"
                           "T\x03\x00\x00\x00\xff\xfe\x01"
                           "S'it\\'s \\x41\\n'\n"
                           "e.";
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = LOAD (p2, NULL, &error);
  const RmPickleValue *root;

  g_assert_no_error (error);
  root = rm_pickle_get_root (p);
  g_assert_cmpuint (root->n_items, ==, 3);
  g_assert_cmpstr (rm_pickle_get_str (root->items[0]), ==, "hello");
  g_assert_cmpint (root->items[1]->type, ==, RM_PICKLE_BYTES); /* not UTF-8: kept as bytes */
  g_assert_cmpuint (root->items[1]->len, ==, 3);
  g_assert_cmpmem (root->items[1]->data, 3, "\xff\xfe\x01", 3);
  g_assert_cmpstr (rm_pickle_get_str (root->items[2]), ==, "it's A\n");
}

static void
test_whitelisted_call (void)
{
  /* collections.OrderedDict() + SETITEMS + BUILD, the way torch state dicts look. */
  static const char od[] = "\x80\x02"
                           "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00"
                           "aK\x01u}b.";
  const char *const allowed[] = { "collections.OrderedDict", NULL };
  RmPickleLimits lim = { .allowed_globals = allowed };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = LOAD (od, &lim, &error);
  const RmPickleValue *root;

  g_assert_no_error (error);
  root = rm_pickle_get_root (p);
  g_assert_cmpint (root->type, ==, RM_PICKLE_CALL);
  g_assert_cmpstr (root->callable->data, ==, "collections");
  g_assert_cmpstr (root->callable->name, ==, "OrderedDict");
  g_assert_cmpuint (root->args->n_items, ==, 0);
  g_assert_cmpint (get (root, "a")->integer, ==, 1);
  g_assert_cmpint (root->state->type, ==, RM_PICKLE_DICT);

  /* Without the whitelist entry the same data is refused. */
  {
    g_autoptr (GError) e2 = NULL;
    g_autoptr (RmPickle) p2 = LOAD (od, NULL, &e2);
    g_assert_null (p2);
    g_assert_error (e2, RM_PICKLE_ERROR, RM_PICKLE_ERROR_GLOBAL);
  }
}

static void
test_persistent_id (void)
{
  static const char pid[] = "\x80\x02(X\x07\x00\x00\x00storageK\x00tQ.";
  RmPickleLimits lim = { .allow_persistent_ids = TRUE };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = LOAD (pid, &lim, &error);

  g_assert_no_error (error);
  g_assert_cmpint (rm_pickle_get_root (p)->type, ==, RM_PICKLE_PERSID);
  g_assert_cmpstr (rm_pickle_get_str (rm_pickle_get_root (p)->args->items[0]), ==, "storage");
  {
    g_autoptr (GError) e2 = NULL;
    g_autoptr (RmPickle) p2 = LOAD (pid, NULL, &e2);
    g_assert_null (p2);
    g_assert_error (e2, RM_PICKLE_ERROR, RM_PICKLE_ERROR_OPCODE);
  }
}

typedef struct
{
  const char *what;
  const char *data;
  gsize len;
  int code;
} BadCase;

#define BAD(what, lit, code)          \
  {                                   \
    what, lit, sizeof (lit) - 1, code \
  }

static void
test_hostile (void)
{
  static const BadCase cases[] = {
    BAD ("os.system via GLOBAL", "cos\nsystem\n(S'echo hi'\ntR.", RM_PICKLE_ERROR_GLOBAL),
    BAD ("builtins.eval via STACK_GLOBAL",
         "\x80\x04\x8c\x08"
         "builtins\x8c\x04"
         "eval\x93.",
         RM_PICKLE_ERROR_GLOBAL),
    BAD ("INST", "(i__builtin__\nexec\n.", RM_PICKLE_ERROR_GLOBAL),
    BAD ("unknown opcode", "\x80\x02\xff.", RM_PICKLE_ERROR_OPCODE),
    BAD ("protocol 6", "\x80\x06N.", RM_PICKLE_ERROR_OPCODE),
    BAD ("extension code", "\x80\x02\x82\x01.", RM_PICKLE_ERROR_OPCODE),
    BAD ("out-of-band buffer", "\x80\x05\x97.", RM_PICKLE_ERROR_OPCODE),
    BAD ("absurd BINUNICODE8",
         "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f"
         "abc.",
         RM_PICKLE_ERROR_TRUNCATED),
    BAD ("absurd BINBYTES",
         "\x80\x03"
         "B\xff\xff\xff\xff"
         "ab.",
         RM_PICKLE_ERROR_TRUNCATED),
    BAD ("absurd LONG4", "\x80\x02\x8b\xff\xff\xff\x7f\x01.", RM_PICKLE_ERROR_TRUNCATED),
    BAD ("huge LONG1", "\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.",
         RM_PICKLE_ERROR_LIMIT),
    BAD ("truncated", "\x80\x02]q\x00(K\x01K", RM_PICKLE_ERROR_TRUNCATED),
    BAD ("no STOP", "\x80\x02N", RM_PICKLE_ERROR_TRUNCATED),
    BAD ("empty", "", RM_PICKLE_ERROR_TRUNCATED),
    BAD ("stack underflow",
         "\x80\x02"
         "a.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("missing mark",
         "\x80\x02]K\x01"
         "e.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("memo miss", "\x80\x02h\x05.", RM_PICKLE_ERROR_INVALID),
    BAD ("append to an int",
         "\x80\x02K\x01K\x02"
         "a.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("self-containing list",
         "\x80\x02]q\x00h\x00"
         "a.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("indirect cycle",
         "\x80\x02]q\x00]q\x01h\x00"
         "aa.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("bad UTF-8 text", "\x80\x02X\x02\x00\x00\x00\xc3\x28.", RM_PICKLE_ERROR_INVALID),
    BAD ("BUILD on a list", "\x80\x02]}b.", RM_PICKLE_ERROR_INVALID),
    BAD ("REDUCE on a str",
         "\x80\x02X\x01\x00\x00\x00"
         "a)R.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("malformed INT", "I12x\n.", RM_PICKLE_ERROR_INVALID),
    BAD ("overflowing INT", "I99999999999999999999999\n.", RM_PICKLE_ERROR_LIMIT),
    BAD ("unquoted STRING", "Sabc\n.", RM_PICKLE_ERROR_INVALID),
    BAD ("odd DICT",
         "(K\x01"
         "d.",
         RM_PICKLE_ERROR_INVALID),
    BAD ("frame too big", "\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00N.",
         RM_PICKLE_ERROR_TRUNCATED),
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RmPickle) p = load (cases[i].data, cases[i].len, NULL, &error);
      g_test_message ("%s: %s", cases[i].what, error ? error->message : "(accepted!)");
      g_assert_null (p);
      g_assert_error (error, RM_PICKLE_ERROR, cases[i].code);
    }
}

static void
test_limits (void)
{
  /* 300 nested lists: over the default depth of 200. */
  g_autoptr (GString) deep = g_string_new ("\x80\x02");
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = NULL;
  RmPickleLimits small = { .max_values = 100 };

  for (int i = 0; i < 300; i++)
    g_string_append_c (deep, ']');
  for (int i = 0; i < 299; i++)
    g_string_append_c (deep, 'a');
  g_string_append_c (deep, '.');
  p = load (deep->str, deep->len, NULL, &error);
  g_assert_null (p);
  g_assert_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_LIMIT);
  g_clear_error (&error);

  {
    g_autofree char *path = rm_test_fixture ("pickle/sample-p2.pkl");
    g_autoptr (RmPickle) p2 = rm_pickle_load_file (path, &small, &error);
    g_assert_null (p2);
    g_assert_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_LIMIT);
    g_clear_error (&error);
  }
  {
    RmPickleLimits tiny = { .max_input_bytes = 4 };
    g_autoptr (RmPickle) p3 = LOAD ("\x80\x02N.....", &tiny, &error);
    g_assert_null (p3);
    g_assert_error (error, RM_PICKLE_ERROR, RM_PICKLE_ERROR_LIMIT);
  }
}

static void
test_shared_not_cycle (void)
{
  /* A DAG (the same list twice, nested) is fine; only cycles are refused. */
  static const char dag[] = "\x80\x02]q\x00(]q\x01h\x01"
                            "e.";
  g_autoptr (GError) error = NULL;
  g_autoptr (RmPickle) p = LOAD (dag, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (rm_pickle_get_root (p)->items[0] == rm_pickle_get_root (p)->items[1]);
}

static void
test_dump_json_roundtrip (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (RmPickle) p = NULL;
  const RmPickleValue *root, *refs;
  gsize len;
  const guint8 *data;

  json_parser_load_from_data (parser,
                              "{\"refs\": [{\"ref_id\": 3, \"big\": 9000000000, \"neg\": -5,"
                              " \"f\": 0.5, \"ok\": true, \"none\": null, \"s\": \"caf\\u00e9\","
                              " \"empty\": [], \"e2\": {}}]}",
                              -1, &error);
  g_assert_no_error (error);
  bytes = rm_pickle_dump_json (json_parser_get_root (parser), &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (bytes, &len);
  p = rm_pickle_load (data, len, NULL, &error);
  g_assert_no_error (error);
  root = rm_pickle_get_root (p);
  refs = get (root, "refs");
  g_assert_cmpint (get (refs->items[0], "ref_id")->integer, ==, 3);
  g_assert_cmpint (get (refs->items[0], "big")->integer, ==, G_GINT64_CONSTANT (9000000000));
  g_assert_cmpint (get (refs->items[0], "neg")->integer, ==, -5);
  g_assert_cmpfloat (get (refs->items[0], "f")->real, ==, 0.5);
  g_assert_true (get (refs->items[0], "ok")->boolean);
  g_assert_cmpint (get (refs->items[0], "none")->type, ==, RM_PICKLE_NONE);
  g_assert_cmpstr (rm_pickle_get_str (get (refs->items[0], "s")), ==, "caf\u00e9");
  g_assert_cmpuint (get (refs->items[0], "empty")->n_items, ==, 0);
  g_assert_cmpint (get (refs->items[0], "e2")->type, ==, RM_PICKLE_DICT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pickle/protocols", test_protocols);
  g_test_add_func ("/pickle/sets", test_sets);
  g_test_add_func ("/pickle/python2-strings", test_python2_strings);
  g_test_add_func ("/pickle/whitelisted-call", test_whitelisted_call);
  g_test_add_func ("/pickle/persistent-id", test_persistent_id);
  g_test_add_func ("/pickle/hostile", test_hostile);
  g_test_add_func ("/pickle/limits", test_limits);
  g_test_add_func ("/pickle/shared-not-cycle", test_shared_not_cycle);
  g_test_add_func ("/pickle/dump-json", test_dump_json_roundtrip);
  return g_test_run ();
}
