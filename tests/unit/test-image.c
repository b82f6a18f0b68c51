/* SPDX-License-Identifier: GPL-3.0-or-later
 * Image decoding, PIL-exact resizing and normalisation (against the golden tensors of the
 * official preprocessing), limits and PNG output.
 */
#include "rm-error.h"
#include "rm-image.h"
#include "rm-safetensors.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

/* A seed image of the fuzz corpus (tests/fuzz/corpus-image/), or NULL + skip. */
static GBytes *
seed_image (const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fuzz", "corpus-image", name, NULL);
  g_autoptr (GMappedFile) f = g_mapped_file_new (path, FALSE, NULL);
  if (!f)
    {
      g_autofree char *msg = g_strdup_printf ("%s not found (G_TEST_SRCDIR = tests/)", path);
      g_test_skip (msg);
      return NULL;
    }
  return g_mapped_file_get_bytes (f);
}

static RmImage *
decode_seed (const char *name)
{
  g_autoptr (GBytes) bytes = seed_image (name);
  if (!bytes)
    return NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);
  RmImage *img = rm_image_decode_memory (data, len, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (img->channels, ==, 3);
  return img;
}

static void
assert_pixels (const RmImage *img, int w, int h, const uint8_t *rgb)
{
  g_assert_cmpint (img->width, ==, w);
  g_assert_cmpint (img->height, ==, h);
  g_assert_cmpmem (img->pixels, (size_t) w * h * 3, rgb, (size_t) w * h * 3);
}

static void
test_decode_formats (void)
{
  g_autoptr (RmImage) grey16 = decode_seed ("grey16.png");
  if (!grey16)
    return;
  /* 16-bit grey is PIL mode "I": "RGB" clips to 255 (values 0 100 255 / 256 1000 65535). */
  static const uint8_t grey16_px[] = { 0,   0,   0,   100, 100, 100, 255, 255, 255,
                                       255, 255, 255, 255, 255, 255, 255, 255, 255 };
  assert_pixels (grey16, 3, 2, grey16_px);

  /* 16-bit colour and grey+alpha: high bytes; alpha dropped. */
  g_autoptr (RmImage) rgb16 = decode_seed ("rgb16.png");
  static const uint8_t rgb16_px[] = { 0x12, 0xab, 0xff, 0x00, 0x01, 0x80 };
  assert_pixels (rgb16, 2, 1, rgb16_px);
  g_autoptr (RmImage) ga16 = decode_seed ("ga16.png");
  static const uint8_t ga16_px[] = { 0x12, 0x12, 0x12, 0xff, 0xff, 0xff };
  assert_pixels (ga16, 2, 1, ga16_px);

  g_autoptr (RmImage) rgba8 = decode_seed ("rgba8.png");
  static const uint8_t rgba8_px[] = { 10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3 };
  assert_pixels (rgba8, 2, 2, rgba8_px);

  g_autoptr (RmImage) grey8 = decode_seed ("grey8.png");
  static const uint8_t grey8_px[] = { 0, 0, 0, 128, 128, 128, 255, 255, 255 };
  assert_pixels (grey8, 3, 1, grey8_px);

  /* 2-bit palette (indices 0 1 / 3 0) with a tRNS entry that must not matter. */
  g_autoptr (RmImage) pal = decode_seed ("pal2.png");
  static const uint8_t pal_px[] = { 255, 0, 0, 0, 255, 0, 9, 8, 7, 255, 0, 0 };
  assert_pixels (pal, 2, 2, pal_px);

  /* Adam7 interlaced 5x5 RGB: pixel (x, y) = (10x, 10y, x + y). */
  g_autoptr (RmImage) adam7 = decode_seed ("adam7.png");
  g_assert_cmpint (adam7->width, ==, 5);
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 5; x++)
      {
        const uint8_t *p = adam7->pixels + (y * 5 + x) * 3;
        g_assert_cmpint (p[0], ==, 10 * x);
        g_assert_cmpint (p[1], ==, 10 * y);
        g_assert_cmpint (p[2], ==, x + y);
      }

  /* BMP 3x2, pixel (x, y) = (50x, 100y, 7); TGA 2x2, (100x, 100y, 42). */
  g_autoptr (RmImage) bmp = decode_seed ("rgb.bmp");
  static const uint8_t bmp_px[] = {
    0, 0, 7, 50, 0, 7, 100, 0, 7, 0, 100, 7, 50, 100, 7, 100, 100, 7
  };
  assert_pixels (bmp, 3, 2, bmp_px);
  g_autoptr (RmImage) tga = decode_seed ("rgb.tga");
  static const uint8_t tga_px[] = { 0, 0, 42, 100, 0, 42, 0, 100, 42, 100, 100, 42 };
  assert_pixels (tga, 2, 2, tga_px);

  /* JPEG (lossy): left half ~(200, 100, 20), right half ~(30, 100, 220). */
  g_autoptr (RmImage) jpg = decode_seed ("rgb.jpg");
  g_assert_cmpint (jpg->width, ==, 16);
  g_assert_cmpint (jpg->height, ==, 8);
  const uint8_t *l = jpg->pixels + (4 * 16 + 2) * 3, *r = jpg->pixels + (4 * 16 + 13) * 3;
  g_assert_cmpint (abs (l[0] - 200) + abs (l[1] - 100) + abs (l[2] - 20), <, 24);
  g_assert_cmpint (abs (r[0] - 30) + abs (r[1] - 100) + abs (r[2] - 220), <, 24);
  g_autoptr (RmImage) grey = decode_seed ("grey.jpg");
  g_assert_cmpint (abs (grey->pixels[0] - 128), <, 4);
}

