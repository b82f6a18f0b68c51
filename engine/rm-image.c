/* SPDX-License-Identifier: GPL-3.0-or-later
 * Image decoding, PIL-exact resizing, normalisation and PNG output. See rm-image.h.
 */
#include "rm-image.h"
#include "rm-error.h"
#include "rm-tensor.h" /* RM_CHECK */

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include <jpeglib.h>
#include <jerror.h> /* after jpeglib.h */

/* stb allocates through these: zero-filled (stb 2.27 can leave parts of a truncated TGA
 * unwritten, which would expose old heap contents), and each allocation is capped per decode
 * (it trusts PNG chunk lengths and zlib streams and would otherwise reserve up to 4 GiB for a
 * tiny file). The cap is set from the header's size by rm_image_decode_memory. */
static _Thread_local size_t stb_alloc_cap = SIZE_MAX;

static void *
stb_malloc (size_t n)
{
  return n <= stb_alloc_cap ? calloc (1, n) : NULL;
}

static void *
stb_realloc (void *p, size_t n)
{
  return n <= stb_alloc_cap ? realloc (p, n) : NULL;
}

/* stb 2.27 calls memcpy (NULL, src, 0) for an empty first PNG IDAT chunk. */
static inline void *
stb_memcpy (void *dst, const void *src, size_t n)
{
  return n ? memcpy (dst, src, n) : dst;
}

/* stb is third-party code: compiled here once, static, restricted to the formats we accept
 * (less attack surface), without stdio, and without our strict warnings. */
#define STBI_MALLOC  stb_malloc
#define STBI_REALLOC stb_realloc
#define STBI_FREE    free
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
/* Not scoped: "declared static but never defined" (stb prototypes of the formats left out)
 * is reported at the end of the file. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wundef"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define memcpy stb_memcpy
/* stb's bit readers also shift by out-of-range amounts, overflow ints and compute NULL + 0 on
 * corrupt input: undefined but harmless on our targets, upstream's to fix, and suppressed
 * for fuzzing with tests/fuzz/ubsan-stb.supp. (A clang no_sanitize attribute here would also
 * switch off libFuzzer's coverage of stb.) */
#include <stb_image.h>
#undef memcpy
#include <stb_image_write.h>
#pragma GCC diagnostic pop

/* ---- basics --------------------------------------------------------------------------- */

RmImage *
rm_image_new (int width, int height, int channels)
{
  RM_CHECK (width > 0 && height > 0 && width <= RM_IMAGE_MAX_SIDE && height <= RM_IMAGE_MAX_SIDE &&
                channels >= 1 && channels <= 4,
            "bad image size %dx%dx%d", width, height, channels);
  RmImage *img = g_new (RmImage, 1);
  img->width = width;
  img->height = height;
  img->channels = channels;
  img->pixels = g_malloc0 ((size_t) width * (size_t) height * (size_t) channels);
  return img;
}

void
rm_image_free (RmImage *img)
{
  if (!img)
    return;
  g_free (img->pixels);
  g_free (img);
}

/* ---- decoding ------------------------------------------------------------------------- */

/* One decoded sample to 8 bits as PIL's convert("RGB") sees it (see rm-image.h). */
static inline uint8_t
sample_to_u8 (const void *pixels, size_t i, gboolean is16, gboolean grey_only)
{
  if (!is16)
    return ((const uint8_t *) pixels)[i];
  uint16_t v = ((const uint16_t *) pixels)[i];
  return grey_only ? (uint8_t) MIN (v, 255) : (uint8_t) (v >> 8);
}

/* stb's output (n = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -> RGB. */
static RmImage *
to_rgb (const void *pixels, int w, int h, int n, gboolean is16)
{
  RmImage *img = rm_image_new (w, h, 3);
  size_t count = (size_t) w * (size_t) h;
  uint8_t *out = img->pixels;
  for (size_t p = 0; p < count; p++, out += 3)
    {
      size_t i = p * (size_t) n;
      if (n <= 2)
        out[0] = out[1] = out[2] = sample_to_u8 (pixels, i, is16, n == 1);
      else
        for (int c = 0; c < 3; c++)
          out[c] = sample_to_u8 (pixels, i + (size_t) c, is16, FALSE);
    }
  return img;
}

/* ---- TIFF (libtiff, from memory) ------------------------------------------------------ */

