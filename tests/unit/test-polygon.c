/* SPDX-License-Identifier: GPL-3.0-or-later
 * Polygon rasterisation against pycocotools, and contour extraction round trips. */
#include <math.h>
#include <string.h>

#include "rm-polygon.h"
#include "test-util.h"

static void
assert_rle_matches (const RmRle *rle, JsonObject *expected_rle, gint64 area, JsonArray *bbox)
{
  g_autofree char *s = rm_rle_to_string (rle);
  double bb[4];

  g_assert_cmpstr (s, ==, json_object_get_string_member (expected_rle, "counts"));
  g_assert_cmpuint (rm_rle_area (rle), ==, area);
  rm_rle_to_bbox (rle, bb);
  for (guint k = 0; k < 4; k++)
    g_assert_cmpfloat (bb[k], ==, json_array_get_double_element (bbox, k));
}

static void
test_vectors_polygons (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("coco/vectors.json");
  g_autoptr (JsonNode) root = NULL;
  JsonArray *polys;

  if (path == NULL)
    return;
  root = rm_test_load_json (path);
  polys = json_object_get_array_member (json_node_get_object (root), "polygons");
  g_assert_cmpuint (json_array_get_length (polys), >, 0);
  for (guint i = 0; i < json_array_get_length (polys); i++)
    {
      JsonObject *v = json_array_get_object_element (polys, i);
      JsonArray *parts = json_object_get_array_member (v, "polygon_parts");
      guint np = json_array_get_length (parts);
      g_autofree double **xy = g_new0 (double *, np);
      g_autofree gsize *n = g_new0 (gsize, np);
      g_autoptr (RmRle) rle = NULL;
      g_autoptr (GError) error = NULL;

      for (guint p = 0; p < np; p++)
        {
          JsonArray *a = json_array_get_array_element (parts, p);
          n[p] = json_array_get_length (a);
          xy[p] = g_new (double, n[p]);
          for (guint k = 0; k < n[p]; k++)
            xy[p][k] = json_array_get_double_element (a, k);
        }
      rle = rm_polygons_to_rle ((const double *const *) xy, n, np,
                                (guint32) json_object_get_int_member (v, "height"),
                                (guint32) json_object_get_int_member (v, "width"), &error);
      g_assert_no_error (error);
      g_test_message ("polygon %u: %u part(s)", i, np);
      assert_rle_matches (rle, json_object_get_object_member (v, "rle"),
                          json_object_get_int_member (v, "area"),
                          json_object_get_array_member (v, "bbox_xywh"));
      for (guint p = 0; p < np; p++)
        g_free (xy[p]);
    }
}

static void
test_edge_case_polygons (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("coco/edge-cases.json");
  g_autoptr (JsonNode) root = NULL;
  JsonObject *o, *sq, *bbv;
  double xy[8];
  g_autoptr (RmRle) rle = NULL, brle = NULL, four = NULL;
  g_autoptr (GError) error = NULL;
  double bb[4];
  JsonArray *poly;

  if (path == NULL)
    return;
  root = rm_test_load_json (path);
  o = json_node_get_object (root);

  sq = json_object_get_object_member (o, "square_poly");
  poly = json_object_get_array_member (sq, "poly");
  for (guint k = 0; k < 8; k++)
    xy[k] = json_array_get_double_element (poly, k);
  rle = rm_polygon_to_rle (xy, 8, 10, 10, &error);
  g_assert_no_error (error);
  assert_rle_matches (rle, json_object_get_object_member (sq, "rle"),
                      json_object_get_int_member (sq, "area"),
                      json_object_get_array_member (sq, "bbox_xywh"));

  bbv = json_object_get_object_member (o, "bbox_via_ndarray");
  for (guint k = 0; k < 4; k++)
    bb[k] = json_array_get_double_element (json_object_get_array_member (bbv, "input_xywh"), k);
  brle = rm_bbox_to_rle (bb, 10, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_rle_area (brle), ==, json_object_get_int_member (bbv, "area"));

  /* pycocotools refuses a 4-number "polygon" (it means a bbox there); so do we. */
  g_assert_true (
      g_str_has_prefix (json_object_get_string_member (o, "four_coords_is_bbox"), "error"));
  four = rm_polygon_to_rle (xy, 4, 10, 10, &error);
  g_assert_null (four);
  g_assert_error (error, RM_POLYGON_ERROR, RM_POLYGON_ERROR_INVALID);
}

