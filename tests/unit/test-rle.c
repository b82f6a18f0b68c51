/* SPDX-License-Identifier: GPL-3.0-or-later
 * COCO RLE against pycocotools: every vector in ../shared/coco must match byte for byte. */
#include <string.h>

#include "rm-rle.h"
#include "test-util.h"

static guint32 *
json_counts (JsonArray *arr, gsize *m)
{
  guint32 *c = g_new (guint32, json_array_get_length (arr) + 1);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    c[i] = (guint32) json_array_get_int_element (arr, i);
  *m = json_array_get_length (arr);
  return c;
}

static void
assert_bbox (const RmRle *rle, JsonArray *expected)
{
  double bb[4];
  rm_rle_to_bbox (rle, bb);
  for (guint k = 0; k < 4; k++)
    g_assert_cmpfloat (bb[k], ==, json_array_get_double_element (expected, k));
}

/* Masks in vectors.json: rows packed MSB first, 8 pixels a byte. */
static guint8 *
unpack_rows (JsonArray *rows, guint32 h, guint32 w)
{
  guint8 *mask = g_new0 (guint8, (gsize) h * w + 1);
  for (guint32 y = 0; y < h; y++)
    {
      const char *hex = json_array_get_string_element (rows, y);
      for (guint32 x = 0; x < w; x++)
        {
          char byte[3] = { hex[(x / 8) * 2], hex[(x / 8) * 2 + 1], 0 };
          guint v = (guint) g_ascii_strtoull (byte, NULL, 16);
          mask[(gsize) y * w + x] = (v >> (7 - x % 8)) & 1;
        }
    }
  return mask;
}

static void
test_vectors_masks (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("coco/vectors.json");
  g_autoptr (JsonNode) root = NULL;
  JsonArray *masks;
  guint n;

  if (path == NULL)
    return;
  root = rm_test_load_json (path);
  masks = json_object_get_array_member (json_node_get_object (root), "masks");
  n = json_array_get_length (masks);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *v = json_array_get_object_element (masks, i);
      JsonObject *rle_js = json_object_get_object_member (v, "rle");
      guint32 h = (guint32) json_object_get_int_member (v, "height");
      guint32 w = (guint32) json_object_get_int_member (v, "width");
      const char *counts = json_object_get_string_member (rle_js, "counts");
      g_autofree guint8 *mask =
          unpack_rows (json_object_get_array_member (v, "mask_rows_hex"), h, w);
      g_autofree guint8 *back = g_new (guint8, (gsize) h * w + 1);
      g_autofree guint32 *ucounts = NULL;
      g_autoptr (RmRle) enc = rm_rle_encode (mask, h, w, w);
      g_autoptr (RmRle) parsed = NULL, from_counts = NULL;
      g_autofree char *str = rm_rle_to_string (enc);
      g_autoptr (GError) error = NULL;
      gsize m;

      g_test_message ("mask %u: %u x %u", i, w, h);
      g_assert_cmpstr (str, ==, counts);
      ucounts = json_counts (json_object_get_array_member (v, "uncompressed_counts"), &m);
      g_assert_cmpuint (enc->m, ==, m);
      g_assert_cmpmem (enc->cnts, m * 4, ucounts, m * 4);
      g_assert_cmpuint (rm_rle_area (enc), ==, json_object_get_int_member (v, "area"));
      assert_bbox (enc, json_object_get_array_member (v, "bbox_xywh"));

      parsed = rm_rle_from_string (counts, h, w, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (parsed->cnts, parsed->m * 4, ucounts, m * 4);
      rm_rle_decode (parsed, back, w, 1);
      g_assert_cmpmem (back, (gsize) h * w, mask, (gsize) h * w);
      from_counts = rm_rle_from_counts (h, w, ucounts, m, &error);
      g_assert_no_error (error);
      g_assert_true (rm_rle_equal (from_counts, enc));
    }
}

static RmRle *
rle_from_rows (JsonArray *rows)
{
  guint32 h = json_array_get_length (rows);
  guint32 w = json_array_get_length (json_array_get_array_element (rows, 0));
  g_autofree guint8 *mask = g_new0 (guint8, (gsize) h * w);
  for (guint32 y = 0; y < h; y++)
    for (guint32 x = 0; x < w; x++)
      mask[y * w + x] =
          (guint8) json_array_get_int_element (json_array_get_array_element (rows, y), x);
  return rm_rle_encode (mask, h, w, w);
}