/* JPEG pixels are Pillow's, byte for byte: tests/fixtures/jpeg holds JPEGs in every layout
 * (4:2:0, 4:2:2, 4:4:4, progressive, grey, Adobe CMYK; 37 x 23) with the RGB bytes Pillow 9.4
 * decoded from them (tools/make-jpeg-fixtures.py). */
static void
test_decode_jpeg_like_pillow (void)
{
  static const char *const names[] = {
    "rgb420", "rgb422", "rgb444", "progressive", "grey", "cmyk"
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *jpg_name = g_strconcat (names[i], ".jpg", NULL);
      g_autofree char *rgb_name = g_strconcat (names[i], ".rgb", NULL);
      g_autofree char *jpg_path =
          g_test_build_filename (G_TEST_DIST, "fixtures", "jpeg", jpg_name, NULL);
      g_autofree char *rgb_path =
          g_test_build_filename (G_TEST_DIST, "fixtures", "jpeg", rgb_name, NULL);
      g_autofree char *expected = NULL;
      gsize expected_len = 0;
      g_autoptr (GError) error = NULL;
      g_autoptr (RmImage) img = rm_image_load (jpg_path, NULL, &error);

      g_assert_no_error (error);
      g_assert_true (g_file_get_contents (rgb_path, &expected, &expected_len, NULL));
      g_assert_cmpint (img->width, ==, 37);
      g_assert_cmpint (img->height, ==, 23);
      g_assert_cmpint (img->channels, ==, 3);
      g_assert_cmpmem (img->pixels, (gsize) 37 * 23 * 3, expected, expected_len);
    }

  /* a file cut short is an error, as Pillow's "image file is truncated", not grey padding */
  {
    g_autofree char *path =
        g_test_build_filename (G_TEST_DIST, "fixtures", "jpeg", "rgb444.jpg", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr (GError) error = NULL;
    g_autoptr (RmImage) img = NULL;

    g_assert_true (g_file_get_contents (path, &data, &len, NULL));
    img = rm_image_decode_memory (data, len * 2 / 3, NULL, &error);
    g_assert_null (img);
    g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "truncated"));
  }
}

static void
expect_decode_error (const void *data, size_t len, const RmImageLimits *limits, RmError code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmImage) img = rm_image_decode_memory (data, len, limits, &error);
  g_assert_null (img);
  g_assert_error (error, RM_ERROR, (gint) code);
}

static void
test_decode_errors (void)
{
  g_autoptr (GBytes) bytes = seed_image ("grey16.png");
  if (!bytes)
    return;
  gsize len;
  const uint8_t *png = g_bytes_get_data (bytes, &len);
  g_autofree uint8_t *patched = g_memdup2 (png, len);

  expect_decode_error (png, 0, NULL, RM_ERROR_FORMAT);
  expect_decode_error ("garbage, not an image", 21, NULL, RM_ERROR_FORMAT);
  expect_decode_error (png, 40, NULL, RM_ERROR_FORMAT); /* header only, data cut */

  /* Configurable budget: 3x2 passes 3x2/6 but not a 2-wide, 5-pixel or 1-high budget. */
  RmImageLimits fits = { 3, 2, 6 }, narrow = { 2, 2, 6 }, few = { 3, 2, 5 }, low = { 3, 1, 6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmImage) ok = rm_image_decode_memory (png, len, &fits, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ok->width, ==, 3);
  expect_decode_error (png, len, &narrow, RM_ERROR_TOO_LARGE);
  expect_decode_error (png, len, &few, RM_ERROR_TOO_LARGE);
  expect_decode_error (png, len, &low, RM_ERROR_TOO_LARGE);

  /* IHDR width (big-endian at byte 16) patched: 20000 is refused before any decoding (the
   * data would not even fit), 0 is a zero-sized image. */
  patched[16] = 0, patched[17] = 0, patched[18] = 0x4e, patched[19] = 0x20;
  expect_decode_error (patched, len, NULL, RM_ERROR_TOO_LARGE);
  patched[18] = 0, patched[19] = 0;
  expect_decode_error (patched, len, NULL, RM_ERROR_FORMAT);

  /* A JPEG Huffman table with 16 x 255 codes (the stb 2.27 decoder overflowed its tables). */
  static const uint8_t bad_dht[] = { 0xff, 0xd8, 0xff, 0xc4, 0x00, 0x13, 0x00, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd9 };
  expect_decode_error (bad_dht, sizeof bad_dht, NULL, RM_ERROR_FORMAT);

  g_assert_null (rm_image_load ("/nonexistent/x.png", NULL, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_IO);
  g_clear_error (&error);

  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "bad.png", NULL);
  g_assert_true (g_file_set_contents (path, "nope", 4, NULL));
  g_assert_null (rm_image_load (path, NULL, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "bad.png"));
  rm_test_rmdir_recursive (dir);
}