typedef struct
{
  const uint8_t *data;
  toff_t len, pos;
} TiffMemory;

static tmsize_t
tiff_read (thandle_t h, void *buf, tmsize_t size)
{
  TiffMemory *m = (TiffMemory *) h;
  if (size < 0 || m->pos >= m->len)
    return 0;
  toff_t n = MIN ((toff_t) size, m->len - m->pos);
  memcpy (buf, m->data + m->pos, (size_t) n);
  m->pos += n;
  return (tmsize_t) n;
}

static tmsize_t
tiff_write (thandle_t h, void *buf, tmsize_t size)
{
  return -1; /* read-only */
}

static toff_t
tiff_seek (thandle_t h, toff_t off, int whence)
{
  TiffMemory *m = (TiffMemory *) h;
  toff_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
  if (off > G_MAXUINT64 - base)
    return (toff_t) -1;
  m->pos = base + off;
  return m->pos;
}

static int
tiff_close (thandle_t h)
{
  return 0;
}

static toff_t
tiff_size (thandle_t h)
{
  return ((TiffMemory *) h)->len;
}

static int
tiff_map (thandle_t h, void **base, toff_t *size)
{
  return 0; /* no mapping: libtiff reads through tiff_read */
}

static void
tiff_unmap (thandle_t h, void *base, toff_t size)
{
}

/* The header's size against the limits, before any pixel is decoded: a zero-sized image is an
 * RM_ERROR_FORMAT, one over the limits an RM_ERROR_TOO_LARGE. Every decoder asks this. */
static gboolean
size_allowed (int64_t w, int64_t h, const RmImageLimits *limits, GError **error)
{
  if (w <= 0 || h <= 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                   "zero-sized image (%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ")", w, h);
      return FALSE;
    }
  if (w > limits->max_width || h > limits->max_height || w > RM_IMAGE_MAX_SIDE ||
      h > RM_IMAGE_MAX_SIDE || w * h > limits->max_pixels)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE,
                   "%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " image is over the limit (%dx%d, %" G_GINT64_FORMAT " pixels)",
                   w, h, limits->max_width, limits->max_height, limits->max_pixels);
      return FALSE;
    }
  return TRUE;
}

static gboolean
is_tiff (const uint8_t *b, size_t len)
{
  return len >= 4 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0) ||
                      (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42));
}

/* TIFF (RefSegRS and GeoTIFF tiles) through libtiff's RGBA interface: 8-bit samples as they are,
 * 16-bit ones by their high byte, palette and grey expanded, alpha dropped. The size is checked
 * against the limits before any pixel is read. */
static RmImage *
decode_tiff (const uint8_t *data, size_t len, const RmImageLimits *limits, GError **error)
{
  static gsize quiet = 0;
  if (g_once_init_enter (&quiet))
    {
      /* libtiff would print to stderr; the GError below says what matters. */
      TIFFSetErrorHandler (NULL);
      TIFFSetWarningHandler (NULL);
      g_once_init_leave (&quiet, 1);
    }
  TiffMemory m = { data, (toff_t) len, 0 };
  TIFF *tif = TIFFClientOpen ("image", "rm", (thandle_t) &m, tiff_read, tiff_write, tiff_seek,
                              tiff_close, tiff_size, tiff_map, tiff_unmap);
  if (tif == NULL)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "corrupt TIFF header");
      return NULL;
    }
  uint32_t w = 0, h = 0;
  TIFFGetField (tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField (tif, TIFFTAG_IMAGELENGTH, &h);
  RmImage *img = NULL;
  if (size_allowed (w, h, limits, error))
    {
      uint32_t *raster = g_try_new (uint32_t, (size_t) w * h);
      if (raster == NULL)
        g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE, "no memory for a %ux%u image", w, h);
      else if (!TIFFReadRGBAImageOriented (tif, w, h, raster, ORIENTATION_TOPLEFT, 0))
        g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "corrupt or unsupported TIFF");
      else
        {
          img = rm_image_new ((int) w, (int) h, 3);
          for (size_t i = 0; i < (size_t) w * h; i++)
            {
              img->pixels[3 * i] = (uint8_t) TIFFGetR (raster[i]);
              img->pixels[3 * i + 1] = (uint8_t) TIFFGetG (raster[i]);
              img->pixels[3 * i + 2] = (uint8_t) TIFFGetB (raster[i]);
            }
        }
      g_free (raster);
    }
  TIFFClose (tif);
  return img;
}