static void
check_edge_mask (JsonObject *c)
{
  JsonObject *rle_js = json_object_get_object_member (c, "rle");
  g_autoptr (RmRle) enc = rle_from_rows (json_object_get_array_member (c, "mask_rows"));
  g_autofree char *str = rm_rle_to_string (enc);

  g_assert_cmpstr (str, ==, json_object_get_string_member (rle_js, "counts"));
  g_assert_cmpuint (rm_rle_area (enc), ==, json_object_get_int_member (c, "area"));
  assert_bbox (enc, json_object_get_array_member (c, "bbox_xywh"));
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (rle_js, "size"), 0),
                   ==, enc->h);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (rle_js, "size"), 1),
                   ==, enc->w);
}

static void
test_edge_cases (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("coco/edge-cases.json");
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (RmRle) block = NULL, hole = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *block_str = NULL;
  JsonObject *o, *blk;
  gsize m;
  g_autofree guint32 *ucounts = NULL;

  if (path == NULL)
    return;
  root = rm_test_load_json (path);
  o = json_node_get_object (root);

  blk = json_object_get_object_member (o, "block_4x5");
  check_edge_mask (blk);
  check_edge_mask (json_object_get_object_member (o, "starts_with_one_3x3"));

  /* Column-major runs, and the row-major mistake really is different. */
  block = rle_from_rows (json_object_get_array_member (blk, "mask_rows"));
  ucounts = json_counts (json_object_get_array_member (blk, "uncompressed_counts_colmajor"), &m);
  g_assert_cmpmem (block->cnts, block->m * 4, ucounts, m * 4);
  block_str = rm_rle_to_string (block);
  g_assert_cmpstr (block_str, !=, json_object_get_string_member (o, "row_major_mistake_counts"));

  /* A hole: the area counts only the ring. */
  {
    JsonObject *h = json_object_get_object_member (o, "hole");
    JsonObject *r = json_object_get_object_member (h, "rle_with_hole");
    JsonArray *size = json_object_get_array_member (r, "size");
    hole = rm_rle_from_string (json_object_get_string_member (r, "counts"),
                               (guint32) json_array_get_int_element (size, 0),
                               (guint32) json_array_get_int_element (size, 1), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (rm_rle_area (hole), ==,
                      json_object_get_int_member (h, "true_area_with_hole"));
  }
  g_assert_cmpint (json_object_get_int_member (o, "gt_compressed_rle_annToMask_area"), ==, 16);
}

static void
test_string_roundtrip_random (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);

  for (int it = 0; it < 300; it++)
    {
      guint32 h = g_rand_int_range (rand, 1, 40), w = g_rand_int_range (rand, 1, 40);
      double density = g_rand_double (rand);
      g_autofree guint8 *mask = g_new (guint8, (gsize) h * w);
      g_autofree guint8 *back = g_new (guint8, (gsize) h * w);
      g_autoptr (RmRle) enc = NULL, dec = NULL;
      g_autofree char *s = NULL;
      g_autoptr (GError) error = NULL;

      rm_test_random_mask (rand, mask, (gsize) h * w, density);
      enc = rm_rle_encode (mask, h, w, w);
      s = rm_rle_to_string (enc);
      dec = rm_rle_from_string (s, h, w, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (dec->m, ==, enc->m);
      g_assert_cmpmem (dec->cnts, dec->m * 4, enc->cnts, enc->m * 4);
      rm_rle_decode (dec, back, w, 1);
      g_assert_cmpmem (back, (gsize) h * w, mask, (gsize) h * w);
    }
}

static void
test_large_counts (void)
{
  /* Big runs exercise multi-character numbers and negative deltas. */
  guint32 cnts[] = { 70000, 3, 1, 123456, 5, 1000000 - 70000 - 3 - 1 - 123456 - 5 };
  g_autoptr (RmRle) r = rm_rle_new (1000, 1000, cnts, G_N_ELEMENTS (cnts));
  g_autofree char *s = rm_rle_to_string (r);
  g_autoptr (GError) error = NULL;
  g_autoptr (RmRle) back = rm_rle_from_string (s, 1000, 1000, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (back->cnts, back->m * 4, cnts, sizeof cnts);
}

static void
test_invalid_strings (void)
{
  const char *bad[] = { "5220004", "522000", "52200\x7f", "5220 03", "o", "0ooooooooooo0" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RmRle) r = rm_rle_from_string (bad[i], 4, 5, &error);
      g_assert_null (r);
      g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) r = rm_rle_from_string ("0", 70000, 70000, &error);
    g_assert_null (r);
    g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_SIZE);
  }
  {
    guint32 c[] = { 3, 3 };
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) r = rm_rle_from_counts (2, 2, c, 2, &error);
    g_assert_null (r);
    g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID);
  }
}

