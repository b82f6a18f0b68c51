/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: the safe pickle reader (rm-pickle.h) under small limits, then the JSON view of
 * whatever loads and a dump / reload round trip of that JSON.
 * libFuzzer: clang -fsanitize=fuzzer,address; without libFuzzer link fuzz-main.c.
 * Seeds: corpus-pickle/ (protocols 0-5, Python 2 strings, a whitelisted call, hostile cases).
 */
#include "rm-pickle.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const allowed[] = { "collections.OrderedDict",
                                         "torch._utils._rebuild_tensor_v2", "torch.FloatStorage",
                                         NULL };
  /* Small, so a bomb cannot exhaust the fuzzer's memory. */
  RmPickleLimits lim = { .max_input_bytes = 1 << 20,
                         .max_values = 1 << 16,
                         .max_memo = 1 << 12,
                         .max_depth = 64,
                         .allowed_globals = allowed,
                         .allow_persistent_ids = TRUE };
  g_autoptr (RmPickle) p = rm_pickle_load (data, size, &lim, NULL);
  g_autoptr (JsonNode) json = NULL;
  g_autoptr (GBytes) again = NULL;
  g_autoptr (RmPickle) back = NULL;
  gsize len;
  const guint8 *bytes;

  if (p == NULL)
    return 0;
  g_assert (rm_pickle_get_root (p) != NULL);
  json = rm_pickle_to_json (rm_pickle_get_root (p), NULL);
  if (json == NULL)
    return 0;
  /* Plain data must survive the writer and be read back. */
  again = rm_pickle_dump_json (json, NULL);
  g_assert (again != NULL);
  bytes = g_bytes_get_data (again, &len);
  back = rm_pickle_load (bytes, len, NULL, NULL);
  g_assert (back != NULL);
  return 0;
}