/* ---- JPEG, as Pillow decodes it ---------------------------------------------------------- */

/* JPEG goes through libjpeg(-turbo), the library Pillow decodes with, left at the defaults
 * Pillow leaves too (the accurate integer IDCT, fancy upsampling), so the pixels are Pillow's;
 * stb's own decoder differs from it by a few levels. */

typedef struct
{
  struct jpeg_error_mgr base;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  gboolean ran_out; /* the data ended early */
} JpegError;

static void
jpeg_error_exit (j_common_ptr cinfo)
{
  JpegError *err = (JpegError *) cinfo->err;
  err->base.format_message (cinfo, err->message);
  longjmp (err->jump, 1);
}

/* Warnings (recoverable corruption) do not stop the decode, as in Pillow. Running out of data
 * is noted: before the last scanline it is Pillow's "image file is truncated" (libjpeg would
 * pad the rest with grey); after it (no end-of-image marker) Pillow does not mind either. */
static void
jpeg_emit_message (j_common_ptr cinfo, int level)
{
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
    ((JpegError *) cinfo->err)->ran_out = TRUE;
}

static gboolean
is_jpeg (const uint8_t *b, size_t len)
{
  return len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
}

/* Pillow's CMYK -> RGB (Convert.c cmyk2rgb): each channel (255 - k) - (255 - k) c / 255, with
 * its rounded division by 255. Adobe files store CMYK inverted (Pillow's "CMYK;I"). */
static inline uint8_t
cmyk_channel (int c, int k)
{
  int nk = 255 - k, t = c * nk + 128;
  return (uint8_t) CLAMP (nk - (((t >> 8) + t) >> 8), 0, 255);
}

static RmImage *
decode_jpeg (const uint8_t *data, size_t len, const RmImageLimits *limits, GError **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegError err;
  /* volatile: set before, read after a longjmp */
  RmImage *volatile img = NULL;
  uint8_t *volatile row = NULL;

  memset (&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error (&err.base);
  err.base.error_exit = jpeg_error_exit;
  err.base.emit_message = jpeg_emit_message;
  err.ran_out = FALSE;
  if (setjmp (err.jump))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "corrupt JPEG (%s)", err.message);
      jpeg_destroy_decompress (&cinfo);
      rm_image_free (img);
      g_free (row);
      return NULL;
    }
  jpeg_create_decompress (&cinfo);
  /* a decode never needs more than a few times the image: corrupt headers ask for more */
  cinfo.mem->max_memory_to_use = 64 * (long) MIN (len, (size_t) 1 << 24) + (256L << 20);
  jpeg_mem_src (&cinfo, data, (unsigned long) len);
  jpeg_read_header (&cinfo, TRUE);

  const unsigned w = cinfo.image_width, h = cinfo.image_height;
  if (!size_allowed (w, h, limits, error))
    {
      jpeg_destroy_decompress (&cinfo);
      return NULL;
    }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
    cinfo.out_color_space = JCS_CMYK;
  else if (cinfo.jpeg_color_space == JCS_GRAYSCALE)
    cinfo.out_color_space = JCS_GRAYSCALE;
  else
    cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress (&cinfo);
  const int n = cinfo.output_components;
  if (cinfo.output_width != w || cinfo.output_height != h || (n != 1 && n != 3 && n != 4))
    {
      jpeg_destroy_decompress (&cinfo);
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "inconsistent JPEG header");
      return NULL;
    }
  img = rm_image_new ((int) w, (int) h, 3);
  row = g_malloc ((size_t) w * (size_t) n);
  const gboolean inverted = n == 4 && cinfo.saw_Adobe_marker;
  while (cinfo.output_scanline < h)
    {
      uint8_t *out = img->pixels + (size_t) cinfo.output_scanline * w * 3;
      JSAMPROW rows[1] = { row };
      jpeg_read_scanlines (&cinfo, rows, 1);
      for (unsigned x = 0; x < w; x++, out += 3)
        {
          const uint8_t *in = row + (size_t) x * (size_t) n;
          if (n == 1)
            out[0] = out[1] = out[2] = in[0];
          else if (n == 3)
            memcpy (out, in, 3);
          else
            {
              const int k = inverted ? 255 - in[3] : in[3];
              for (int c = 0; c < 3; c++)
                out[c] = cmyk_channel (inverted ? 255 - in[c] : in[c], k);
            }
        }
    }
  if (err.ran_out)
    {
      g_strlcpy (err.message, "the file is truncated", sizeof err.message);
      longjmp (err.jump, 1);
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  g_free (row);
  return img;
}

