/* SPDX-License-Identifier: GPL-3.0-or-later
 * Image input and output: decoding (JPEG via libjpeg-turbo; PNG, BMP, TGA via stb_image; TIFF
 * via libtiff) to 8-bit RGB under a
 * pixel budget, the exact preprocessing of the official code (PIL BILINEAR resize,
 * ToTensor, ImageNet Normalize; PIL NEAREST for masks), and PNG output for masks and heatmaps.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/* Interleaved 8-bit pixels, row-major, rows of width * channels bytes (no padding).
 * channels: 3 for decoded images (RGB), 1 for masks / grey; resize and PNG output also take
 * 2 and 4. The image owns its pixels. */
typedef struct
{
  int width, height, channels;
  uint8_t *pixels;
} RmImage;

/* Images over any of these are refused before anything is decoded. */
typedef struct
{
  int max_width, max_height;
  int64_t max_pixels;
} RmImageLimits;

#define RM_IMAGE_MAX_SIDE           65536 /* outputs of resize / new */
#define RM_IMAGE_DEFAULT_MAX_SIDE   16384
#define RM_IMAGE_DEFAULT_MAX_PIXELS ((int64_t) 1 << 28)
#define RM_IMAGE_LIMITS_DEFAULT_INIT                                                  \
  {                                                                                   \
    RM_IMAGE_DEFAULT_MAX_SIDE, RM_IMAGE_DEFAULT_MAX_SIDE, RM_IMAGE_DEFAULT_MAX_PIXELS \
  }

/* Zero-filled. Sizes outside 1..RM_IMAGE_MAX_SIDE or channels outside 1..4 are programming
 * errors (RM_CHECK). */
RmImage *rm_image_new (int width, int height, int channels);
void rm_image_free (RmImage *img);

/* Decodes JPEG, PNG (1-16 bit, grey, palette, alpha, interlaced), BMP or TGA into 8-bit
 * RGB (channels = 3), the way PIL's Image.open(f).convert("RGB") (Pillow 9.4) would:
 *   grey -> replicated; alpha -> dropped (not composited); palette -> its colours;
 *   16-bit RGB, RGBA and grey+alpha PNG -> the high byte of each sample (v >> 8), since PIL
 *   unpacks those as 8-bit modes; 16-bit grey PNG -> min(v, 255), since PIL opens it as
 *   mode "I" and "I" -> "RGB" clips.
 * The header is read first: a zero-sized image is an RM_ERROR_FORMAT, one over limits
 * (NULL: RM_IMAGE_LIMITS_DEFAULT_INIT) an RM_ERROR_TOO_LARGE, both without decoding.
 * TIFF (any layout libtiff reads) is decoded through libtiff: 8-bit samples as stored, 16-bit by
 * their high byte. JPEG is decoded by libjpeg-turbo as Pillow does (accurate integer IDCT,
 * fancy upsampling; grey replicated; CMYK -> RGB by Pillow's formula, Adobe files inverted), so
 * its pixels are Pillow's byte for byte; a JPEG whose data end before the last scanline is an
 * RM_ERROR_FORMAT, as Pillow's "image file is truncated". PNG and 24/32-bit BMP/TGA are exact. */
RmImage *rm_image_decode_memory (const void *data, size_t len, const RmImageLimits *limits,
                                 GError **error);
/* Same for a file (mapped, not copied); messages name the file. */
RmImage *rm_image_load (const char *path, const RmImageLimits *limits, GError **error);

/* PIL's Image.resize (size, Image.BILINEAR) on an 8-bit image, bit-exact (Pillow's
 * Resample.c): horizontal pass then vertical, each skipped when that side is unchanged;
 * antialiasing support max(in/out, 1); 22-bit fixed-point coefficients; rounding and
 * clipping to uint8 after each pass. */
RmImage *rm_image_resize_bilinear_pil (const RmImage *src, int width, int height);
/* PIL's Image.resize (size, Image.NEAREST) (Geometry.c ImagingScaleAffine), bit-exact:
 * source x = floor (x0 + i * scale) with x0 = scale / 2 accumulated in double. For masks. */
RmImage *rm_image_resize_nearest (const RmImage *src, int width, int height);

/* torchvision to_tensor + normalize with the ImageNet mean (0.485, 0.456, 0.406) and std
 * (0.229, 0.224, 0.225): out[c][y][x] = (p / 255 - mean[c]) / std[c] in float32, bit-exact.
 * img must have 3 channels; out holds 3 * width * height floats (CHW = NCHW with N = 1). */
void rm_image_to_normalized_nchw (const RmImage *img, float *out);

/* The official preprocessing of one branch: PIL bilinear to side x side, then to_tensor and
 * normalize as above. Returns 3 * side * side floats (g_free). */
float *rm_image_preprocess_nchw (const RmImage *img, int side);

/* Writes an 8-bit PNG (grey for 1 channel, RGB for 3, ...) atomically (temporary file in the
 * same folder, fsync, rename). */
gboolean rm_image_save_png (const RmImage *img, const char *path, GError **error);
/* An RGB rendering of a map with values in [0, 1] (clamped; NaN -> 0) with an
 * inferno-like colour scale: 0 black-purple ... 1 pale yellow. */
RmImage *rm_image_new_heatmap (const float *map, int width, int height);
gboolean rm_image_save_heatmap_png (const float *map, int width, int height, const char *path,
                                    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmImage, rm_image_free)

G_END_DECLS