static void
test_invalid_polygons (void)
{
  double nan_poly[6] = { 0, 0, NAN, 1, 1, 1 };
  double huge[6] = { 0, 0, 1e9, 0, 0, 1 };
  double odd[7] = { 0, 0, 1, 0, 1, 1, 2 };
  double tri[6] = { 0, 0, 4, 0, 0, 4 };
  const struct
  {
    const double *xy;
    gsize n;
    guint32 h, w;
  } cases[] = { { nan_poly, 6, 4, 4 }, { huge, 6, 4, 4 }, { odd, 7, 4, 4 }, { tri, 6, 0, 4 } };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RmRle) r =
          rm_polygon_to_rle (cases[i].xy, cases[i].n, cases[i].h, cases[i].w, &error);
      g_assert_null (r);
      g_assert_nonnull (error);
    }
}

/* XOR of every contour's rasterisation: nesting alternates outer/hole, so this is the mask. */
static guint8 *
rasterise_contours (const RmContours *cs, guint32 h, guint32 w)
{
  guint8 *acc = g_new0 (guint8, (gsize) h * w);
  g_autofree guint8 *tmp = g_new (guint8, (gsize) h * w);

  for (gsize i = 0; i < cs->n; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (RmRle) r =
          rm_polygon_to_rle (cs->contours[i].xy, cs->contours[i].n * 2, h, w, &error);
      g_assert_no_error (error);
      rm_rle_decode (r, tmp, w, 1);
      for (gsize k = 0; k < (gsize) h * w; k++)
        acc[k] ^= tmp[k];
    }
  return acc;
}

static void
test_extract_roundtrip_random (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);

  for (int it = 0; it < 200; it++)
    {
      guint32 h = g_rand_int_range (rand, 1, 24), w = g_rand_int_range (rand, 1, 24);
      g_autofree guint8 *mask = g_new (guint8, (gsize) h * w);
      g_autofree guint8 *back = NULL;
      g_autoptr (RmContours) cs = NULL;

      rm_test_random_mask (rand, mask, (gsize) h * w, g_rand_double_range (rand, 0.1, 0.9));
      cs = rm_polygon_extract (mask, h, w, w, 0);
      back = rasterise_contours (cs, h, w);
      g_assert_cmpmem (back, (gsize) h * w, mask, (gsize) h * w);
      for (gsize i = 0; i < cs->n; i++)
        {
          const RmContour *c = &cs->contours[i];
          g_assert_cmpuint (c->n, >=, 4);
          if (c->hole)
            {
              g_assert_cmpint (c->parent, >=, 0);
              g_assert_false (cs->contours[c->parent].hole);
            }
          else
            g_assert_cmpint (c->parent, ==, -1);
        }
    }
}

