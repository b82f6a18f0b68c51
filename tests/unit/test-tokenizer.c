/* SPDX-License-Identifier: GPL-3.0-or-later
 * Tokeniser: the golden expressions of the official (XLM-R) tokenisation, and bad text.
 */
#include "rm-error.h"
#include "rm-tokenizer.h"
#include "test-util.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define BEIT3_MAX_LEN 1022

static RmTokenizer *
load_tiny (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("golden/tiny.spm");
  if (!path)
    return NULL;
  g_autoptr (GError) error = NULL;
  RmTokenizer *tok = rm_tokenizer_new_from_file (path, &error);
  g_assert_no_error (error);
  return tok;
}

static void
test_golden_ids (void)
{
  g_autoptr (RmTokenizer) tok = load_tiny ();
  g_autofree char *manifest = rm_test_shared_file_or_skip ("golden/manifest.json");
  if (!tok || !manifest)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, manifest, &error));
  JsonObject *t = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (parser)), "tokenizer");
  JsonArray *exprs = json_object_get_array_member (t, "expressions");
  JsonArray *all_ids = json_object_get_array_member (t, "input_ids");
  JsonArray *spm_ids = json_object_get_array_member (t, "spm_ids");

  /* len(spm) = <mask> - 1 */
  g_assert_cmpint (rm_tokenizer_vocab_size (tok), ==, 1000);
  g_assert_cmpuint (json_array_get_length (exprs), ==, 2);
  for (guint e = 0; e < json_array_get_length (exprs); e++)
    {
      const char *text = json_array_get_string_element (exprs, e);
      JsonArray *expect = json_array_get_array_element (all_ids, e);
      /* The unpadded part: the pieces plus <s> and </s>. */
      guint n_expect = json_array_get_length (json_array_get_array_element (spm_ids, e)) + 2;
      size_t n;
      g_autofree int64_t *ids = rm_tokenizer_encode (tok, text, BEIT3_MAX_LEN, &n, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (n, ==, n_expect);
      for (guint i = 0; i < n; i++)
        g_assert_cmpint (ids[i], ==, json_array_get_int_element (expect, i));

      /* The length limit counts <s> and </s>. */
      g_autofree int64_t *fits = rm_tokenizer_encode (tok, text, n, &n, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (fits, n * sizeof *fits, ids, n * sizeof *ids);
      g_assert_null (rm_tokenizer_encode (tok, text, n - 1, &n, &error));
      g_assert_error (error, RM_ERROR, RM_ERROR_TOO_LARGE);
      g_clear_error (&error);
    }
}

static void
test_unknown_piece (void)
{
  g_autoptr (RmTokenizer) tok = load_tiny ();
  if (!tok)
    return;
  g_autoptr (GError) error = NULL;
  size_t n;
  /* A character outside the tiny vocabulary becomes <unk> = 3, never spm id 0 + 1. */
  g_autofree int64_t *ids = rm_tokenizer_encode (tok, "the \xe2\x98\x83 tank", 64, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ids[0], ==, RM_TOKEN_BOS);
  g_assert_cmpint (ids[n - 1], ==, RM_TOKEN_EOS);
  gboolean has_unk = FALSE;
  for (size_t i = 1; i + 1 < n; i++)
    {
      g_assert_cmpint (ids[i], !=, 1);
      g_assert_cmpint (ids[i], <=, rm_tokenizer_vocab_size (tok));
      has_unk |= ids[i] == RM_TOKEN_UNK;
    }
  g_assert_true (has_unk);
}

static void
expect_encode_error (const RmTokenizer *tok, const char *text, RmError code)
{
  g_autoptr (GError) error = NULL;
  size_t n = 12345;
  g_assert_null (rm_tokenizer_encode (tok, text, BEIT3_MAX_LEN, &n, &error));
  g_assert_error (error, RM_ERROR, (gint) code);
  g_assert_cmpuint (n, ==, 12345);
}

static void
test_bad_text (void)
{
  g_autoptr (RmTokenizer) tok = load_tiny ();
  if (!tok)
    return;
  expect_encode_error (tok, "", RM_ERROR_INPUT);
  expect_encode_error (tok, " \t\n \xe3\x80\x80", RM_ERROR_INPUT); /* incl. ideographic space */
  expect_encode_error (tok, "the \xff tank", RM_ERROR_INPUT);
  expect_encode_error (tok, "over\xc3", RM_ERROR_INPUT);     /* truncated sequence */
  expect_encode_error (tok, "\xed\xa0\x80", RM_ERROR_INPUT); /* UTF-16 surrogate */

  g_autofree char *huge = g_strnfill (RM_TOKENIZER_MAX_TEXT_BYTES + 1, 'a');
  expect_encode_error (tok, huge, RM_ERROR_TOO_LARGE);
}

static void
test_bad_model (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (rm_tokenizer_new_from_file ("/nonexistent/x.spm", &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (rm_tokenizer_new_from_memory ("\x0a\xff\xff\xff junk", 9, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tokenizer/golden-ids", test_golden_ids);
  g_test_add_func ("/tokenizer/unknown-piece", test_unknown_piece);
  g_test_add_func ("/tokenizer/bad-text", test_bad_text);
  g_test_add_func ("/tokenizer/bad-model", test_bad_model);
  return g_test_run ();
}
