/* SPDX-License-Identifier: GPL-3.0-or-later
 * Import of every supported layout, export to PNG / COCO / refs.jsonl, round trips, and bad
 * input: each failure imports or writes nothing and says why. */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli-project.h"
#include "rm-export.h"
#include "rm-image.h"
#include "rm-import.h"
#include "rm-pickle.h"
#include "rm-polygon.h"
#include "test-util.h"

typedef struct
{
  char *dir;
  RmProject *project;
} Fixture;

static RmProject *
new_project (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  RmProject *p = rm_project_create (path, &error);
  g_assert_no_error (error);
  return p;
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = rm_test_tmpdir ();
  f->project = new_project (f->dir, "p.refmask");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->project, rm_project_close);
  rm_test_rmdir_recursive (f->dir);
  g_free (f->dir);
}

static RmProjectStats
stats (RmProject *p)
{
  RmProjectStats st;
  g_autoptr (GError) error = NULL;
  rm_project_get_stats (p, &st, &error);
  g_assert_no_error (error);
  return st;
}

static GPtrArray *
annotations (RmProject *p)
{
  g_autoptr (GError) error = NULL;
  RmStoreAnnotationFilter all = { .with_masks = TRUE };
  GPtrArray *list = rm_project_list_annotations (p, &all, &error);
  g_assert_no_error (error);
  return list;
}

static RmStoreAnnotation *
find_expression (GPtrArray *list, const char *expression)
{
  for (guint i = 0; i < list->len; i++)
    if (g_strcmp0 (((RmStoreAnnotation *) list->pdata[i])->expression, expression) == 0)
      return list->pdata[i];
  g_error ("no annotation \"%s\"", expression);
  return NULL;
}

static void
import_ok (RmProject *p, RmImportFormat fmt, const char *path, const RmImportOptions *opt,
           RmImportReport *rep)
{
  g_autoptr (GError) error = NULL;
  rm_import (p, fmt, path, opt, rep, &error);
  g_assert_no_error (error);
  for (guint i = 0; rep->warnings != NULL && i < rep->warnings->len; i++)
    g_test_message ("warning: %s", (char *) rep->warnings->pdata[i]);
}

/* The same annotations (image content, expression, mask, split) in both projects. */
static void
assert_same_annotations (RmProject *a, RmProject *b)
{
  g_autoptr (GPtrArray) la = annotations (a), lb = annotations (b);
  g_assert_cmpuint (la->len, ==, lb->len);
  for (guint i = 0; i < la->len; i++)
    {
      RmStoreAnnotation *x = la->pdata[i], *y = NULL;
      g_autoptr (RmProjectImage) ix = rm_project_get_image (a, x->image_id, NULL);
      for (guint k = 0; k < lb->len && y == NULL; k++)
        {
          RmStoreAnnotation *c = lb->pdata[k];
          g_autoptr (RmProjectImage) ic = rm_project_get_image (b, c->image_id, NULL);
          if (g_strcmp0 (c->expression, x->expression) == 0 &&
              g_strcmp0 (ic->sha256, ix->sha256) == 0)
            y = c;
        }
      g_assert_nonnull (y);
      g_assert_true (rm_rle_equal (x->mask, y->mask));
      /* Exports give every sample a split ("train" when it had none): refer needs one. */
      g_assert_cmpstr (x->split != NULL ? x->split : "train", ==,
                       y->split != NULL ? y->split : "train");
    }
}

/* ---- imports of the fixtures ---- */

static void
test_refs_jsonl (Fixture *f, gconstpointer data)
{
  g_autofree char *path = rm_test_fixture ("refs/refs.jsonl");
  g_autofree char *mask_path = rm_test_fixture ("refs/refs/masks/a__00001.png");
  RmImportReport rep = { 0 };
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (RmRle) expect = NULL;
  g_autoptr (GError) error = NULL;
  RmStoreAnnotation *road;

  import_ok (f->project, RM_IMPORT_AUTO, path, NULL, &rep);
  g_assert_cmpuint (rep.images_added, ==, 2);
  g_assert_cmpuint (rep.annotations_added, ==, 4);
  g_assert_cmpuint (rep.categories, ==, 2);
  g_assert_null (rep.warnings);
  list = annotations (f->project);
  road = list->pdata[1];
  g_assert_cmpstr (road->expression, ==, "the road");
  g_assert_cmpstr (road->external_id, ==, "a__00001");
  g_assert_cmpstr (road->split, ==, "train");
  g_assert_cmpint (road->source, ==, RM_SOURCE_IMPORTED);
  g_assert_cmpint (road->status, ==, RM_STATUS_ACCEPTED);
  expect = rm_import_load_mask (mask_path, 12, 10, &error);
  g_assert_no_error (error);
  g_assert_true (rm_rle_equal (road->mask, expect));
  rm_import_report_clear (&rep);

  /* Importing the same file again adds nothing. */
  import_ok (f->project, RM_IMPORT_REFS_JSONL, path, NULL, &rep);
  g_assert_cmpuint (rep.images_existing, ==, 2);
  g_assert_cmpuint (rep.annotations_added, ==, 0);
  g_assert_cmpuint (rep.annotations_skipped, ==, 4);
  rm_import_report_clear (&rep);
}

