/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: the safetensors header parser and validator, then every accessor on what it
 * accepts (a validated file must be safe to read in full).
 * libFuzzer: clang -fsanitize=fuzzer,address; without libFuzzer link fuzz-main.c.
 * Seeds: corpus-safetensors/.
 */
#include "rm-safetensors.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  RmSafetensors *st = rm_safetensors_from_memory (data, size, NULL);
  if (!st)
    return 0;
  uint64_t sum = 0;
  for (size_t i = 0; i < rm_safetensors_count (st); i++)
    {
      const RmStTensor *t = rm_safetensors_nth (st, i);
      g_assert (rm_safetensors_lookup (st, t->name) == t);
      g_assert (t->nbytes == rm_st_tensor_numel (t) * rm_st_dtype_size (t->dtype));
      size_t n = 0;
      g_autofree float *f = rm_st_tensor_to_float32 (t, &n, NULL);
      g_assert (f && n == rm_st_tensor_numel (t));
      g_autofree int64_t *v = rm_st_tensor_to_int64 (t, NULL, NULL);
      uint32_t bits;
      memcpy (&bits, f, sizeof bits); /* numel may be 0: f has room for one float */
      sum += v ? (uint64_t) v[0] : bits;
      for (size_t b = 0; b < t->nbytes; b++) /* touch every byte (ASan) */
        sum += ((const uint8_t *) t->data)[b];
    }
  (void) rm_safetensors_get_metadata (st, "format");
  rm_safetensors_close (st);
  return sum == UINT64_MAX; /* keeps the reads alive */
}
