/* SPDX-License-Identifier: GPL-3.0-or-later
 * Caption tokenisation exactly as the official code does it (spec §1.2): HuggingFace's slow
 * XLMRobertaTokenizer over a sentencepiece model. ids = [<s>=0] + ids of the pieces + [</s>=2]
 * where a piece with sentencepiece id p >= 1 becomes p + 1 (fairseq offset) and the unknown
 * piece (p = 0) becomes <unk> = 3. <pad> = 1 is never produced; <mask> = vocab size + 1.
 *
 * Not reproduced: HF first splits the text on its special-token strings, so a caption that
 * literally contains "<s>", "</s>", "<unk>", "<pad>", "<mask>" or "[SEG]" would get that
 * token's id there; here such text is ordinary text.
 *
 * Implemented in C++ (rm-tokenizer.cc) over libsentencepiece; a loaded tokenizer is
 * immutable, so one can encode from several threads at once.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

#define RM_TOKEN_BOS 0
#define RM_TOKEN_PAD 1
#define RM_TOKEN_EOS 2
#define RM_TOKEN_UNK 3

/* Texts longer than this many bytes are refused before tokenising (RM_ERROR_TOO_LARGE). */
#define RM_TOKENIZER_MAX_TEXT_BYTES (1 << 20)

typedef struct RmTokenizer RmTokenizer;

/* A sentencepiece model file (e.g. beit3.spm / sentencepiece.bpe.model). Unreadable:
 * RM_ERROR_IO; not a sentencepiece model: RM_ERROR_FORMAT. */
RmTokenizer *rm_tokenizer_new_from_file (const char *path, GError **error);
RmTokenizer *rm_tokenizer_new_from_memory (const void *data, size_t len, GError **error);
void rm_tokenizer_free (RmTokenizer *tok);

/* len(spm): the number of sentencepiece pieces (model ids go up to this + 2 with <mask>). */
int rm_tokenizer_vocab_size (const RmTokenizer *tok);

/* The model ids of text (UTF-8), <s> and </s> included, as a g_free'd array of *n_ids.
 * Errors (RM_ERROR_INPUT unless noted): invalid UTF-8; empty or whitespace-only text, or text
 * that yields no piece; more than max_len ids (RM_ERROR_TOO_LARGE; max_len is the position
 * table's capacity, 1022 for BEiT-3). */
int64_t *rm_tokenizer_encode (const RmTokenizer *tok, const char *text, size_t max_len,
                              size_t *n_ids, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmTokenizer, rm_tokenizer_free)

G_END_DECLS