static void
test_coco (Fixture *f, gconstpointer data)
{
  g_autofree char *path = rm_test_fixture ("coco/instances.json");
  RmImportReport rep = { 0 };
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  double sq[8] = { 2, 2, 6, 2, 6, 6, 2, 6 }, tri[6] = { 7, 7, 9, 7, 9, 9 };
  const double *parts[2] = { sq, tri };
  gsize lens[2] = { 8, 6 };
  g_autoptr (RmRle) poly = rm_polygons_to_rle (parts, lens, 2, 10, 10, &error);
  g_autoptr (RmRle) hole = rm_rle_from_string ("08200J20N020N020N020N600d0", 10, 10, &error);

  g_assert_no_error (error);
  import_ok (f->project, RM_IMPORT_AUTO, path, NULL, &rep);
  g_assert_cmpuint (rep.annotations_added, ==, 3);
  g_assert_cmpuint (rep.images_added, ==, 2);
  g_assert_nonnull (rep.warnings); /* the crowd annotation */
  list = annotations (f->project);
  /* Without refs the category names the annotation. */
  g_assert_cmpstr (((RmStoreAnnotation *) list->pdata[0])->expression, ==, "building");
  g_assert_true (rm_rle_equal (((RmStoreAnnotation *) list->pdata[0])->mask, poly));
  g_assert_cmpstr (((RmStoreAnnotation *) list->pdata[1])->expression, ==, "tank");
  g_assert_true (rm_rle_equal (((RmStoreAnnotation *) list->pdata[1])->mask, hole));
  g_assert_cmpuint (((RmStoreAnnotation *) list->pdata[2])->area, ==, 12);
  rm_import_report_clear (&rep);
}

static void
test_rrsisd (Fixture *f, gconstpointer data)
{
  g_autofree char *path = rm_test_fixture ("rrsisd");
  RmImportReport rep = { 0 };
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  RmStoreAnnotation *apron, *grey;
  RmProjectStats st;

  g_assert_cmpint (rm_import_detect (path, &error), ==, RM_IMPORT_RRSISD);
  import_ok (f->project, RM_IMPORT_AUTO, path, NULL, &rep);
  g_assert_cmpuint (rep.images_added, ==, 2);
  g_assert_cmpuint (rep.annotations_added, ==, 4); /* 3 refs, one with two sentences */
  list = annotations (f->project);
  apron = find_expression (list, "the airport apron on the upper left");
  grey = find_expression (list, "grey apron");
  g_assert_true (rm_rle_equal (apron->mask, grey->mask));
  g_assert_cmpuint (apron->area, ==, 7 * 5);
  g_assert_cmpstr (apron->split, ==, "train");
  g_assert_cmpstr (find_expression (list, "the runway along the top")->split, ==, "test");
  g_assert_cmpstr (apron->external_id, ==, "ref0/sent0");
  st = stats (f->project);
  g_assert_cmpint (st.categories, ==, 2);
  rm_import_report_clear (&rep);
}

static void
test_refsegrs (Fixture *f, gconstpointer data)
{
  g_autofree char *path = rm_test_fixture ("refsegrs");
  RmImportReport rep = { 0 };
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;
  RmStoreAnnotation *a;

  g_assert_cmpint (rm_import_detect (path, &error), ==, RM_IMPORT_REFSEGRS);
  import_ok (f->project, RM_IMPORT_AUTO, path, NULL, &rep);
  g_assert_cmpuint (rep.annotations_added, ==, 4);
  list = annotations (f->project);
  a = find_expression (list, "the vehicle in the middle");
  g_assert_cmpstr (a->split, ==, "train");
  g_assert_cmpstr (a->external_id, ==, "train/1");
  g_assert_cmpuint (a->area, ==, 30);
  g_assert_cmpstr (find_expression (list, "all trees")->split, ==, "test");
  rm_import_report_clear (&rep);
}

static void
test_image_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *src = rm_test_fixture ("refsegrs/images");
  g_autofree char *copy_dir = g_build_filename (f->dir, "imgs", "nested", NULL);
  g_autofree char *a = g_build_filename (src, "0.png", NULL);
  g_autofree char *b = g_build_filename (copy_dir, "dup-of-0.png", NULL);
  g_autofree char *c = g_build_filename (copy_dir, "notes.txt", NULL);
  g_autofree char *root = g_build_filename (f->dir, "imgs", NULL);
  g_autofree char *content = NULL;
  gsize len;
  RmImportReport rep = { 0 };

  import_ok (f->project, RM_IMPORT_IMAGES, src, NULL, &rep);
  g_assert_cmpuint (rep.images_added, ==, 4);
  rm_import_report_clear (&rep);
  /* A copy elsewhere is the same image (same bytes). */
  g_mkdir_with_parents (copy_dir, 0755);
  g_file_get_contents (a, &content, &len, NULL);
  g_file_set_contents (b, content, (gssize) len, NULL);
  g_file_set_contents (c, "not an image", -1, NULL);
  import_ok (f->project, RM_IMPORT_AUTO, root, NULL, &rep);
  g_assert_cmpuint (rep.images_added, ==, 0);
  g_assert_cmpuint (rep.images_existing, ==, 1);
  g_assert_cmpint (stats (f->project).images, ==, 4);
  rm_import_report_clear (&rep);
}

