/* test-view.c: the canvas's view transform, image pyramid, thumbnails and folder scanning,
 * without a display
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <gdk/gdk.h>
#include <glib/gstdio.h>
#include <math.h>

#include "rm-image-item.h"
#include "rm-image-pyramid.h"
#include "rm-view.h"

#define EPS 1e-9

static void
make_view (RmView *view, double iw, double ih, double vw, double vh)
{
  rm_view_init (view);
  rm_view_set_view_size (view, vw, vh);
  rm_view_set_image_size (view, iw, ih);
}

static void
test_view_fit (void)
{
  RmView view;

  make_view (&view, 1000, 500, 400, 400);
  g_assert_cmpfloat_with_epsilon (view.scale, 0.4, EPS);
  g_assert_cmpfloat_with_epsilon (view.x, 0, EPS);
  g_assert_cmpfloat_with_epsilon (view.y, 100, EPS); /* 200 px of image, centred */
  g_assert_cmpfloat_with_epsilon (rm_view_get_fit_scale (&view), 0.4, EPS);

  /* A small image fits by enlarging, and may go down to 1:1 but no further. */
  make_view (&view, 100, 50, 400, 400);
  g_assert_cmpfloat_with_epsilon (view.scale, 4, EPS);
  g_assert_cmpfloat_with_epsilon (rm_view_get_min_scale (&view), 1, EPS);
}

static void
test_view_zoom_keeps_anchor (void)
{
  RmView view;
  double ix0, iy0, ix1, iy1;

  make_view (&view, 1000, 500, 400, 400);
  rm_view_widget_to_image (&view, 100, 150, &ix0, &iy0);
  g_assert_cmpfloat_with_epsilon (ix0, 250, EPS);
  g_assert_cmpfloat_with_epsilon (iy0, 125, EPS);

  rm_view_zoom_at (&view, 2.0, 100, 150);
  g_assert_cmpfloat_with_epsilon (view.scale, 2.0, EPS);
  rm_view_widget_to_image (&view, 100, 150, &ix1, &iy1);
  g_assert_cmpfloat_with_epsilon (ix1, ix0, 1e-6);
  g_assert_cmpfloat_with_epsilon (iy1, iy0, 1e-6);

  /* and back: image -> widget is the inverse */
  rm_view_image_to_widget (&view, ix1, iy1, &ix0, &iy0);
  g_assert_cmpfloat_with_epsilon (ix0, 100, 1e-6);
  g_assert_cmpfloat_with_epsilon (iy0, 150, 1e-6);
}

static void
test_view_limits (void)
{
  RmView view;

  make_view (&view, 1000, 500, 400, 400);
  rm_view_zoom_at (&view, 1e6, 200, 200);
  g_assert_cmpfloat_with_epsilon (view.scale, RM_VIEW_MAX_ZOOM, EPS);
  rm_view_zoom_at (&view, 1e-6, 200, 200);
  g_assert_cmpfloat_with_epsilon (view.scale, 0.4, EPS);
  rm_view_zoom_at (&view, NAN, 200, 200);
  g_assert_cmpfloat_with_epsilon (view.scale, 0.4, EPS);

  /* HiDPI: 1:1 means one image pixel per device pixel. */
  rm_view_init (&view);
  view.pixel_scale = 0.5;
  rm_view_set_view_size (&view, 400, 400);
  rm_view_set_image_size (&view, 4000, 4000);
  rm_view_zoom_at (&view, 0.5, 200, 200);
  g_assert_cmpfloat_with_epsilon (rm_view_get_zoom (&view), 1.0, EPS);
  g_assert_cmpfloat_with_epsilon (rm_view_get_max_scale (&view), RM_VIEW_MAX_ZOOM * 0.5, EPS);
}