static void
test_extract_hole (void)
{
  /* A 10 x 10 canvas: an 8 x 8 square with a 4 x 4 hole, plus a pixel inside the hole. */
  guint8 mask[100] = { 0 };
  g_autoptr (RmContours) cs = NULL;
  g_autoptr (RmRle) rle = NULL;
  gsize outers = 0;

  for (int y = 1; y < 9; y++)
    for (int x = 1; x < 9; x++)
      mask[y * 10 + x] = !(x >= 3 && x < 7 && y >= 3 && y < 7);
  mask[4 * 10 + 4] = 1;
  cs = rm_polygon_extract (mask, 10, 10, 10, 0);
  g_assert_cmpuint (cs->n, ==, 3);
  g_assert_cmpuint (cs->n_holes, ==, 1);
  for (gsize i = 0; i < cs->n; i++)
    outers += !cs->contours[i].hole;
  g_assert_cmpuint (outers, ==, 2);
  /* The outer square is 4 corners, clockwise on screen. */
  g_assert_cmpuint (cs->contours[0].n, ==, 4);
  g_assert_cmpfloat (cs->contours[0].xy[0], ==, 1);
  g_assert_cmpfloat (cs->contours[0].xy[1], ==, 1);
  g_assert_cmpfloat (cs->contours[0].xy[2], ==, 9);
  g_assert_cmpfloat (cs->contours[0].xy[3], ==, 1);

  rle = rm_rle_encode (mask, 10, 10, 10);
  {
    g_autoptr (RmContours) cs2 = rm_polygon_extract_rle (rle, 0);
    g_assert_cmpuint (cs2->n_holes, ==, 1);
  }
}

static void
test_extract_diagonal_is_one_component (void)
{
  guint8 mask[16] = { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 };
  g_autoptr (RmContours) cs = rm_polygon_extract (mask, 4, 4, 4, 0);
  g_autofree guint8 *back = NULL;

  g_assert_cmpuint (cs->n, ==, 1); /* 8-connected */
  g_assert_cmpuint (cs->n_holes, ==, 0);
  back = rasterise_contours (cs, 4, 4);
  g_assert_cmpmem (back, 16, mask, 16);
}

static void
test_extract_simplify (void)
{
  /* A filled disc: Douglas-Peucker must cut the staircase yet keep the shape. */
  guint32 n = 64;
  g_autofree guint8 *mask = g_new0 (guint8, n * n);
  g_autofree guint8 *back = NULL;
  g_autoptr (RmContours) exact = NULL, simple = NULL;
  guint64 inter = 0, uni = 0;

  for (guint32 y = 0; y < n; y++)
    for (guint32 x = 0; x < n; x++)
      mask[y * n + x] = hypot (x + 0.5 - 32, y + 0.5 - 32) < 25;
  exact = rm_polygon_extract (mask, n, n, n, 0);
  simple = rm_polygon_extract (mask, n, n, n, 1.0);
  g_assert_cmpuint (exact->n, ==, 1);
  g_assert_cmpuint (simple->n, ==, 1);
  g_assert_cmpuint (simple->contours[0].n, <, exact->contours[0].n / 2);
  g_assert_cmpuint (simple->contours[0].n, >=, 8);
  back = rasterise_contours (simple, n, n);
  for (guint32 i = 0; i < n * n; i++)
    {
      inter += back[i] && mask[i];
      uni += back[i] || mask[i];
    }
  g_assert_cmpfloat ((double) inter / uni, >, 0.95);
}

static void
test_extract_empty_and_tiny (void)
{
  guint8 zeros[6] = { 0 }, one[1] = { 1 };
  g_autoptr (RmContours) e = rm_polygon_extract (zeros, 2, 3, 3, 0);
  g_autoptr (RmContours) t = rm_polygon_extract (one, 1, 1, 1, 5.0);

  g_assert_cmpuint (e->n, ==, 0);
  g_assert_cmpuint (t->n, ==, 1);
  g_assert_cmpuint (t->contours[0].n, ==, 4); /* never simplified below a polygon */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/polygon/vectors/polygons", test_vectors_polygons);
  g_test_add_func ("/polygon/vectors/edge-cases", test_edge_case_polygons);
  g_test_add_func ("/polygon/invalid", test_invalid_polygons);
  g_test_add_func ("/polygon/extract/roundtrip", test_extract_roundtrip_random);
  g_test_add_func ("/polygon/extract/hole", test_extract_hole);
  g_test_add_func ("/polygon/extract/diagonal", test_extract_diagonal_is_one_component);
  g_test_add_func ("/polygon/extract/simplify", test_extract_simplify);
  g_test_add_func ("/polygon/extract/empty-and-tiny", test_extract_empty_and_tiny);
  return g_test_run ();
}