RmImage *
rm_image_decode_memory (const void *data, size_t len, const RmImageLimits *limits, GError **error)
{
  static const RmImageLimits default_limits = RM_IMAGE_LIMITS_DEFAULT_INIT;
  if (!limits)
    limits = &default_limits;
  if (len == 0)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "empty file");
      return NULL;
    }
  if (len > INT_MAX) /* stb takes an int length */
    {
      g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE, "file of %zu bytes is too large", len);
      return NULL;
    }

  if (is_tiff (data, len))
    return decode_tiff (data, len, limits, error);

  if (is_jpeg (data, len))
    return decode_jpeg (data, len, limits, error);

  const stbi_uc *buf = data;
  int w, h, n;
  if (!stbi_info_from_memory (buf, (int) len, &w, &h, &n))
    {
      const char *why = stbi_failure_reason ();
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                   "not a readable JPEG, PNG, BMP, TGA or TIFF image (%s)", why ? why : "?");
      return NULL;
    }
  if (!size_allowed (w, h, limits, error))
    return NULL;

  /* The largest buffer a sound file of this size needs: 16-bit RGBA (with padding), or the
   * compressed data itself. */
  stb_alloc_cap = 16 * ((size_t) w + 32) * ((size_t) h + 32) + 2 * len + (1 << 20);
  /* req_comp 0: we need the stored channel count to convert the way PIL does. */
  gboolean is16 = stbi_is_16_bit_from_memory (buf, (int) len);
  int dw, dh;
  void *pixels = is16 ? (void *) stbi_load_16_from_memory (buf, (int) len, &dw, &dh, &n, 0)
                      : (void *) stbi_load_from_memory (buf, (int) len, &dw, &dh, &n, 0);
  stb_alloc_cap = SIZE_MAX;
  if (!pixels)
    {
      const char *why = stbi_failure_reason ();
      if (why && strcmp (why, "outofmem") == 0)
        g_set_error (error, RM_ERROR, RM_ERROR_TOO_LARGE,
                     "corrupt image (its data need more memory than its size allows)");
      else
        g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "corrupt image (%s)", why ? why : "?");
      return NULL;
    }
  /* The budget was checked on the header's size; never trust a decoder to agree. */
  if (dw != w || dh != h || n < 1 || n > 4)
    {
      stbi_image_free (pixels);
      g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "inconsistent image header");
      return NULL;
    }
  RmImage *img = to_rgb (pixels, w, h, n, is16);
  stbi_image_free (pixels);
  return img;
}

RmImage *
rm_image_load (const char *path, const RmImageLimits *limits, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, &io_error);
  if (!mapped)
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s", io_error->message);
      return NULL;
    }
  RmImage *img = rm_image_decode_memory (g_mapped_file_get_contents (mapped),
                                         g_mapped_file_get_length (mapped), limits, error);
  if (!img)
    g_prefix_error (error, "%s: ", path);
  return img;
}

/* ---- PIL BILINEAR --------------------------------------------------------------------- */

/* Pillow's PRECISION_BITS for 8-bit images: 32 - 8 (result) - 2 (headroom). */
#define PRECISION_BITS 22

/* Fixed-point taps of one resampling pass: output i reads in[bounds[2i] ...] for
 * bounds[2i + 1] taps with weights k[i * ksize ...]. */
typedef struct
{
  int ksize;
  int *bounds;
  int32_t *k;
} Taps;