static void
test_view_pan_clamps (void)
{
  RmView view;

  make_view (&view, 1000, 500, 400, 400);
  rm_view_zoom_at (&view, 1.0, 200, 200); /* image 1000 x 500 in a 400 x 400 view */
  rm_view_pan (&view, 1e5, 1e5);
  g_assert_cmpfloat_with_epsilon (view.x, 0, EPS);
  g_assert_cmpfloat_with_epsilon (view.y, 0, EPS);
  rm_view_pan (&view, -1e5, -1e5);
  g_assert_cmpfloat_with_epsilon (view.x, 400 - 1000, EPS);
  g_assert_cmpfloat_with_epsilon (view.y, 400 - 500, EPS);
  rm_view_pan (&view, 30, 20);
  g_assert_cmpfloat_with_epsilon (view.x, 400 - 1000 + 30, EPS);
  g_assert_cmpfloat_with_epsilon (view.y, 400 - 500 + 20, EPS);

  /* an axis smaller than the view stays centred whatever the pan */
  make_view (&view, 1000, 500, 400, 400);
  rm_view_pan (&view, 50, 50);
  g_assert_cmpfloat_with_epsilon (view.x, 0, EPS);
  g_assert_cmpfloat_with_epsilon (view.y, 100, EPS);
}

static void
test_view_resize_keeps_centre (void)
{
  RmView view;
  double cx0, cy0, cx1, cy1;

  make_view (&view, 4000, 3000, 800, 600);
  rm_view_zoom_at (&view, 1.0, 100, 100);
  rm_view_widget_to_image (&view, 400, 300, &cx0, &cy0);
  rm_view_set_view_size (&view, 1000, 500);
  rm_view_widget_to_image (&view, 500, 250, &cx1, &cy1);
  g_assert_cmpfloat_with_epsilon (cx1, cx0, 1e-6);
  g_assert_cmpfloat_with_epsilon (cy1, cy0, 1e-6);
}

static void
test_view_visible_region (void)
{
  RmView view;
  double x0, y0, x1, y1;

  make_view (&view, 1000, 500, 400, 400);
  g_assert_true (rm_view_get_visible_region (&view, &x0, &y0, &x1, &y1));
  g_assert_cmpfloat_with_epsilon (x0, 0, EPS);
  g_assert_cmpfloat_with_epsilon (y0, 0, EPS);
  g_assert_cmpfloat_with_epsilon (x1, 1000, EPS);
  g_assert_cmpfloat_with_epsilon (y1, 500, EPS);

  rm_view_zoom_at (&view, 2.0, 0, 100); /* top-left corner of the image stays put */
  g_assert_true (rm_view_get_visible_region (&view, &x0, &y0, &x1, &y1));
  g_assert_cmpfloat_with_epsilon (x0, 0, 1e-6);
  g_assert_cmpfloat_with_epsilon (x1, 200, 1e-6);
  g_assert_cmpfloat_with_epsilon (y1 - y0, 200, 1e-6);

  rm_view_init (&view);
  g_assert_false (rm_view_get_visible_region (&view, &x0, &y0, &x1, &y1));
}

static void
test_view_interpolate (void)
{
  RmView from, to, mid;
  double ix, iy, wx, wy;

  make_view (&from, 1000, 500, 400, 400);
  to = from;
  rm_view_zoom_at (&to, 2.0, 100, 150);

  rm_view_interpolate (&from, &to, 0.0, &mid);
  g_assert_true (rm_view_equal (&mid, &from));
  rm_view_interpolate (&from, &to, 1.0, &mid);
  g_assert_true (rm_view_equal (&mid, &to));

  /* halfway: the scale is the geometric mean and the zoom anchor has not moved */
  rm_view_interpolate (&from, &to, 0.5, &mid);
  g_assert_cmpfloat_with_epsilon (mid.scale, sqrt (0.4 * 2.0), 1e-9);
  rm_view_widget_to_image (&from, 100, 150, &ix, &iy);
  rm_view_image_to_widget (&mid, ix, iy, &wx, &wy);
  g_assert_cmpfloat_with_epsilon (wx, 100, 1e-6);
  g_assert_cmpfloat_with_epsilon (wy, 150, 1e-6);

  /* a pure pan interpolates linearly */
  from = to;
  rm_view_pan (&to, 40, -20);
  rm_view_interpolate (&from, &to, 0.25, &mid);
  g_assert_cmpfloat_with_epsilon (mid.x, from.x + 10, 1e-6);
  g_assert_cmpfloat_with_epsilon (mid.y, from.y - 5, 1e-6);
}

/* ---- pyramid ----------------------------------------------------------------------------- */