/* ---- bad input: nothing imported, and a clear error ---- */

static char *
write_tmp (const char *dir, const char *name, const char *text, gssize len)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_mkdir_with_parents (parent, 0755);
  g_assert_true (g_file_set_contents (path, text, len, NULL));
  return path;
}

static void
expect_failure (RmProject *p, RmImportFormat fmt, const char *path, const RmImportOptions *opt,
                GQuark domain, int code)
{
  g_autoptr (GError) error = NULL;
  RmImportReport rep = { 0 };
  RmProjectStats before = stats (p), after;

  g_assert_false (rm_import (p, fmt, path, opt, &rep, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (domain != 0)
    g_assert_error (error, domain, code);
  after = stats (p);
  g_assert_cmpint (after.images, ==, before.images);
  g_assert_cmpint (after.annotations, ==, before.annotations);
  g_assert_cmpint (after.categories, ==, before.categories);
  g_assert_false (rm_project_in_transaction (p));
  rm_import_report_clear (&rep);
}

/* A COCO file next to copies of the fixture's images. */
static char *
coco_case (const char *dir, const char *name, const char *json)
{
  g_autofree char *img_src = rm_test_fixture ("coco/images/p.png");
  g_autofree char *img_dst = g_build_filename (dir, "images", "p.png", NULL);
  g_autofree char *content = NULL, *img_dir = g_path_get_dirname (img_dst);
  gsize len;
  g_mkdir_with_parents (img_dir, 0755);
  g_file_get_contents (img_src, &content, &len, NULL);
  g_file_set_contents (img_dst, content, (gssize) len, NULL);
  return write_tmp (dir, name, json, -1);
}

#define IMG "{\"id\": 1, \"file_name\": \"p.png\", \"width\": 10, \"height\": 10}"
#define CAT "{\"id\": 1, \"name\": \"building\"}"
#define ANN(id, seg)                                                                              \
  "{\"id\": " #id ", \"image_id\": 1, \"category_id\": 1, \"iscrowd\": 0, \"segmentation\": " seg \
  "}"
#define COCO(anns) "{\"images\": [" IMG "], \"categories\": [" CAT "], \"annotations\": [" anns "]}"

static void
test_bad_coco (Fixture *f, gconstpointer data)
{
  const struct
  {
    const char *what, *json;
    GQuark domain;
    int code;
  } cases[] = {
    { "truncated JSON", "{\"images\": [" IMG "], \"annotations\": [", 0, 0 },
    { "not an object", "[1, 2, 3]", RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT },
    { "duplicate annotation ids", COCO (ANN (1, "[[1,1,4,1,4,4]]") "," ANN (1, "[[1,1,4,1,4,4]]")),
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE },
    { "duplicate image ids", "{\"images\": [" IMG "," IMG "], \"annotations\": []}",
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE },
    { "RLE of another size", COCO (ANN (1, "{\"size\": [5, 5], \"counts\": \"0\"}")),
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISMATCH },
    { "declared size differs",
      "{\"images\": [{\"id\": 1, \"file_name\": \"p.png\", \"width\": 11, \"height\": 10}],"
      " \"annotations\": []}",
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISMATCH },
    { "counts beyond the image (cvat#9460)",
      COCO (ANN (1, "{\"size\": [10, 10], \"counts\": [50, 60]}")), RM_RLE_ERROR,
      RM_RLE_ERROR_INVALID },
    { "bad compressed counts", COCO (ANN (1, "{\"size\": [10, 10], \"counts\": \"ooo\"}")),
      RM_RLE_ERROR, RM_RLE_ERROR_INVALID },
    { "4-number polygon", COCO (ANN (1, "[[1,1,4,4]]")), RM_POLYGON_ERROR,
      RM_POLYGON_ERROR_INVALID },
    { "polygon of strings", COCO (ANN (1, "[[\"a\",1,4,4,2,2]]")), RM_IMPORT_ERROR,
      RM_IMPORT_ERROR_FORMAT },
    { "unknown image",
      "{\"images\": [" IMG "], \"annotations\": [{\"id\": 1, \"image_id\": 9,"
      " \"segmentation\": [[1,1,4,1,4,4]]}]}",
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT },
    { "unknown category",
      "{\"images\": [" IMG "], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 5,"
      " \"segmentation\": [[1,1,4,1,4,4]]}]}",
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT },
    { "missing image file",
      "{\"images\": [{\"id\": 1, \"file_name\": \"gone.png\"}], \"annotations\": []}",
      RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING },
    { "no segmentation", COCO ("{\"id\": 1, \"image_id\": 1}"), RM_IMPORT_ERROR,
      RM_IMPORT_ERROR_FORMAT },
    /* Valid first annotation, broken second: the first must not stay either. */
    { "error after good records",
      COCO (ANN (1, "[[1,1,4,1,4,4]]") "," ANN (2, "{\"size\": [10, 10]}")), RM_IMPORT_ERROR,
      RM_IMPORT_ERROR_FORMAT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *sub = g_strdup_printf ("%s/case%u", f->dir, i);
      g_autofree char *path = coco_case (sub, "instances.json", cases[i].json);
      g_test_message ("case: %s", cases[i].what);
      expect_failure (f->project, RM_IMPORT_COCO, path, NULL, cases[i].domain, cases[i].code);
    }
}

/* A copy of the refs fixture (refs.jsonl, images, masks) in `dir`. */
static void
copy_refs_fixture (const char *dir)
{
  g_autofree char *src = rm_test_fixture ("refs");
  const char *files[] = { "refs.jsonl",
                          "images/a.png",
                          "images/b.png",
                          "refs/masks/a__00000.png",
                          "refs/masks/a__00001.png",
                          "refs/masks/b__00000.png",
                          "refs/masks/b__00001.png" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *from = g_build_filename (src, files[i], NULL), *text = NULL;
      gsize n;
      g_assert_true (g_file_get_contents (from, &text, &n, NULL));
      g_free (write_tmp (dir, files[i], text, (gssize) n));
    }
}

static void
test_bad_refs_jsonl (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "refs", NULL);
  g_autofree char *good = NULL, *text = NULL;
  g_auto (GStrv) lines = NULL;

  /* Variants of the fixture file, written next to a copy of its images and masks. */
  copy_refs_fixture (src);
  good = g_build_filename (src, "refs.jsonl", NULL);
  g_file_get_contents (good, &text, NULL, NULL);
  lines = g_strsplit (text, "\n", -1);
  {
    g_autofree char *dup_text = g_strdup_printf ("%s\n%s\n%s\n", lines[0], lines[1], lines[0]);
    g_autofree char *path = write_tmp (src, ".test-dup.jsonl", dup_text, -1);
    expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, NULL, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_DUPLICATE);
    g_unlink (path);
  }
  {
    g_autofree char *bad_text = g_strdup_printf ("%s\n{\"id\": \"x\", \"image\":\n", lines[0]);
    g_autofree char *path = write_tmp (src, ".test-bad.jsonl", bad_text, -1);
    expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, NULL, 0, 0);
    g_unlink (path);
  }
  {
    /* Mask of image b (14 x 9) given to image a (12 x 10). */
    g_autofree char *swapped = g_strdup (lines[0]);
    g_autofree char *fixed = NULL;
    g_autofree char *path = NULL;
    char *at = strstr (swapped, "a__00000.png");
    g_assert_nonnull (at);
    at[0] = 'b';
    fixed = g_strdup_printf ("%s\n", swapped);
    path = write_tmp (src, ".test-size.jsonl", fixed, -1);
    expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, NULL, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_MISMATCH);
    g_unlink (path);
  }
  {
    g_autofree char *path =
        write_tmp (src, ".test-missing.jsonl",
                   "{\"id\": \"m\", \"image\": \"images/none.png\", \"mask\": \"x.png\","
                   " \"expression\": \"x\"}\n",
                   -1);
    expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, NULL, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_MISSING);
    g_unlink (path);
  }
  {
    g_autofree char *path = write_tmp (src, ".test-empty.jsonl", "\n\n", -1);
    expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, NULL, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_FORMAT);
    g_unlink (path);
  }
}