static double
bilinear_filter (double x)
{
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return 1.0 - x;
  return 0.0;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the BILINEAR filter (support 1),
 * expression for expression so that every double rounds the same way. (The only product
 * followed by a sum, k * 2^22 + 0.5, is exact, so FMA contraction cannot change it.) */
static Taps
taps_new (int in_size, int out_size)
{
  double scale = (double) in_size / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale; /* antialias when shrinking */
  double support = 1.0 * filterscale;
  Taps t;
  t.ksize = (int) ceil (support) * 2 + 1;
  t.bounds = g_new (int, (size_t) out_size * 2);
  t.k = g_new0 (int32_t, (size_t) out_size * (size_t) t.ksize);
  g_autofree double *w = g_new (double, (size_t) t.ksize);

  for (int xx = 0; xx < out_size; xx++)
    {
      double center = (xx + 0.5) * scale;
      double ww = 0.0, ss = 1.0 / filterscale;
      int xmin = (int) (center - support + 0.5); /* truncation, as Pillow's "round" */
      if (xmin < 0)
        xmin = 0;
      int xmax = (int) (center + support + 0.5);
      if (xmax > in_size)
        xmax = in_size;
      xmax -= xmin;
      for (int x = 0; x < xmax; x++)
        {
          w[x] = bilinear_filter ((x + xmin - center + 0.5) * ss);
          ww += w[x];
        }
      int32_t *k = &t.k[(size_t) xx * (size_t) t.ksize];
      for (int x = 0; x < xmax; x++)
        {
          double v = ww != 0.0 ? w[x] / ww : w[x];
          k[x] = v < 0 ? (int32_t) (-0.5 + v * (1 << PRECISION_BITS))
                       : (int32_t) (0.5 + v * (1 << PRECISION_BITS));
        }
      t.bounds[xx * 2] = xmin;
      t.bounds[xx * 2 + 1] = xmax;
    }
  return t;
}

static void
taps_clear (Taps *t)
{
  g_free (t->bounds);
  g_free (t->k);
}

/* Pillow's clip8: the sum carries PRECISION_BITS fraction bits and started at one half. */
static inline uint8_t
clip8 (int32_t ss)
{
  int32_t v = ss >> PRECISION_BITS;
  return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One pass along x (stride = channels) or along y (stride = row length). */
static void
resample_pass (const RmImage *src, RmImage *dst, gboolean horizontal)
{
  int nc = src->channels;
  Taps t = horizontal ? taps_new (src->width, dst->width) : taps_new (src->height, dst->height);
  size_t src_row = (size_t) src->width * (size_t) nc;
  size_t step = horizontal ? (size_t) nc : src_row;

  for (int y = 0; y < dst->height; y++)
    for (int x = 0; x < dst->width; x++)
      {
        int o = horizontal ? x : y;
        const int32_t *k = &t.k[(size_t) o * (size_t) t.ksize];
        int n = t.bounds[o * 2 + 1];
        const uint8_t *in =
            horizontal
                ? src->pixels + (size_t) y * src_row + (size_t) t.bounds[o * 2] * (size_t) nc
                : src->pixels + (size_t) t.bounds[o * 2] * src_row + (size_t) x * (size_t) nc;
        uint8_t *out = dst->pixels + ((size_t) y * (size_t) dst->width + (size_t) x) * (size_t) nc;
        for (int c = 0; c < nc; c++)
          {
            int32_t ss = 1 << (PRECISION_BITS - 1);
            for (int i = 0; i < n; i++)
              ss += in[(size_t) i * step + (size_t) c] * k[i];
            out[c] = clip8 (ss);
          }
      }
  taps_clear (&t);
}

static RmImage *
image_copy (const RmImage *src)
{
  RmImage *out = rm_image_new (src->width, src->height, src->channels);
  memcpy (out->pixels, src->pixels,
          (size_t) src->width * (size_t) src->height * (size_t) src->channels);
  return out;
}

RmImage *
rm_image_resize_bilinear_pil (const RmImage *src, int width, int height)
{
  /* ImagingResampleInner: a pass only for a side whose size changes; horizontal first. */
  g_autoptr (RmImage) tmp = NULL;
  const RmImage *cur = src;
  if (width != src->width)
    {
      tmp = rm_image_new (width, src->height, src->channels);
      resample_pass (src, tmp, TRUE);
      cur = tmp;
    }
  if (height != src->height)
    {
      RmImage *out = rm_image_new (width, height, src->channels);
      resample_pass (cur, out, FALSE);
      return out;
    }
  return tmp ? g_steal_pointer (&tmp) : image_copy (src);
}

/* ---- PIL NEAREST ---------------------------------------------------------------------- */

/* ImagingScaleAffine's source index table: the position starts at scale / 2 and is
 * accumulated (not multiplied), then truncated; out-of-range positions stay 0 (fill). */
static int *
nearest_table (int in_size, int out_size)
{
  int *tab = g_new (int, (size_t) out_size);
  double a = (double) (float) in_size / out_size; /* box sides are floats in Pillow */
  double pos = a * 0.5;
  for (int i = 0; i < out_size; i++)
    {
      int v = pos < 0.0 ? -1 : (int) pos;
      tab[i] = v < in_size ? v : -1;
      pos += a;
    }
  return tab;
}

RmImage *
rm_image_resize_nearest (const RmImage *src, int width, int height)
{
  if (width == src->width && height == src->height)
    return image_copy (src);
  RmImage *out = rm_image_new (width, height, src->channels);
  g_autofree int *xs = nearest_table (src->width, width);
  g_autofree int *ys = nearest_table (src->height, height);
  size_t nc = (size_t) src->channels;
  for (int y = 0; y < height; y++)
    {
      if (ys[y] < 0)
        continue;
      const uint8_t *in = src->pixels + (size_t) ys[y] * (size_t) src->width * nc;
      uint8_t *o = out->pixels + (size_t) y * (size_t) width * nc;
      for (int x = 0; x < width; x++)
        if (xs[x] >= 0)
          memcpy (o + (size_t) x * nc, in + (size_t) xs[x] * nc, nc);
    }
  return out;
}

/* ---- normalisation -------------------------------------------------------------------- */

void
rm_image_to_normalized_nchw (const RmImage *img, float *out)
{
  static const float mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float std[3] = { 0.229f, 0.224f, 0.225f };
  RM_CHECK (img->channels == 3, "normalisation needs RGB, got %d channels", img->channels);

  /* Each step rounds to float exactly as torch does: (p / 255), then - mean, then / std. */
  float lut[3][256];
  for (int c = 0; c < 3; c++)
    for (int p = 0; p < 256; p++)
      {
        float x = (float) p / 255.0f;
        x = x - mean[c];
        lut[c][p] = x / std[c];
      }
  size_t plane = (size_t) img->width * (size_t) img->height;
  for (size_t i = 0; i < plane; i++)
    for (int c = 0; c < 3; c++)
      out[(size_t) c * plane + i] = lut[c][img->pixels[i * 3 + (size_t) c]];
}

/* ---- output --------------------------------------------------------------------------- */

static void
append_bytes (void *context, void *data, int size)
{
  g_byte_array_append (context, data, (guint) size);
}

gboolean
rm_image_save_png (const RmImage *img, const char *path, GError **error)
{
  g_autoptr (GByteArray) png = g_byte_array_new ();
  if (!stbi_write_png_to_func (append_bytes, png, img->width, img->height, img->channels,
                               img->pixels, img->width * img->channels))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s: cannot encode PNG", path);
      return FALSE;
    }
  g_autoptr (GError) io_error = NULL;
  if (!g_file_set_contents_full (path, (const char *) png->data, (gssize) png->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0666,
                                 &io_error))
    {
      g_set_error (error, RM_ERROR, RM_ERROR_IO, "%s", io_error->message);
      return FALSE;
    }
  return TRUE;
}

RmImage *
rm_image_new_heatmap (const float *map, int width, int height)
{
  /* Five stops sampled from matplotlib's "inferno", linearly interpolated. */
  static const uint8_t stops[5][3] = {
    { 0, 0, 4 }, { 87, 16, 110 }, { 188, 55, 84 }, { 249, 142, 9 }, { 252, 255, 164 },
  };
  RmImage *img = rm_image_new (width, height, 3);
  size_t count = (size_t) width * (size_t) height;
  for (size_t i = 0; i < count; i++)
    {
      float v = map[i];
      v = isnan (v) ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
      float pos = v * 4.0f;
      int s = MIN ((int) pos, 3);
      float f = pos - (float) s;
      for (int c = 0; c < 3; c++)
        img->pixels[i * 3 + (size_t) c] =
            (uint8_t) lrintf ((float) stops[s][c] + f * (float) (stops[s + 1][c] - stops[s][c]));
    }
  return img;
}

gboolean
rm_image_save_heatmap_png (const float *map, int width, int height, const char *path,
                           GError **error)
{
  g_autoptr (RmImage) img = rm_image_new_heatmap (map, width, height);
  return rm_image_save_png (img, path, error);
}

float *
rm_image_preprocess_nchw (const RmImage *img, int side)
{
  g_autoptr (RmImage) resized = rm_image_resize_bilinear_pil (img, side, side);
  float *out = g_new (float, 3 * (size_t) side * side);
  rm_image_to_normalized_nchw (resized, out);
  return out;
}