static void
test_empty_and_full (void)
{
  guint8 zeros[12] = { 0 }, ones[12];
  double bb[4];
  g_autoptr (RmRle) z = rm_rle_encode (zeros, 3, 4, 4), o = NULL;
  g_autofree char *zs = rm_rle_to_string (z), *os = NULL;

  memset (ones, 1, sizeof ones);
  o = rm_rle_encode (ones, 3, 4, 4);
  os = rm_rle_to_string (o);
  g_assert_cmpstr (zs, ==, "<");
  g_assert_cmpstr (os, ==, "0<");
  rm_rle_to_bbox (z, bb);
  g_assert_cmpfloat (bb[2], ==, 0);
  rm_rle_to_bbox (o, bb);
  g_assert_cmpfloat (bb[0], ==, 0);
  g_assert_cmpfloat (bb[2], ==, 4);
  g_assert_cmpfloat (bb[3], ==, 3);
  g_assert_cmpuint (rm_rle_area (o), ==, 12);
}

static void
test_merge (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);

  for (int it = 0; it < 100; it++)
    {
      guint32 h = g_rand_int_range (rand, 1, 30), w = g_rand_int_range (rand, 1, 30);
      gsize n = (gsize) h * w;
      g_autofree guint8 *a = g_new (guint8, n), *b = g_new (guint8, n);
      g_autofree guint8 *u = g_new (guint8, n), *x = g_new (guint8, n), *out = g_new (guint8, n);
      g_autoptr (RmRle) ra = NULL, rb = NULL, ru = NULL, ri = NULL, eu = NULL;
      g_autoptr (GError) error = NULL;
      RmRle *pair[2];

      rm_test_random_mask (rand, a, n, 0.5);
      rm_test_random_mask (rand, b, n, 0.3);
      for (gsize i = 0; i < n; i++)
        {
          u[i] = a[i] | b[i];
          x[i] = a[i] & b[i];
        }
      ra = rm_rle_encode (a, h, w, w);
      rb = rm_rle_encode (b, h, w, w);
      pair[0] = ra;
      pair[1] = rb;
      ru = rm_rle_merge (pair, 2, FALSE, &error);
      g_assert_no_error (error);
      ri = rm_rle_merge (pair, 2, TRUE, &error);
      g_assert_no_error (error);
      /* pycocotools' merge yields canonical runs: the same as encoding the union. */
      eu = rm_rle_encode (u, h, w, w);
      g_assert_cmpuint (ru->m, ==, eu->m);
      g_assert_cmpmem (ru->cnts, ru->m * 4, eu->cnts, eu->m * 4);
      rm_rle_decode (ri, out, w, 1);
      g_assert_cmpmem (out, n, x, n);
    }
  {
    guint8 m1[4] = { 1, 0, 0, 0 };
    g_autoptr (RmRle) r1 = rm_rle_encode (m1, 2, 2, 2), r2 = rm_rle_encode (m1, 1, 4, 4);
    RmRle *pair[2] = { r1, r2 };
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) bad = rm_rle_merge (pair, 2, FALSE, &error);
    g_assert_null (bad);
    g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_SIZE);
  }
}

static void
test_equal_ignores_zero_runs (void)
{
  guint32 c1[] = { 2, 3, 4 }, c2[] = { 2, 1, 0, 2, 4 }, c3[] = { 2, 3, 0, 0, 4, 0 };
  g_autoptr (RmRle) a = rm_rle_new (3, 3, c1, 3), b = rm_rle_new (3, 3, c2, 5);
  g_autoptr (RmRle) c = rm_rle_new (3, 3, c3, 6);
  g_assert_true (rm_rle_equal (a, b));
  g_assert_true (rm_rle_equal (a, c));
}