/* An RRSIS-D folder whose refs(unc).p is replaced. */
static void
rrsisd_with_refs (Fixture *f, const char *name, const char *bytes, gsize len, GQuark domain,
                  int code)
{
  g_autofree char *src = rm_test_fixture ("rrsisd");
  g_autofree char *dir = g_build_filename (f->dir, name, NULL);
  g_autofree char *inst_src = g_build_filename (src, "rrsisd", "instances.json", NULL);
  g_autofree char *inst = NULL, *refs = NULL,
                  *images = g_build_filename (src, "images", "rrsisd", "JPEGImages", NULL);
  g_autofree char *content = NULL;
  RmImportOptions opt;
  gsize n;

  g_file_get_contents (inst_src, &content, &n, NULL);
  inst = write_tmp (dir, "instances.json", content, (gssize) n);
  refs = write_tmp (dir, "refs(unc).p", bytes, (gssize) len);
  rm_import_options_init (&opt);
  opt.images_dir = images;
  expect_failure (f->project, RM_IMPORT_RRSISD, dir, &opt, domain, code);
}

static void
test_bad_pickles (Fixture *f, gconstpointer data)
{
  static const char unknown[] = "\x80\x02]\xff.";
  static const char absurd[] = "\x80\x04]\x8d\xff\xff\xff\xff\xff\xff\xff\x0f"
                               "a.";
  static const char evil[] = "cos\nsystem\n(S'rm -rf /'\ntR.";
  static const char not_list[] = "\x80\x02}.";
  /* pickle.dumps ([{"ann_id": 99, "sentences": [{"raw": "x"}]}], protocol=2): no annotation 99 */
  static const char bad_ann[] = "\x80\x02]q\x00}q\x01(X\x06\x00\x00\x00"
                                "ann_idq\x02"
                                "KcX\x09\x00\x00\x00"
                                "sentencesq\x03]q\x04}q\x05X\x03\x00\x00\x00"
                                "rawq\x06X\x01\x00\x00\x00"
                                "xq\x07saua.";

  rrsisd_with_refs (f, "unknown", unknown, sizeof unknown - 1, RM_PICKLE_ERROR,
                    RM_PICKLE_ERROR_OPCODE);
  rrsisd_with_refs (f, "absurd", absurd, sizeof absurd - 1, RM_PICKLE_ERROR,
                    RM_PICKLE_ERROR_TRUNCATED);
  rrsisd_with_refs (f, "evil", evil, sizeof evil - 1, RM_PICKLE_ERROR, RM_PICKLE_ERROR_GLOBAL);
  rrsisd_with_refs (f, "notlist", not_list, sizeof not_list - 1, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_FORMAT);
  rrsisd_with_refs (f, "badann", bad_ann, sizeof bad_ann - 1, RM_IMPORT_ERROR,
                    RM_IMPORT_ERROR_FORMAT);
}