/* A texture whose pixel (x, y) encodes its position, so tiles can be checked against it. */
static GdkTexture *
make_pattern_texture (int width, int height)
{
  g_autoptr (GBytes) bytes = NULL;
  guint8 *data = g_malloc ((gsize) width * height * 4);

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = data + ((gsize) y * width + x) * 4;

        p[0] = (guint8) x;
        p[1] = (guint8) y;
        p[2] = (guint8) (x / 256 + 16 * (y / 256));
        p[3] = 255;
      }
  bytes = g_bytes_new_take (data, (gsize) width * height * 4);

  return gdk_memory_texture_new (width, height, GDK_MEMORY_DEFAULT, bytes, (gsize) width * 4);
}

static void
test_downsample_box (void)
{
  /* 3 x 3 pixels, one channel used; factor 2 leaves 2 x 2 with partial edge blocks */
  const guint8 v[9] = { 10, 20, 30, 40, 50, 60, 70, 80, 90 };
  guint8 src[9 * 4];
  g_autofree guint8 *dst = NULL;
  int w, h;

  for (int i = 0; i < 9; i++)
    {
      src[i * 4 + 0] = v[i];
      src[i * 4 + 1] = 0;
      src[i * 4 + 2] = 255;
      src[i * 4 + 3] = 255;
    }
  dst = rm_image_downsample_box (src, 3, 3, 12, 2, &w, &h);
  g_assert_cmpint (w, ==, 2);
  g_assert_cmpint (h, ==, 2);
  g_assert_cmpint (dst[0], ==, 30);  /* (10 + 20 + 40 + 50) / 4 */
  g_assert_cmpint (dst[4], ==, 45);  /* (30 + 60) / 2 */
  g_assert_cmpint (dst[8], ==, 75);  /* (70 + 80) / 2 */
  g_assert_cmpint (dst[12], ==, 90); /* 90 */
  g_assert_cmpint (dst[2], ==, 255);
  g_assert_cmpint (dst[15], ==, 255);
}

static void
test_pyramid_levels_and_tiles (void)
{
  g_autoptr (GdkTexture) texture = make_pattern_texture (1500, 700);
  g_autoptr (RmImagePyramid) pyramid = rm_image_pyramid_new_for_texture (texture, 256);
  const RmImageTile *tile;
  g_autofree guint8 *pixels = NULL;
  int w, h, columns, rows;

  g_assert_nonnull (pyramid);
  g_assert_cmpint (rm_image_pyramid_get_width (pyramid), ==, 1500);
  g_assert_cmpint (rm_image_pyramid_get_height (pyramid), ==, 700);

  /* 1500 x 700 -> 750 x 350 -> 375 x 175 -> 188 x 88, the first to fit one tile */
  g_assert_cmpuint (rm_image_pyramid_get_n_levels (pyramid), ==, 4);
  rm_image_pyramid_get_level_size (pyramid, 3, &w, &h);
  g_assert_cmpint (w, ==, 188);
  g_assert_cmpint (h, ==, 88);

  rm_image_pyramid_get_tile_grid (pyramid, 0, &columns, &rows);
  g_assert_cmpint (columns, ==, 6);
  g_assert_cmpint (rows, ==, 3);
  rm_image_pyramid_get_tile_grid (pyramid, 3, &columns, &rows);
  g_assert_cmpint (columns, ==, 1);
  g_assert_cmpint (rows, ==, 1);

  /* The last tile of level 0 is the image's bottom-right corner, pixel for pixel. */
  tile = rm_image_pyramid_get_tile (pyramid, 0, 5, 2);
  g_assert_cmpint (tile->x, ==, 1280);
  g_assert_cmpint (tile->y, ==, 512);
  g_assert_cmpint (tile->width, ==, 220);
  g_assert_cmpint (tile->height, ==, 188);
  g_assert_cmpint (gdk_texture_get_width (tile->texture), ==, 220);
  pixels = g_malloc ((gsize) tile->width * tile->height * 4);
  gdk_texture_download (tile->texture, pixels, (gsize) tile->width * 4);
  for (int y = 0; y < tile->height; y += 37)
    for (int x = 0; x < tile->width; x += 23)
      {
        const guint8 *p = pixels + ((gsize) y * tile->width + x) * 4;

        g_assert_cmpint (p[0], ==, (guint8) (tile->x + x));
        g_assert_cmpint (p[1], ==, (guint8) (tile->y + y));
        g_assert_cmpint (p[2], ==, (tile->x + x) / 256 + 16 * ((tile->y + y) / 256));
      }
}