static void
test_zero_runs_folded (void)
{
  /* "004" is [0, 0, 4]: pycocotools' toBbox would wrap around to a bbox of billions. */
  g_autoptr (GError) error = NULL;
  g_autoptr (RmRle) r = rm_rle_from_string ("004", 2, 2, &error);
  guint32 c[] = { 1, 0, 0, 2, 1 };
  g_autoptr (RmRle) r2 = NULL;
  double bb[4];

  g_assert_no_error (error);
  g_assert_cmpuint (r->m, ==, 1);
  g_assert_cmpuint (r->cnts[0], ==, 4);
  rm_rle_to_bbox (r, bb);
  g_assert_cmpfloat (bb[2], ==, 0);
  r2 = rm_rle_from_counts (2, 2, c, G_N_ELEMENTS (c), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (r2->m, ==, 3); /* folded to [1, 2, 1] */
  g_assert_cmpuint (r2->cnts[1], ==, 2);
}

/* What the studio relies on to show an annotation's area and box without decoding its mask:
 * rleArea and toBbox from the runs are the pixel count and the exact pixel extent of the
 * decoded mask, also when runs of ones cross column boundaries (random masks and rectangles). */
static void
test_area_bbox_without_decoding (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);

  for (int it = 0; it < 400; it++)
    {
      guint32 h = g_rand_int_range (rand, 1, 30), w = g_rand_int_range (rand, 1, 30);
      g_autofree guint8 *mask = g_new0 (guint8, (gsize) h * w);
      g_autoptr (RmRle) rle = NULL;
      guint32 x0 = w, y0 = h, x1 = 0, y1 = 0;
      guint64 area = 0;
      double bb[4];

      if (it % 2 == 0)
        rm_test_random_mask (rand, mask, (gsize) h * w, g_rand_double (rand) * 0.3);
      else
        for (int r = g_rand_int_range (rand, 0, 3); r > 0; r--)
          {
            guint32 rx = g_rand_int_range (rand, 0, w), ry = g_rand_int_range (rand, 0, h);
            guint32 rw = g_rand_int_range (rand, 1, w - rx + 1);
            guint32 rh = g_rand_int_range (rand, 1, h - ry + 1);

            for (guint32 y = ry; y < ry + rh; y++)
              memset (mask + (gsize) y * w + rx, 1, rw);
          }
      for (guint32 y = 0; y < h; y++)
        for (guint32 x = 0; x < w; x++)
          if (mask[(gsize) y * w + x])
            {
              area++;
              x0 = MIN (x0, x);
              x1 = MAX (x1, x);
              y0 = MIN (y0, y);
              y1 = MAX (y1, y);
            }

      rle = rm_rle_encode (mask, h, w, w);
      rm_rle_to_bbox (rle, bb);
      g_assert_cmpuint (rm_rle_area (rle), ==, area);
      if (area == 0)
        {
          for (guint k = 0; k < 4; k++)
            g_assert_cmpfloat (bb[k], ==, 0);
          continue;
        }
      g_assert_cmpfloat (bb[0], ==, x0);
      g_assert_cmpfloat (bb[1], ==, y0);
      g_assert_cmpfloat (bb[2], ==, x1 - x0 + 1);
      g_assert_cmpfloat (bb[3], ==, y1 - y0 + 1);
    }
}

/* A blob (a GBytes, a column) is parsed by its length: no NUL is needed after it, one inside it
 * is an error, and a cut one does not cover the mask. */
static void
test_from_string_len (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (29);
  guint8 mask[7 * 9];
  g_autoptr (RmRle) rle = NULL;
  g_autofree char *s = NULL;
  g_autofree char *padded = NULL;
  gsize len;

  rm_test_random_mask (rand, mask, sizeof mask, 0.4);
  rle = rm_rle_encode (mask, 7, 9, 9);
  s = rm_rle_to_string (rle);
  len = strlen (s);
  g_assert_cmpuint (len, >, 2);
  padded = g_strconcat (s, "0000", NULL); /* more runs after the blob's end */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) back = rm_rle_from_string_len (padded, len, 7, 9, &error);

    g_assert_no_error (error);
    g_assert_true (rm_rle_equal (back, rle));
  }
  {
    g_autoptr (GBytes) blob = g_bytes_new_static (padded, len);
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) back = rm_rle_from_bytes (blob, 7, 9, &error);

    g_assert_no_error (error);
    g_assert_true (rm_rle_equal (back, rle));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) back = rm_rle_from_string_len (s, len - 1, 7, 9, &error);

    g_assert_null (back);
    g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (RmRle) back = NULL;

    padded[1] = '\0';
    back = rm_rle_from_string_len (padded, len, 7, 9, &error);
    g_assert_null (back);
    g_assert_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rle/vectors/masks", test_vectors_masks);
  g_test_add_func ("/rle/vectors/edge-cases", test_edge_cases);
  g_test_add_func ("/rle/string-roundtrip", test_string_roundtrip_random);
  g_test_add_func ("/rle/large-counts", test_large_counts);
  g_test_add_func ("/rle/invalid", test_invalid_strings);
  g_test_add_func ("/rle/empty-and-full", test_empty_and_full);
  g_test_add_func ("/rle/merge", test_merge);
  g_test_add_func ("/rle/equal", test_equal_ignores_zero_runs);
  g_test_add_func ("/rle/zero-runs-folded", test_zero_runs_folded);
  g_test_add_func ("/rle/area-bbox-without-decoding", test_area_bbox_without_decoding);
  g_test_add_func ("/rle/from-string-len", test_from_string_len);
  return g_test_run ();
}