static void
test_bad_refsegrs (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->dir, "rs", NULL);
  g_autofree char *t1 = NULL, *t2 = NULL, *img = NULL;

  /* A TIFF whose header is cut short: said plainly, nothing imported. */
  t1 = write_tmp (dir, "output_phrase_train.txt", "7 the lake\n", -1);
  img = write_tmp (dir, "images/7.tif", "II*\x00", 4);
  g_free (write_tmp (dir, "masks/7.tif", "II*\x00", 4));
  expect_failure (f->project, RM_IMPORT_AUTO, dir, NULL, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT);
  t2 = write_tmp (dir, "output_phrase_train.txt", "8\n", -1);
  expect_failure (f->project, RM_IMPORT_REFSEGRS, dir, NULL, RM_IMPORT_ERROR,
                  RM_IMPORT_ERROR_FORMAT);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *path = rm_test_fixture ("refs/refs.jsonl");
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  RmImportOptions opt;

  rm_import_options_init (&opt);
  opt.cancellable = cancel;
  g_cancellable_cancel (cancel);
  expect_failure (f->project, RM_IMPORT_REFS_JSONL, path, &opt, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- export ---- */

static void
import_all_fixtures (RmProject *p)
{
  const char *names[] = { "refs/refs.jsonl", "coco/instances.json", "rrsisd", "refsegrs" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = rm_test_fixture (names[i]);
      RmImportReport rep = { 0 };
      import_ok (p, RM_IMPORT_AUTO, path, NULL, &rep);
      rm_import_report_clear (&rep);
    }
}

static void
export_ok (RmProject *p, RmExportFormat fmt, const char *out, const RmExportOptions *opt,
           RmExportReport *rep)
{
  g_autoptr (GError) error = NULL;
  rm_export (p, fmt, out, opt, rep, &error);
  g_assert_no_error (error);
  for (guint i = 0; rep->warnings != NULL && i < rep->warnings->len; i++)
    g_test_message ("warning: %s", (char *) rep->warnings->pdata[i]);
}

static void
test_export_png (Fixture *f, gconstpointer data)
{
  g_autofree char *out = g_build_filename (f->dir, "png-out", NULL);
  g_autofree char *manifest_path = g_build_filename (out, "masks.json", NULL);
  g_autoptr (JsonNode) manifest = NULL;
  g_autoptr (GPtrArray) list = NULL;
  RmExportReport rep = { 0 };
  JsonArray *rows;

  import_all_fixtures (f->project);
  export_ok (f->project, RM_EXPORT_PNG, out, NULL, &rep);
  list = annotations (f->project);
  g_assert_cmpuint (rep.annotations, ==, list->len);
  manifest = rm_test_load_json (manifest_path);
  rows = json_node_get_array (manifest);
  g_assert_cmpuint (json_array_get_length (rows), ==, list->len);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *row = json_array_get_object_element (rows, i);
      gint64 id = json_object_get_int_member (row, "annotation_id");
      gint64 value = json_object_get_int_member (row, "index_value");
      g_autoptr (GError) error = NULL;
      g_autoptr (RmStoreAnnotation) a = rm_project_get_annotation (f->project, id, &error);
      g_autofree char *mask =
          g_build_filename (out, json_object_get_string_member (row, "mask"), NULL);
      g_autofree char *index =
          g_build_filename (out, json_object_get_string_member (row, "index_mask"), NULL);
      g_autoptr (RmRle) back = NULL;
      g_autoptr (RmImage) idx = NULL;
      g_autofree guint8 *bits = NULL;

      g_assert_no_error (error);
      back = rm_import_load_mask (mask, a->mask->w, a->mask->h, &error);
      g_assert_no_error (error);
      g_assert_true (rm_rle_equal (back, a->mask));
      /* Index PNG: palette colours, black background. */
      idx = rm_image_load (index, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (idx->width, ==, a->mask->w);
      g_assert_cmpint (value, >=, 1);
      bits = g_malloc ((gsize) a->mask->w * a->mask->h);
      rm_rle_decode (a->mask, bits, a->mask->w, 1);
      for (gsize p = 0; p < (gsize) a->mask->w * a->mask->h; p++)
        if (!bits[p])
          continue;
        else
          {
            const guint8 *px = idx->pixels + p * 3;
            /* Later annotations of the image may cover this pixel: it is coloured anyway. */
            g_assert_cmpint (px[0] + px[1] + px[2], >, 0);
          }
    }
  rm_export_report_clear (&rep);
}

static void
roundtrip_coco (Fixture *f, gboolean polygons, gboolean via_rrsisd)
{
  g_autofree char *out = g_build_filename (f->dir, polygons ? "coco-poly" : "coco-rle", NULL);
  g_autofree char *inst_path = g_build_filename (out, "instances.json", NULL);
  g_autofree char *refs_path = g_build_filename (out, "refs.json", NULL);
  g_autoptr (RmProject) back =
      new_project (f->dir, polygons ? "back-poly.refmask" : "back-rle.refmask");
  g_autoptr (JsonNode) inst = NULL;
  RmExportOptions opt;
  RmExportReport rep = { 0 };
  RmImportReport irep = { 0 };
  RmImportOptions iopt;
  JsonArray *anns;

  import_all_fixtures (f->project);
  rm_export_options_init (&opt);
  opt.polygons = polygons;
  export_ok (f->project, RM_EXPORT_COCO, out, &opt, &rep);
  if (polygons)
    g_assert_nonnull (rep.warnings); /* the mask with a hole stays RLE */

  /* The COCO rules pycocotools relies on. */
  inst = rm_test_load_json (inst_path);
  anns = json_object_get_array_member (json_node_get_object (inst), "annotations");
  for (guint i = 0; i < json_array_get_length (anns); i++)
    {
      JsonObject *a = json_array_get_object_element (anns, i);
      g_autoptr (RmStoreAnnotation) src =
          rm_project_get_annotation (f->project, json_object_get_int_member (a, "id"), NULL);
      JsonArray *bbox = json_object_get_array_member (a, "bbox");
      double bb[4];
      g_assert_cmpint (json_object_get_int_member (a, "id"), >=, 1);
      g_assert_cmpint (json_object_get_int_member (a, "iscrowd"), ==, 0);
      g_assert_cmpint (json_object_get_int_member (a, "area"), ==, (gint64) src->area);
      rm_rle_to_bbox (src->mask, bb);
      for (guint k = 0; k < 4; k++)
        g_assert_cmpfloat (json_array_get_double_element (bbox, k), ==, bb[k]);
    }

  rm_import_options_init (&iopt);
  if (via_rrsisd)
    import_ok (back, RM_IMPORT_AUTO, out, &iopt, &irep); /* instances.json + refs(unc).p */
  else
    {
      iopt.refs_path = refs_path;
      import_ok (back, RM_IMPORT_COCO, inst_path, &iopt, &irep);
    }
  assert_same_annotations (f->project, back);
  rm_export_report_clear (&rep);
  rm_import_report_clear (&irep);
}

static void
test_export_coco_rle (Fixture *f, gconstpointer data)
{
  roundtrip_coco (f, FALSE, FALSE);
}

static void
test_export_coco_polygons (Fixture *f, gconstpointer data)
{
  roundtrip_coco (f, TRUE, FALSE);
}

static void
test_export_coco_as_rrsisd (Fixture *f, gconstpointer data)
{
  roundtrip_coco (f, FALSE, TRUE);
}

static void
test_export_refs_jsonl (Fixture *f, gconstpointer data)
{
  g_autofree char *out = g_build_filename (f->dir, "refs-out", NULL);
  g_autofree char *jsonl = g_build_filename (out, "refs.jsonl", NULL);
  g_autoptr (RmProject) back = new_project (f->dir, "back.refmask");
  RmExportReport rep = { 0 };
  RmImportReport irep = { 0 };

  import_all_fixtures (f->project);
  export_ok (f->project, RM_EXPORT_REFS_JSONL, out, NULL, &rep);
  import_ok (back, RM_IMPORT_AUTO, out, NULL, &irep);
  g_assert_null (irep.warnings); /* bbox_xywh agrees with every mask */
  assert_same_annotations (f->project, back);
  rm_export_report_clear (&rep);
  rm_import_report_clear (&irep);
  g_assert_true (g_file_test (jsonl, G_FILE_TEST_EXISTS));
}

static void
test_export_never_overwrites (Fixture *f, gconstpointer data)
{
  g_autofree char *out = g_build_filename (f->dir, "out", NULL);
  g_autofree char *mine = g_build_filename (f->dir, "mine", NULL);
  g_autofree char *precious = NULL, *keep = NULL;
  g_autoptr (GError) error = NULL;
  RmExportOptions opt;
  RmExportReport rep = { 0 };

  import_all_fixtures (f->project);
  rm_export_options_init (&opt);
  export_ok (f->project, RM_EXPORT_REFS_JSONL, out, &opt, &rep);
  rm_export_report_clear (&rep);
  g_assert_false (rm_export (f->project, RM_EXPORT_COCO, out, &opt, &rep, &error));
  g_assert_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EXISTS);
  g_clear_error (&error);
  opt.force = TRUE;
  export_ok (f->project, RM_EXPORT_COCO, out, &opt, &rep);
  rm_export_report_clear (&rep);
  keep = g_build_filename (out, "instances.json", NULL);
  g_assert_true (g_file_test (keep, G_FILE_TEST_EXISTS));
  g_free (keep);
  keep = g_build_filename (out, "refs.jsonl", NULL);
  g_assert_false (g_file_test (keep, G_FILE_TEST_EXISTS)); /* replaced as a whole */

  /* A folder that is not an export is never replaced, even with force. */
  precious = write_tmp (mine, "thesis.tex", "do not delete", -1);
  g_assert_false (rm_export (f->project, RM_EXPORT_COCO, mine, &opt, &rep, &error));
  g_assert_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EXISTS);
  g_assert_true (g_file_test (precious, G_FILE_TEST_EXISTS));
}