static void
test_pyramid_choose_level (void)
{
  g_autoptr (GdkTexture) texture = make_pattern_texture (1024, 1024);
  g_autoptr (RmImagePyramid) pyramid = rm_image_pyramid_new_for_texture (texture, 128);

  /* 1024 512 256 128 */
  g_assert_cmpuint (rm_image_pyramid_get_n_levels (pyramid), ==, 4);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 4.0), ==, 0);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 1.0), ==, 0);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0.6), ==, 0);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0.5), ==, 1);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0.26), ==, 1);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0.25), ==, 2);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0.01), ==, 3);
  g_assert_cmpuint (rm_image_pyramid_choose_level (pyramid, 0), ==, 0);
}

static void
test_thumbnail (void)
{
  g_autoptr (GdkTexture) texture = make_pattern_texture (1500, 700);
  g_autoptr (GdkTexture) thumbnail = rm_image_make_thumbnail (texture, 128);
  g_autoptr (GdkTexture) small = make_pattern_texture (100, 60);
  g_autoptr (GdkTexture) same = rm_image_make_thumbnail (small, 128);

  g_assert_cmpint (gdk_texture_get_width (thumbnail), ==, 125); /* factor 12 */
  g_assert_cmpint (gdk_texture_get_height (thumbnail), ==, 59);
  g_assert_true (same == small);
}

/* ---- files ------------------------------------------------------------------------------- */

typedef struct
{
  char *dir;
} Fixture;

static void
write_png (const char *dir, const char *name, int width, int height)
{
  g_autoptr (GdkTexture) texture = make_pattern_texture (width, height);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  g_assert_true (gdk_texture_save_to_png (texture, path));
}

static void
fixture_set_up (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  fixture->dir = g_dir_make_tmp ("refmask-test-view-XXXXXX", &error);
  g_assert_no_error (error);
  write_png (fixture->dir, "b10.png", 300, 200);
  write_png (fixture->dir, "b2.png", 40, 30);
  write_png (fixture->dir, "a.png", 20, 10);
  write_png (fixture->dir, ".hidden.png", 20, 10);
  text = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (text, "not an image", -1, NULL));
  g_free (g_steal_pointer (&text));
  text = g_build_filename (fixture->dir, "broken.png", NULL);
  g_assert_true (g_file_set_contents (text, "\x89PNG\r\n\x1a\n garbage", -1, NULL));
}

static void
fixture_tear_down (Fixture *fixture, gconstpointer data)
{
  const char *names[] = { "b10.png", "b2.png", "a.png", ".hidden.png", "notes.txt", "broken.png" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, names[i], NULL);

      g_unlink (path);
    }
  g_rmdir (fixture->dir);
  g_free (fixture->dir);
}

static void
store_result (GObject *object, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_for_result (GAsyncResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);

  return *slot;
}

static void
test_scan_folder (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GFile) folder = g_file_new_for_path (fixture->dir);
  g_autofree char *notes_path = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autoptr (GFile) notes = g_file_new_for_path (notes_path);
  GFile *inputs[] = { folder, notes };
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GError) error = NULL;
  const char *expected[] = { "a.png", "b2.png", "b10.png", "broken.png" };
  guint n_skipped = 0;

  rm_image_scan_async (inputs, G_N_ELEMENTS (inputs), NULL, store_result, &result);
  files = rm_image_scan_finish (wait_for_result (&result), &n_skipped, &error);
  g_assert_no_error (error);

  /* natural order, no hidden files; the text file inside the folder is ignored, the one named
   * on its own is reported as skipped */
  g_assert_cmpuint (files->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *name = g_file_get_basename (files->pdata[i]);

      g_assert_cmpstr (name, ==, expected[i]);
    }
  g_assert_cmpuint (n_skipped, ==, 1);
}

