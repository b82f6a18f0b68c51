/* SPDX-License-Identifier: GPL-3.0-or-later
 * TIFF input (RefSegRS and GeoTIFF tiles): decoded exactly, refused cleanly when broken or huge.
 */
#include "rm-error.h"
#include "rm-image.h"

#include <glib.h>
#include <string.h>

static char *
seed_path (void)
{
  return g_test_build_filename (G_TEST_DIST, "fuzz", "corpus-image", "rgb.tif", NULL);
}

static void
test_tiff_decodes (void)
{
  g_autofree char *path = seed_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (RmImage) img = rm_image_load (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (img->width, ==, 3);
  g_assert_cmpint (img->height, ==, 2);
  static const uint8_t want[] = { 255, 0,  0,  0,  255, 0,  0,  0,  255,
                                  10,  20, 30, 40, 50,  60, 70, 80, 90 };
  g_assert_cmpmem (img->pixels, 18, want, 18);
}

static void
test_tiff_bad (void)
{
  g_autofree char *path = seed_path ();
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  /* Truncated in the middle of the directory, then of the pixels. */
  for (gsize cut = 4; cut < len; cut += 7)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RmImage) img = rm_image_decode_memory (data, cut, NULL, &error);
      if (img == NULL)
        g_assert_true (error != NULL && error->domain == RM_ERROR);
    }
  /* Over the pixel budget: refused from the header alone. */
  RmImageLimits tiny = { 2, 2, 4 };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmImage) img = rm_image_decode_memory (data, len, &tiny, &error);
  g_assert_null (img);
  g_assert_error (error, RM_ERROR, RM_ERROR_TOO_LARGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tiff/decodes", test_tiff_decodes);
  g_test_add_func ("/tiff/bad", test_tiff_bad);
  return g_test_run ();
}