static void
test_export_vanished_image (Fixture *f, gconstpointer data)
{
  g_autofree char *copy = g_build_filename (f->dir, "data", NULL);
  g_autofree char *gone = g_build_filename (copy, "images", "b.png", NULL);
  g_autofree char *out = g_build_filename (f->dir, "out", NULL);
  g_autoptr (GError) error = NULL;
  RmExportOptions opt;
  RmExportReport rep = { 0 };
  RmImportReport irep = { 0 };

  copy_refs_fixture (copy);
  import_ok (f->project, RM_IMPORT_AUTO, copy, NULL, &irep);
  rm_import_report_clear (&irep);
  g_unlink (gone);
  rm_export_options_init (&opt);
  g_assert_false (rm_export (f->project, RM_EXPORT_COCO, out, &opt, &rep, &error));
  g_assert_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_MISSING);
  g_test_message ("%s", error->message);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  /* Nothing left behind beside the target either. */
  {
    g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (d)) != NULL)
      g_assert_false (g_str_has_prefix (name, ".out."));
  }
  opt.no_images = TRUE;
  export_ok (f->project, RM_EXPORT_COCO, out, &opt, &rep);
  g_assert_nonnull (rep.warnings);
  rm_export_report_clear (&rep);
}

static void
disk_full_export_child (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  const char *path = g_getenv ("REFMASK_TEST_PROJECT"), *out = g_getenv ("REFMASK_TEST_OUT");
  struct rlimit lim = { 20000, 20000 };

  if (!g_test_subprocess ())
    {
      g_test_skip ("runs only as the subprocess of /export/disk-full");
      return;
    }
  p = rm_project_open (path, &error);
  g_assert_no_error (error);
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  g_assert_false (rm_export (p, RM_EXPORT_COCO, out, NULL, NULL, &error));
  g_print ("FAILED %s\n", error->message);
}