static RmImage *
grey_row (int n, const uint8_t *v)
{
  RmImage *img = rm_image_new (n, 1, 1);
  memcpy (img->pixels, v, (size_t) n);
  return img;
}

static void
test_resize_bilinear (void)
{
  /* Values worked out by hand from Pillow's Resample.c (see rm-image.c):
   * 2 -> 4 (no antialias): centres 0.25 .. 1.75 give 0, 64 (63.75 + rounding of the 22-bit
   * taps), 191, 255.  4 -> 2 (antialias, support 2): taps 3/7 3/7 1/7 give 36 and 219. */
  static const uint8_t up_in[] = { 0, 255 }, up_out[] = { 0, 64, 191, 255 };
  static const uint8_t down_in[] = { 0, 0, 255, 255 }, down_out[] = { 36, 219 };
  g_autoptr (RmImage) a = grey_row (2, up_in);
  g_autoptr (RmImage) a4 = rm_image_resize_bilinear_pil (a, 4, 1);
  g_assert_cmpmem (a4->pixels, 4, up_out, 4);
  g_autoptr (RmImage) b = grey_row (4, down_in);
  g_autoptr (RmImage) b2 = rm_image_resize_bilinear_pil (b, 2, 1);
  g_assert_cmpmem (b2->pixels, 2, down_out, 2);

  /* The vertical pass is the same filter: the transposed image gives the same values. */
  g_autoptr (RmImage) col = rm_image_new (1, 4, 1);
  memcpy (col->pixels, down_in, 4);
  g_autoptr (RmImage) col2 = rm_image_resize_bilinear_pil (col, 1, 2);
  g_assert_cmpmem (col2->pixels, 2, down_out, 2);

  /* Same size: a copy. A constant image stays constant through both passes. */
  g_autoptr (RmImage) same = rm_image_resize_bilinear_pil (b, 4, 1);
  g_assert_cmpmem (same->pixels, 4, down_in, 4);
  g_autoptr (RmImage) flat = rm_image_new (37, 23, 3);
  memset (flat->pixels, 173, 37 * 23 * 3);
  g_autoptr (RmImage) f1 = rm_image_resize_bilinear_pil (flat, 11, 50);
  for (int i = 0; i < 11 * 50 * 3; i++)
    g_assert_cmpint (f1->pixels[i], ==, 173);
}

static void
test_resize_nearest (void)
{
  static const uint8_t in[] = { 10, 20, 30, 40 };
  g_autoptr (RmImage) a = grey_row (4, in);
  g_autoptr (RmImage) down = rm_image_resize_nearest (a, 2, 1);
  static const uint8_t down_out[] = { 20, 40 };
  g_assert_cmpmem (down->pixels, 2, down_out, 2);
  g_autoptr (RmImage) up = rm_image_resize_nearest (a, 8, 1);
  static const uint8_t up_out[] = { 10, 10, 20, 20, 30, 30, 40, 40 };
  g_assert_cmpmem (up->pixels, 8, up_out, 8);
  g_autoptr (RmImage) three = rm_image_resize_nearest (a, 3, 1); /* 4/3: 0.67 2.0 3.33 */
  static const uint8_t three_out[] = { 10, 30, 40 };
  g_assert_cmpmem (three->pixels, 3, three_out, 3);
}

/* max |a - b| and the number of values that differ in bits. */
static size_t
count_diff (const float *a, const float *b, size_t n, double *max_abs)
{
  size_t diff = 0;
  *max_abs = 0;
  for (size_t i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], sizeof (float)) != 0)
      {
        diff++;
        *max_abs = MAX (*max_abs, fabs ((double) a[i] - (double) b[i]));
      }
  return diff;
}

