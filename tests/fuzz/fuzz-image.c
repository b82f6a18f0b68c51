/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: image decoding (stb_image behind rm_image_decode_memory) under a small pixel
 * budget, then the resize and normalisation paths on whatever decodes.
 * libFuzzer: clang -fsanitize=fuzzer,address; without libFuzzer link fuzz-main.c.
 * Seeds: corpus-image/ (tiny PNG 8/16-bit grey, grey+alpha, RGB(A), palette, Adam7; BMP; TGA;
 * JPEG; each with known pixels, also used by tests/unit/test-image.c).
 */
#include "rm-image.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Small enough that a decompression bomb cannot exhaust the fuzzer's memory. */
  const RmImageLimits limits = { 2048, 2048, 1 << 20 };
  g_autoptr (RmImage) img = rm_image_decode_memory (data, size, &limits, NULL);
  if (!img)
    return 0;
  g_assert (img->channels == 3 && img->width > 0 && img->height > 0);
  if ((int64_t) img->width * img->height > 65536)
    return 0; /* keep iterations fast */
  rm_image_free (rm_image_resize_bilinear_pil (img, img->width * 2 + 1, 3));
  rm_image_free (rm_image_resize_nearest (img, 9, img->height + 1));
  g_autoptr (RmImage) small = rm_image_resize_bilinear_pil (img, 7, 5);
  float out[3 * 7 * 5];
  rm_image_to_normalized_nchw (small, out);
  return out[0] != out[0]; /* never NaN */
}