static void
test_export_disk_full (Fixture *f, gconstpointer data)
{
  g_autofree char *out = g_build_filename (f->dir, "full", NULL);
  g_autofree char *big = NULL;
  RmImportReport rep = { 0 };
  GString *json = g_string_new ("{\"images\": [" IMG "], \"annotations\": [");

  /* Enough annotations that instances.json passes the 20 kB limit. */
  for (int i = 1; i <= 400; i++)
    g_string_append_printf (json, "%s" ANN (% d, "[[1,1,8,1,8,%d]]"), i > 1 ? "," : "", i,
                            2 + i % 7);
  g_string_append (json, "], \"categories\": [" CAT "]}");
  big = coco_case (f->dir, "big.json", json->str);
  g_string_free (json, TRUE);
  import_ok (f->project, RM_IMPORT_COCO, big, NULL, &rep);
  rm_import_report_clear (&rep);
  g_setenv ("REFMASK_TEST_PROJECT", rm_project_get_path (f->project), TRUE);
  g_setenv ("REFMASK_TEST_OUT", out, TRUE);
  g_test_trap_subprocess ("/export/disk-full/subprocess", 60 * G_USEC_PER_SEC,
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("FAILED *");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  {
    g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (d)) != NULL)
      g_assert_false (g_str_has_prefix (name, ".full."));
  }
}

/* ---- the shared data ---- */

static void
import_shared_refs (Fixture *f, const char *rel, guint expect)
{
  g_autofree char *path = rm_test_shared_file_or_skip (rel);
  g_autofree char *out = g_build_filename (f->dir, "export", NULL);
  g_autoptr (RmProject) back = NULL;
  RmImportReport rep = { 0 };
  RmExportReport erep = { 0 };

  if (path == NULL)
    return;
  import_ok (f->project, RM_IMPORT_REFS_JSONL, path, NULL, &rep);
  g_assert_cmpuint (rep.annotations_added, ==, expect);
  g_assert_null (rep.warnings); /* every bbox_xywh equals pycocotools' toBbox of the mask */
  rm_import_report_clear (&rep);
  export_ok (f->project, RM_EXPORT_REFS_JSONL, out, NULL, &erep);
  rm_export_report_clear (&erep);
  back = new_project (f->dir, "back.refmask");
  import_ok (back, RM_IMPORT_AUTO, out, NULL, &rep);
  rm_import_report_clear (&rep);
  assert_same_annotations (f->project, back);
}

static void
test_shared_spacenet (Fixture *f, gconstpointer data)
{
  import_shared_refs (f, "data/spacenet-geotiff/refs.jsonl", 5);
}

static void
test_shared_dubai (Fixture *f, gconstpointer data)
{
  if (!g_test_slow ())
    {
      g_test_skip ("the 548-sample import is in the slow suite (-m slow)");
      return;
    }
  import_shared_refs (f, "data/dubai-aerial/refs.jsonl", 548);
}