static void
check_branch (const RmImage *raw, const RmSafetensors *st, const char *name, int side)
{
  g_autoptr (GError) error = NULL;
  const RmStTensor *t = rm_safetensors_get (st, name, &error);
  g_assert_no_error (error);
  g_assert_cmpint (t->dtype, ==, RM_ST_F32);
  g_assert_cmpuint (t->nbytes, ==, (size_t) 3 * side * side * sizeof (float));

  g_autoptr (RmImage) img = rm_image_resize_bilinear_pil (raw, side, side);
  g_autofree float *x = g_new (float, (size_t) 3 * side * side);
  rm_image_to_normalized_nchw (img, x);
  double max_abs;
  size_t diff = count_diff (x, t->data, (size_t) 3 * side * side, &max_abs);
  if (diff)
    g_error ("%s: %zu of %d values differ, max |d| %g", name, diff, 3 * side * side, max_abs);
}

static void
test_golden_preprocess (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("golden/inputs.safetensors");
  if (!path)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, &error);
  g_assert_no_error (error);

  /* (H, W, 3) uint8 = the PIL image given to torchvision's Resize. */
  const RmStTensor *raw = rm_safetensors_get (st, "input.image_raw", &error);
  g_assert_no_error (error);
  g_assert_cmpint (raw->ndim, ==, 3);
  RmImage view = { (int) raw->shape[1], (int) raw->shape[0], 3, (uint8_t *) raw->data };
  check_branch (&view, st, "input.sam_image", 256);
  check_branch (&view, st, "input.beit_image", 224);

  /* Targets: (B, H, W) 'P' masks resized NEAREST to (B, 256, 256). */
  const RmStTensor *masks = rm_safetensors_get (st, "input.target_raw", &error);
  const RmStTensor *target = rm_safetensors_get (st, "input.target", &error);
  g_assert_no_error (error);
  int h = (int) masks->shape[1], w = (int) masks->shape[2];
  for (int b = 0; b < masks->shape[0]; b++)
    {
      RmImage m = { w, h, 1, (uint8_t *) masks->data + (size_t) b * w * h };
      g_autoptr (RmImage) r = rm_image_resize_nearest (&m, 256, 256);
      g_assert_cmpmem (r->pixels, 256 * 256, (const uint8_t *) target->data + b * 256 * 256,
                       256 * 256);
    }
}

static void
test_png_output (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *grey_path = g_build_filename (dir, "mask.png", NULL);
  g_autofree char *heat_path = g_build_filename (dir, "heat.png", NULL);

  g_autoptr (RmImage) mask = rm_image_new (5, 3, 1);
  for (int i = 0; i < 15; i++)
    mask->pixels[i] = (uint8_t) (i * 17);
  g_assert_true (rm_image_save_png (mask, grey_path, &error));
  g_assert_no_error (error);
  g_autoptr (RmImage) back = rm_image_load (grey_path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->width, ==, 5);
  g_assert_cmpint (back->height, ==, 3);
  for (int i = 0; i < 15; i++)
    for (int c = 0; c < 3; c++)
      g_assert_cmpint (back->pixels[i * 3 + c], ==, i * 17);

  const float map[6] = { 0.0f, 0.5f, 1.0f, NAN, -3.0f, 7.0f };
  g_autoptr (RmImage) heat = rm_image_new_heatmap (map, 3, 2);
  g_assert_cmpmem (heat->pixels, 3, heat->pixels + 9, 3);      /* NaN -> 0 */
  g_assert_cmpmem (heat->pixels, 3, heat->pixels + 12, 3);     /* clamped below */
  g_assert_cmpmem (heat->pixels + 6, 3, heat->pixels + 15, 3); /* clamped above */
  g_assert_cmpint (heat->pixels[0] + heat->pixels[1] + heat->pixels[2], <, 10);
  g_assert_cmpint (heat->pixels[6] + heat->pixels[7] + heat->pixels[8], >, 600);
  g_assert_true (rm_image_save_heatmap_png (map, 3, 2, heat_path, &error));
  g_autoptr (RmImage) heat_back = rm_image_load (heat_path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (heat_back->pixels, 18, heat->pixels, 18);

  g_autofree char *nodir = g_build_filename (dir, "no", "x.png", NULL);
  g_assert_false (rm_image_save_png (mask, nodir, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_IO);

  /* Only the two outputs, no temporary files. */
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  int files = 0;
  while (g_dir_read_name (d))
    files++;
  g_assert_cmpint (files, ==, 2);
  rm_test_rmdir_recursive (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/image/decode-formats", test_decode_formats);
  g_test_add_func ("/image/decode-jpeg-like-pillow", test_decode_jpeg_like_pillow);
  g_test_add_func ("/image/decode-errors", test_decode_errors);
  g_test_add_func ("/image/resize-bilinear", test_resize_bilinear);
  g_test_add_func ("/image/resize-nearest", test_resize_nearest);
  g_test_add_func ("/image/golden-preprocess", test_golden_preprocess);
  g_test_add_func ("/image/png-output", test_png_output);
  return g_test_run ();
}
