/* SPDX-License-Identifier: GPL-3.0-or-later
 * The C API of rm-tokenizer.h over sentencepiece's C++ API. No exception crosses into C.
 */
#include "rm-tokenizer.h"
#include "rm-error.h"

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <sentencepiece_processor.h>

struct RmTokenizer
{
  sentencepiece::SentencePieceProcessor spm;
};

RmTokenizer *
rm_tokenizer_new_from_memory (const void *data, size_t len, GError **error)
{
  try
    {
      auto tok = std::make_unique<RmTokenizer> ();
      auto status = tok->spm.LoadFromSerializedProto (
          std::string_view (static_cast<const char *> (data), len));
      if (!status.ok ())
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "not a sentencepiece model: %s",
                       status.ToString ().c_str ());
          return nullptr;
        }
      return tok.release ();
    }
  catch (const std::exception &e)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "cannot load sentencepiece model: %s",
                   e.what ());
      return nullptr;
    }
}

RmTokenizer *
rm_tokenizer_new_from_file (const char *path, GError **error)
{
  g_autoptr (GError) io_error = nullptr;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, &io_error);
  if (!mapped)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s", io_error->message);
      return nullptr;
    }
  RmTokenizer *tok = rm_tokenizer_new_from_memory (g_mapped_file_get_contents (mapped),
                                                   g_mapped_file_get_length (mapped), error);
  if (!tok)
    g_prefix_error (error, "%s: ", path);
  return tok;
}

void
rm_tokenizer_free (RmTokenizer *tok)
{
  delete tok;
}

int
rm_tokenizer_vocab_size (const RmTokenizer *tok)
{
  return tok->spm.GetPieceSize ();
}

static bool
is_blank (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return false;
  return true;
}

int64_t *
rm_tokenizer_encode (const RmTokenizer *tok, const char *text, size_t max_len, size_t *n_ids,
                     GError **error)
{
  size_t bytes = strlen (text);
  if (bytes > RM_TOKENIZER_MAX_TEXT_BYTES)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE, "text of %zu bytes is too long", bytes);
      return nullptr;
    }
  if (!g_utf8_validate (text, (gssize) bytes, nullptr))
    {
      g_set_error_literal (error, RM_ERROR, RM_ERROR_INPUT, "text is not valid UTF-8");
      return nullptr;
    }
  if (is_blank (text))
    {
      g_set_error_literal (error, RM_ERROR, RM_ERROR_INPUT, "text is empty");
      return nullptr;
    }

  std::vector<std::string> pieces;
  try
    {
      /* As XLMRobertaTokenizer: pieces as strings, then PieceToId (unknown text -> 0). */
      auto status = tok->spm.Encode (std::string_view (text, bytes), &pieces);
      if (!status.ok ())
        {
          g_set_error (error, RM_ERROR, RM_ERROR_INPUT, "cannot tokenise: %s",
                       status.ToString ().c_str ());
          return nullptr;
        }
    }
  catch (const std::bad_alloc &)
    {
      g_set_error_literal (error, RM_ERROR, RM_ERROR_TOO_LARGE, "out of memory tokenising");
      return nullptr;
    }
  if (pieces.empty ())
    {
      g_set_error_literal (error, RM_ERROR, RM_ERROR_INPUT, "text has no tokens");
      return nullptr;
    }
  size_t n = pieces.size () + 2;
  if (n > max_len)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE,
                   "text has %zu tokens, more than the %zu the model accepts", n, max_len);
      return nullptr;
    }

  int64_t *ids = g_new (int64_t, n);
  ids[0] = RM_TOKEN_BOS;
  for (size_t i = 0; i < pieces.size (); i++)
    {
      int p = tok->spm.PieceToId (pieces[i]);
      ids[i + 1] = p ? (int64_t) p + 1 : RM_TOKEN_UNK;
    }
  ids[n - 1] = RM_TOKEN_EOS;
  *n_ids = n;
  return ids;
}