/* ---- the command line, in process ---- */

static int
cli (const char *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  int saved, null_fd, code;
  va_list ap;
  g_ptr_array_add (args, (gpointer) "project");
  va_start (ap, first);
  for (const char *a = first; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  /* Its stdout would mix with the TAP stream: send it to /dev/null meanwhile. */
  fflush (stdout);
  saved = dup (STDOUT_FILENO);
  null_fd = open ("/dev/null", O_WRONLY);
  dup2 (null_fd, STDOUT_FILENO);
  close (null_fd);
  code = rm_cli_project ((int) args->len - 1, (char **) args->pdata);
  fflush (stdout);
  dup2 (saved, STDOUT_FILENO);
  close (saved);
  return code;
}

static void
test_cli (Fixture *f, gconstpointer data)
{
  g_autofree char *proj = g_build_filename (f->dir, "cli.refmask", NULL);
  g_autofree char *refs = rm_test_fixture ("refs");
  g_autofree char *rrsisd = rm_test_fixture ("rrsisd");
  g_autofree char *out = g_build_filename (f->dir, "cli-out", NULL);
  g_autofree char *inst = g_build_filename (out, "instances.json", NULL);
  g_autofree char *missing = g_build_filename (f->dir, "none.refmask", NULL);

  g_assert_cmpint (cli (NULL), ==, 2);
  g_assert_cmpint (cli ("frobnicate", NULL), ==, 2);
  g_assert_cmpint (cli ("create", proj, NULL), ==, 0);
  g_assert_cmpint (cli ("create", proj, NULL), ==, 1); /* never replaces a file */
  g_assert_cmpint (cli ("import", proj, refs, "--quiet", NULL), ==, 0);
  g_assert_cmpint (cli ("import", proj, rrsisd, "--status", "candidate", "--quiet", NULL), ==, 0);
  g_assert_cmpint (cli ("import", proj, rrsisd, "--format", "nope", NULL), ==, 2);
  g_assert_cmpint (cli ("import", proj, "/nonexistent/refs.jsonl", "--quiet", NULL), ==, 1);
  g_assert_cmpint (cli ("import", missing, refs, NULL), ==, 1);
  g_assert_cmpint (cli ("stats", proj, "--json", NULL), ==, 0);
  g_assert_cmpint (cli ("list", proj, "--status", "candidate", NULL), ==, 0);
  g_assert_cmpint (cli ("list", proj, "images", "--json", NULL), ==, 0);
  g_assert_cmpint (cli ("list", proj, "widgets", NULL), ==, 2);
  g_assert_cmpint (cli ("list", proj, "--status", "maybe", NULL), ==, 2);
  g_assert_cmpint (cli ("export", proj, out, "--simplify", "2", NULL), ==, 2);
  g_assert_cmpint (cli ("export", proj, out, "--status", "all", "--polygons", "--quiet", NULL), ==,
                   0);
  g_assert_true (g_file_test (inst, G_FILE_TEST_EXISTS));
  g_assert_cmpint (cli ("export", proj, out, "--quiet", NULL), ==, 1); /* exists */
  g_assert_cmpint (cli ("export", proj, out, "-f", "png", "--force", "--quiet", NULL), ==, 0);
  g_assert_false (g_file_test (inst, G_FILE_TEST_EXISTS));
  {
    RmProjectStats st;
    g_autoptr (RmProject) p = rm_project_open (proj, NULL);
    st = stats (p);
    g_assert_cmpint (st.annotations, ==, 8);
    g_assert_cmpint (st.by_status[RM_STATUS_CANDIDATE], ==, 4);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)
  ADD ("/import/refs-jsonl", test_refs_jsonl);
  ADD ("/import/coco", test_coco);
  ADD ("/import/rrsisd", test_rrsisd);
  ADD ("/import/refsegrs", test_refsegrs);
  ADD ("/import/image-folder", test_image_folder);
  ADD ("/import/bad/coco", test_bad_coco);
  ADD ("/import/bad/refs-jsonl", test_bad_refs_jsonl);
  ADD ("/import/bad/pickles", test_bad_pickles);
  ADD ("/import/bad/refsegrs", test_bad_refsegrs);
  ADD ("/import/cancel", test_cancel);
  ADD ("/export/png", test_export_png);
  ADD ("/export/coco-rle", test_export_coco_rle);
  ADD ("/export/coco-polygons", test_export_coco_polygons);
  ADD ("/export/coco-as-rrsisd", test_export_coco_as_rrsisd);
  ADD ("/export/refs-jsonl", test_export_refs_jsonl);
  ADD ("/export/never-overwrites", test_export_never_overwrites);
  ADD ("/export/vanished-image", test_export_vanished_image);
  ADD ("/export/disk-full", test_export_disk_full);
  ADD ("/cli/project", test_cli);
  ADD ("/shared/spacenet-refs", test_shared_spacenet);
  ADD ("/shared/dubai-refs", test_shared_dubai);
#undef ADD
  g_test_add_func ("/export/disk-full/subprocess", disk_full_export_child);
  return g_test_run ();
}
