/* SPDX-License-Identifier: GPL-3.0-or-later
 * Augmentation that keeps expressions true: spatial words swap with the flip, nothing else does.
 */
#include "rm-augment.h"

#include <glib.h>
#include <string.h>

static void
check_mirror (const char *in, bool horizontal, const char *want)
{
  g_autofree char *out = rm_expression_mirror (in, horizontal);
  g_assert_cmpstr (out, ==, want);
}

static void
test_expression_mirror (void)
{
  check_mirror ("the largest building on the right", true, "the largest building on the left");
  check_mirror ("the leftmost building", true, "the rightmost building");
  check_mirror ("Left of the road", true, "Right of the road");
  check_mirror ("the building in the top left corner", true,
                "the building in the top right corner");
  check_mirror ("the building in the top left corner", false,
                "the building in the bottom left corner");
  check_mirror ("the upper-most lake, north of the bridge", false,
                "the lower-most lake, south of the bridge");
  /* Whole words only; other words untouched; non-ASCII kept. */
  check_mirror ("cleft leftover bright waters — café", true, "cleft leftover bright waters — café");
  check_mirror ("all buildings", true, "all buildings");
  g_assert_true (rm_expression_has_spatial_words ("the building on the left", true));
  g_assert_false (rm_expression_has_spatial_words ("the building on the left", false));
  g_assert_false (rm_expression_has_spatial_words ("all water", true));
}

static void
test_image_mirror_roundtrip (void)
{
  g_autoptr (RmImage) img = rm_image_new (5, 3, 3);
  for (int i = 0; i < 5 * 3 * 3; i++)
    img->pixels[i] = (uint8_t) (i * 7);
  g_autofree uint8_t *orig = g_memdup2 (img->pixels, 45);
  rm_image_mirror (img, true);
  g_assert_cmpint (img->pixels[0], ==, orig[4 * 3]); /* first pixel = old last of the row */
  rm_image_mirror (img, true);
  g_assert_cmpmem (img->pixels, 45, orig, 45);
  rm_image_mirror (img, false);
  g_assert_cmpint (img->pixels[0], ==, orig[2 * 15]);
  rm_image_mirror (img, false);
  g_assert_cmpmem (img->pixels, 45, orig, 45);
}

static void
test_black_squares (void)
{
  g_autoptr (RmImage) img = rm_image_new (200, 150, 3);
  memset (img->pixels, 200, 200 * 150 * 3);
  RmRng rng = { 42 };
  rm_augment_black_squares (img, &rng, 20, 60, 32);
  size_t black = 0;
  for (size_t i = 0; i < 200 * 150; i++)
    black += img->pixels[3 * i] == 0;
  g_assert_cmpuint (black, >=, 32 * 32);  /* at least one whole square */
  g_assert_cmpuint (black, <, 200 * 150); /* never the whole image */
  RmRng again = { 42 };
  g_autoptr (RmImage) img2 = rm_image_new (200, 150, 3);
  memset (img2->pixels, 200, 200 * 150 * 3);
  rm_augment_black_squares (img2, &again, 20, 60, 32);
  g_assert_cmpmem (img->pixels, 200 * 150 * 3, img2->pixels, 200 * 150 * 3); /* reproducible */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/augment/expression-mirror", test_expression_mirror);
  g_test_add_func ("/augment/image-mirror-roundtrip", test_image_mirror_roundtrip);
  g_test_add_func ("/augment/black-squares", test_black_squares);
  return g_test_run ();
}