static void
test_pyramid_load_async (Fixture *fixture, gconstpointer data)
{
  g_autofree char *path = g_build_filename (fixture->dir, "b10.png", NULL);
  g_autofree char *broken_path = g_build_filename (fixture->dir, "broken.png", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFile) broken = g_file_new_for_path (broken_path);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GAsyncResult) broken_result = NULL;
  g_autoptr (RmImagePyramid) pyramid = NULL;
  g_autoptr (RmImagePyramid) nothing = NULL;
  g_autoptr (GError) error = NULL;

  rm_image_pyramid_new_from_file_async (file, NULL, store_result, &result);
  rm_image_pyramid_new_from_file_async (broken, NULL, store_result, &broken_result);
  pyramid = rm_image_pyramid_new_from_file_finish (wait_for_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpint (rm_image_pyramid_get_width (pyramid), ==, 300);
  g_assert_cmpint (rm_image_pyramid_get_height (pyramid), ==, 200);
  g_assert_cmpuint (rm_image_pyramid_get_n_levels (pyramid), ==, 1);

  nothing = rm_image_pyramid_new_from_file_finish (wait_for_result (&broken_result), &error);
  g_assert_null (nothing);
  g_assert_nonnull (error);
}

static void
test_item_thumbnails (Fixture *fixture, gconstpointer data)
{
  const char *names[] = { "b10.png", "b2.png", "a.png", "broken.png" };
  RmImageItem *items[G_N_ELEMENTS (names)];
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gboolean pending = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, names[i], NULL);
      g_autoptr (GFile) file = g_file_new_for_path (path);

      items[i] = rm_image_item_new (file);
      g_assert_cmpstr (rm_image_item_get_display_name (items[i]), ==, names[i]);
      rm_image_item_ensure_thumbnail (items[i]);
      g_assert_cmpint (rm_image_item_get_state (items[i]), ==, RM_IMAGE_ITEM_STATE_LOADING);
    }

  /* Items dropped while they wait in the queue are skipped, not decoded into the void. */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *path = g_build_filename (fixture->dir, "b10.png", NULL);
      g_autoptr (GFile) file = g_file_new_for_path (path);
      g_autoptr (RmImageItem) dropped = rm_image_item_new (file);

      rm_image_item_ensure_thumbnail (dropped);
    }

  while (pending && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, TRUE);
      pending = FALSE;
      for (guint i = 0; i < G_N_ELEMENTS (items); i++)
        pending |= rm_image_item_get_state (items[i]) == RM_IMAGE_ITEM_STATE_LOADING;
    }
  g_assert_false (pending);

  g_assert_cmpint (rm_image_item_get_state (items[0]), ==, RM_IMAGE_ITEM_STATE_READY);
  g_assert_cmpint (rm_image_item_get_width (items[0]), ==, 300);
  g_assert_cmpint (rm_image_item_get_height (items[0]), ==, 200);
  g_assert_cmpint (gdk_paintable_get_intrinsic_width (rm_image_item_get_thumbnail (items[0])), ==,
                   100); /* factor 3 */
  g_assert_cmpint (rm_image_item_get_state (items[2]), ==, RM_IMAGE_ITEM_STATE_READY);
  g_assert_cmpint (rm_image_item_get_state (items[3]), ==, RM_IMAGE_ITEM_STATE_FAILED);
  g_assert_nonnull (rm_image_item_get_error_message (items[3]));
  g_assert_null (rm_image_item_get_thumbnail (items[3]));

  for (guint i = 0; i < G_N_ELEMENTS (items); i++)
    g_object_unref (items[i]);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/view/fit", test_view_fit);
  g_test_add_func ("/view/zoom-keeps-anchor", test_view_zoom_keeps_anchor);
  g_test_add_func ("/view/limits", test_view_limits);
  g_test_add_func ("/view/pan-clamps", test_view_pan_clamps);
  g_test_add_func ("/view/resize-keeps-centre", test_view_resize_keeps_centre);
  g_test_add_func ("/view/visible-region", test_view_visible_region);
  g_test_add_func ("/view/interpolate", test_view_interpolate);
  g_test_add_func ("/pyramid/downsample-box", test_downsample_box);
  g_test_add_func ("/pyramid/levels-and-tiles", test_pyramid_levels_and_tiles);
  g_test_add_func ("/pyramid/choose-level", test_pyramid_choose_level);
  g_test_add_func ("/pyramid/thumbnail", test_thumbnail);
  g_test_add ("/files/scan-folder", Fixture, NULL, fixture_set_up, test_scan_folder,
              fixture_tear_down);
  g_test_add ("/files/pyramid-load-async", Fixture, NULL, fixture_set_up, test_pyramid_load_async,
              fixture_tear_down);
  g_test_add ("/files/item-thumbnails", Fixture, NULL, fixture_set_up, test_item_thumbnails,
              fixture_tear_down);

  return g_test_run ();
}
