/* SPDX-License-Identifier: GPL-3.0-or-later
 * Dataset import (see rm-import.h). */
#include "rm-import.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <tiffio.h>

#include "rm-image.h"
#include "rm-pickle.h"
#include "rm-polygon.h"

G_DEFINE_QUARK (rm - import - error - quark, rm_import_error)

static const char *const format_names[] = {
  "auto", "images", "refs", "coco", "refsegrs", "rrsisd"
};

/* What the engine decodes (rm-image.h): tried for RefSegRS ids, accepted in image folders. */
static const char *const image_exts[] = { "png", "jpg", "jpeg", "bmp", "tga", "tif", "tiff" };
static const char *const tiff_exts[] = { "tif", "tiff" };

typedef struct
{
  gint64 id;
  guint32 w, h;
} ImageRef;

typedef struct
{
  RmProject *p;
  const RmImportOptions *opt;
  RmImportReport *report;
  GHashTable *images;     /* absolute path -> ImageRef */
  GHashTable *categories; /* name -> gint64 id */
  guint done, total;
} Import;

void
rm_import_options_init (RmImportOptions *o)
{
  memset (o, 0, sizeof *o);
  o->status = RM_STATUS_ACCEPTED;
}

void
rm_import_report_clear (RmImportReport *r)
{
  g_clear_pointer (&r->warnings, g_ptr_array_unref);
  memset (r, 0, sizeof *r);
}

int
rm_format_index (const char *const *names, guint n_names, const char *name)
{
  if (g_ascii_strcasecmp (name, "refs.jsonl") == 0 || g_ascii_strcasecmp (name, "jsonl") == 0)
    name = "refs";
  for (guint i = 0; i < n_names; i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      return (int) i;
  return -1;
}

void
rm_warnings_add (GPtrArray **warnings, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  if (*warnings == NULL)
    *warnings = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (*warnings, g_strdup_vprintf (format, ap));
  va_end (ap);
}

gboolean
rm_progress_step (RmProgressFunc progress, gpointer user_data, guint done, guint total,
                  GCancellable *cancellable, GError **error)
{
  if (progress != NULL)
    progress (done, total, user_data);
  return !g_cancellable_set_error_if_cancelled (cancellable, error);
}

const char *
rm_import_format_to_string (RmImportFormat f)
{
  return (guint) f < G_N_ELEMENTS (format_names) ? format_names[f] : NULL;
}

gboolean
rm_import_format_from_string (const char *name, RmImportFormat *f)
{
  int i = rm_format_index (format_names, G_N_ELEMENTS (format_names), name);
  if (i < 0)
    return FALSE;
  *f = (RmImportFormat) i;
  return TRUE;
}

#define warn(im, ...) rm_warnings_add (&(im)->report->warnings, __VA_ARGS__)

/* Progress and cancellation, once per item. */
static gboolean
tick (Import *im, GError **error)
{
  im->done++;
  return rm_progress_step (im->opt->progress, im->opt->user_data, im->done, im->total,
                           im->opt->cancellable, error);
}

static gboolean
has_ext (const char *path, const char *const *exts, guint n)
{
  const char *dot = strrchr (path, '.');
  if (dot == NULL || strchr (dot, G_DIR_SEPARATOR) != NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (g_ascii_strcasecmp (dot + 1, exts[i]) == 0)
      return TRUE;
  return FALSE;
}

/* ---- images and masks ---- */

static guint32
be16 (const guint8 *p)
{
  return (guint32) p[0] << 8 | p[1];
}

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint32
le16 (const guint8 *p)
{
  return (guint32) p[1] << 8 | p[0];
}

/* Width and height from a JPEG's frame header (the first SOFn marker). */
static gboolean
jpeg_size (const guint8 *b, gsize len, guint32 *w, guint32 *h)
{
  gsize i = 2;
  while (i + 4 <= len)
    {
      guint8 m;
      if (b[i] != 0xff)
        return FALSE;
      m = b[i + 1];
      if (m == 0xff) /* fill byte */
        {
          i++;
          continue;
        }
      if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7))
        {
          i += 2;
          continue;
        }
      if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc)
        {
          if (i + 9 > len)
            return FALSE;
          *h = be16 (b + i + 5);
          *w = be16 (b + i + 7);
          return TRUE;
        }
      i += 2 + be16 (b + i + 2);
    }
  return FALSE;
}

/* The size from the file header alone, for the formats the engine decodes. */
static gboolean
header_size (const guint8 *b, gsize len, guint32 *w, guint32 *h)
{
  static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  if (len >= 24 && memcmp (b, png_sig, 8) == 0 && memcmp (b + 12, "IHDR", 4) == 0)
    {
      *w = be32 (b + 16);
      *h = be32 (b + 20);
      return TRUE;
    }
  if (len >= 4 && b[0] == 0xff && b[1] == 0xd8)
    return jpeg_size (b, len, w, h);
  if (len >= 26 && b[0] == 'B' && b[1] == 'M')
    {
      guint32 hdr = b[14] | (guint32) b[15] << 8 | (guint32) b[16] << 16 | (guint32) b[17] << 24;
      gint32 bh;
      if (hdr == 12) /* OS/2 core header: 16-bit sizes */
        {
          *w = le16 (b + 18);
          *h = le16 (b + 20);
          return TRUE;
        }
      *w = b[18] | (guint32) b[19] << 8 | (guint32) b[20] << 16 | (guint32) b[21] << 24;
      bh = (gint32) (b[22] | (guint32) b[23] << 8 | (guint32) b[24] << 16 | (guint32) b[25] << 24);
      *h = bh == G_MININT32 ? 0 : (guint32) ABS (bh); /* negative: stored top-down */
      return TRUE;
    }
  /* TGA has no magic number: accept the image types stb reads. */
  if (len >= 18 && b[1] <= 1 &&
      (b[2] == 1 || b[2] == 2 || b[2] == 3 || b[2] == 9 || b[2] == 10 || b[2] == 11))
    {
      *w = le16 (b + 12);
      *h = le16 (b + 14);
      return TRUE;
    }
  return FALSE;
}

static gboolean
probe_image (const char *path, guint32 *w, guint32 *h, GError **error)
{
  guint8 head[64 * 1024];
  gssize n;
  FILE *f;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING, "image %s does not exist",
                   path);
      return FALSE;
    }
  if (has_ext (path, tiff_exts, G_N_ELEMENTS (tiff_exts)))
    {
      /* libtiff reads only the directory here; its own messages would go to stderr. */
      TIFFSetErrorHandler (NULL);
      TIFFSetWarningHandler (NULL);
      TIFF *tif = TIFFOpen (path, "r");
      uint32_t tw = 0, th = 0;
      if (tif != NULL)
        {
          TIFFGetField (tif, TIFFTAG_IMAGEWIDTH, &tw);
          TIFFGetField (tif, TIFFTAG_IMAGELENGTH, &th);
          TIFFClose (tif);
        }
      *w = tw, *h = th;
      if (tw == 0 || th == 0)
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                       "%s is not a readable TIFF, or its header is damaged", path);
          return FALSE;
        }
    }
  else
    {
      /* Header only: the size without decoding (a JPEG's frame header may follow large EXIF
       * data, hence 64 KiB). */
      f = fopen (path, "rb");
      n = f != NULL ? (gssize) fread (head, 1, sizeof head, f) : -1;
      if (f != NULL)
        fclose (f);
      if (n < 0 || !header_size (head, (gsize) n, w, h) || *w == 0 || *h == 0)
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                       "%s is not an image this build reads (JPEG, PNG, BMP, TGA, TIFF), or its "
                       "header is damaged",
                       path);
          return FALSE;
        }
    }
  if (*w > RM_IMAGE_DEFAULT_MAX_SIDE || *h > RM_IMAGE_DEFAULT_MAX_SIDE ||
      (gint64) *w * *h > RM_IMAGE_DEFAULT_MAX_PIXELS)
    {
      g_set_error (
          error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_UNSUPPORTED,
          "%s is %u x %u pixels, more than the engine decodes (%d per side, %" G_GINT64_FORMAT
          " in all)",
          path, *w, *h, RM_IMAGE_DEFAULT_MAX_SIDE, (gint64) RM_IMAGE_DEFAULT_MAX_PIXELS);
      return FALSE;
    }
  return TRUE;
}

RmRle *
rm_import_load_mask (const char *path, guint32 width, guint32 height, GError **error)
{
  g_autoptr (RmImage) img = NULL;
  g_autofree guint8 *bits = NULL;
  guint32 w, h;
  guint8 max = 0, threshold;
  gsize n;

  if (!probe_image (path, &w, &h, error))
    return NULL;
  if (w != width || h != height)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISMATCH,
                   "mask %s is %u x %u pixels but its image is %u x %u", path, w, h, width, height);
      return NULL;
    }
  img = rm_image_load (path, NULL, error);
  if (img == NULL)
    return NULL;
  /* Decoded as RGB (grey replicated): a pixel's value is its largest channel. */
  n = (gsize) w * h;
  bits = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    {
      const guint8 *p = img->pixels + i * (gsize) img->channels;
      bits[i] = MAX (p[0], MAX (p[img->channels > 1], p[img->channels > 2 ? 2 : 0]));
      max = MAX (max, bits[i]);
    }
  threshold = max == 1 ? 1 : 128; /* 0/255 masks, and 0/1 masks as some datasets ship */
  for (gsize i = 0; i < n; i++)
    bits[i] = bits[i] >= threshold;
  return rm_rle_encode (bits, h, w, w);
}

/* Adds (or finds) an image file; checks a declared size when one is given. */
static gboolean
import_image (Import *im, const char *path, guint32 want_w, guint32 want_h, ImageRef *out,
              GError **error)
{
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  g_autofree char *sha = NULL;
  ImageRef *ref = g_hash_table_lookup (im->images, abs);
  ImageRef r = { 0 };
  gboolean existed = FALSE;

  if (ref == NULL)
    {
      if (!probe_image (abs, &r.w, &r.h, error))
        return FALSE;
      sha = rm_sha256_file (abs, error);
      if (sha == NULL ||
          !rm_project_add_image (im->p, abs, sha, r.w, r.h, NULL, &r.id, &existed, error))
        return FALSE;
      if (existed)
        im->report->images_existing++;
      else
        im->report->images_added++;
      ref = g_memdup2 (&r, sizeof r);
      g_hash_table_insert (im->images, g_steal_pointer (&abs), ref);
    }
  if ((want_w != 0 && want_w != ref->w) || (want_h != 0 && want_h != ref->h))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISMATCH,
                   "image %s is %u x %u pixels, not %u x %u as declared", path, ref->w, ref->h,
                   want_w, want_h);
      return FALSE;
    }
  *out = *ref;
  return TRUE;
}

static gboolean
ensure_category (Import *im, const char *name, const char *super, gint64 *id, GError **error)
{
  gint64 *cached = g_hash_table_lookup (im->categories, name);
  if (cached != NULL)
    {
      *id = *cached;
      return TRUE;
    }
  if (!rm_project_ensure_category (im->p, name, super, id, error))
    return FALSE;
  g_hash_table_insert (im->categories, g_strdup (name), g_memdup2 (id, sizeof *id));
  im->report->categories = g_hash_table_size (im->categories);
  return TRUE;
}

/* Stores one annotation (a copy of the mask), unless the same one is already there. */
static gboolean
add_annotation (Import *im, gint64 image_id, const char *expression, gint64 category_id,
                const RmRle *mask, const char *split, const char *external_id, GError **error)
{
  g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
  gboolean found = FALSE;

  a->expression = g_strstrip (g_strdup (expression));
  /* Re-importing the same dataset must not double it: same image, id and expression. */
  if (external_id != NULL &&
      !rm_project_has_annotation (im->p, image_id, external_id, a->expression, &found, error))
    return FALSE;
  if (found)
    {
      im->report->annotations_skipped++;
      return TRUE;
    }
  a->image_id = image_id;
  a->category_id = category_id;
  a->mask = rm_rle_copy (mask);
  a->source = RM_SOURCE_IMPORTED;
  a->status = im->opt->status;
  a->split = g_strdup (split);
  a->external_id = g_strdup (external_id);
  if (!rm_project_add_annotation (im->p, a, error))
    return FALSE;
  im->report->annotations_added++;
  return TRUE;
}

/* ---- image folders ---- */

static int
compare_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
collect_images (const char *dir, GPtrArray *files, guint depth, GError **error)
{
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (depth > 64)
    return TRUE; /* deeper than any real dataset: a loop through bind mounts */
  d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_str_ptr); /* a stable, predictable order */
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
        continue; /* no symlinked folders: they can loop */
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (!collect_images (path, files, depth + 1, error))
            return FALSE;
        }
      else if (has_ext (path, image_exts, G_N_ELEMENTS (image_exts)))
        g_ptr_array_add (files, g_steal_pointer (&path));
    }
  return TRUE;
}

static gboolean
import_folder (Import *im, const char *dir, GError **error)
{
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  if (!collect_images (dir, files, 0, error))
    return FALSE;
  if (files->len == 0)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT, "%s holds no images", dir);
      return FALSE;
    }
  im->total = files->len;
  for (guint i = 0; i < files->len; i++)
    {
      ImageRef r;
      if (!import_image (im, files->pdata[i], 0, 0, &r, error) || !tick (im, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- JSON helpers ---- */

/* The json-glib getters complain (criticals) about wrong types; these check first. */
static gboolean
node_int (JsonNode *n, gint64 *out)
{
  double d;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    {
      *out = json_node_get_int (n);
      return TRUE;
    }
  if (json_node_get_value_type (n) != G_TYPE_DOUBLE)
    return FALSE;
  d = json_node_get_double (n); /* 640.0 as some tools write it */
  if (!(fabs (d) < 9e15) || d != floor (d))
    return FALSE;
  *out = (gint64) d;
  return TRUE;
}

static gboolean
node_number (JsonNode *n, double *out)
{
  GType t = n != NULL && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = t == G_TYPE_INT64 ? (double) json_node_get_int (n) : json_node_get_double (n);
  return isfinite (*out);
}

static gboolean
member_int (JsonObject *o, const char *key, gint64 *out)
{
  return node_int (o != NULL ? json_object_get_member (o, key) : NULL, out);
}

static JsonObject *
element_object (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static guint
length_of (JsonArray *a)
{
  return a != NULL ? json_array_get_length (a) : 0;
}

static const char *
member_str (JsonObject *o, const char *key)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, key) : NULL;
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
             ? json_node_get_string (n)
             : NULL;
}

static JsonArray *
member_array (JsonObject *o, const char *key)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, key) : NULL;
  return n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static JsonNode *
parse_json_file (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING, "%s does not exist", path);
      return NULL;
    }
  if (!json_parser_load_from_mapped_file (parser, path, error)) /* the message names the file */
    return NULL;
  return json_node_ref (json_parser_get_root (parser));
}

static gboolean
fail_format (GError **error, const char *where, const char *what)
{
  g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT, "%s: %s", where, what);
  return FALSE;
}

/* ---- refs.jsonl ---- */

static gboolean
import_refs_line (Import *im, const char *base, JsonObject *o, GHashTable *ids, guint line,
                  GError **error)
{
  const char *id = member_str (o, "id"), *image = member_str (o, "image"),
             *mask = member_str (o, "mask");
  const char *expr = member_str (o, "expression"), *cls = member_str (o, "class");
  gint64 w = 0, h = 0, cat = 0;
  g_autofree char *image_path = NULL, *mask_path = NULL;
  g_autoptr (RmRle) rle = NULL;
  ImageRef r;
  JsonArray *bbox = member_array (o, "bbox_xywh");

  if (id == NULL || image == NULL || mask == NULL || expr == NULL)
    return fail_format (error, "record", "needs the string fields id, image, mask and expression");
  if (g_hash_table_contains (ids, id))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE,
                   "id %s appears twice (first on line %u)", id,
                   GPOINTER_TO_UINT (g_hash_table_lookup (ids, id)));
      return FALSE;
    }
  g_hash_table_insert (ids, g_strdup (id), GUINT_TO_POINTER (line));
  member_int (o, "width", &w);
  member_int (o, "height", &h);
  if (w < 0 || h < 0 || w > G_MAXUINT32 || h > G_MAXUINT32)
    return fail_format (error, "record", "has an impossible width or height");
  image_path = g_build_filename (base, image, NULL);
  mask_path = g_build_filename (base, mask, NULL);
  if (!import_image (im, image_path, (guint32) w, (guint32) h, &r, error))
    return FALSE;
  rle = rm_import_load_mask (mask_path, r.w, r.h, error);
  if (rle == NULL)
    return FALSE;
  if (length_of (bbox) == 4)
    {
      double bb[4], v;
      rm_rle_to_bbox (rle, bb);
      for (guint k = 0; k < 4; k++)
        if (!node_number (json_array_get_element (bbox, k), &v) || v != bb[k])
          {
            warn (im, "line %u (%s): bbox_xywh differs from the mask's extent", line, id);
            break;
          }
    }
  if (cls != NULL && *cls != '\0' && !ensure_category (im, cls, NULL, &cat, error))
    return FALSE;
  return add_annotation (im, r.id, expr, cat, rle, member_str (o, "split"), id, error);
}

static gboolean
import_refs_jsonl (Import *im, const char *path, GError **error)
{
  g_autofree char *text = NULL, *base = g_path_get_dirname (path);
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len;

  if (!g_file_get_contents (path, &text, &len, error))
    return FALSE;
  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT, "%s is not UTF-8 text", path);
      return FALSE;
    }
  lines = g_strsplit (text, "\n", -1);
  im->total = g_strv_length (lines);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      JsonNode *root;
      g_strstrip (lines[i]);
      if (lines[i][0] != '\0')
        {
          if (!json_parser_load_from_data (parser, lines[i], -1, error))
            {
              g_prefix_error (error, "%s:%u: ", path, i + 1);
              return FALSE;
            }
          root = json_parser_get_root (parser);
          if (!JSON_NODE_HOLDS_OBJECT (root))
            {
              g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                           "%s:%u: not a JSON object", path, i + 1);
              return FALSE;
            }
          if (!import_refs_line (im, base, json_node_get_object (root), ids, i + 1, error))
            {
              g_prefix_error (error, "%s:%u: ", path, i + 1);
              return FALSE;
            }
        }
      if (!tick (im, error))
        return FALSE;
    }
  if (g_hash_table_size (ids) == 0)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT, "%s holds no samples", path);
      return FALSE;
    }
  return TRUE;
}

/* ---- COCO ---- */

typedef struct
{
  ImageRef ref;
} CocoImage;

typedef struct
{
  gint64 image_key; /* COCO image id */
  gint64 category;  /* project category id, 0 for none */
  RmRle *mask;
} CocoAnn;

static void
coco_ann_free (gpointer p)
{
  CocoAnn *a = p;
  rm_rle_free (a->mask);
  g_free (a);
}

/* One RLE object: {"size": [h, w], "counts": "..." | [...]} at the image's size. */
static RmRle *
coco_rle (JsonObject *o, const ImageRef *im, GError **error)
{
  JsonArray *size = member_array (o, "size");
  JsonNode *counts = json_object_get_member (o, "counts");
  gint64 h, w;

  if (length_of (size) != 2 || counts == NULL || !node_int (json_array_get_element (size, 0), &h) ||
      !node_int (json_array_get_element (size, 1), &w))
    {
      fail_format (error, "segmentation", "an RLE needs \"size\": [h, w] and \"counts\"");
      return NULL;
    }
  if (h != im->h || w != im->w)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISMATCH,
                   "the RLE is %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                   " but the image is %u x %u",
                   w, h, im->w, im->h);
      return NULL;
    }
  if (JSON_NODE_HOLDS_VALUE (counts) && json_node_get_value_type (counts) == G_TYPE_STRING)
    return rm_rle_from_string (json_node_get_string (counts), im->h, im->w, error);
  if (JSON_NODE_HOLDS_ARRAY (counts))
    {
      JsonArray *arr = json_node_get_array (counts);
      guint n = json_array_get_length (arr);
      g_autofree guint32 *c = g_new (guint32, MAX (n, 1));
      for (guint i = 0; i < n; i++)
        {
          gint64 v = -1;
          if (!node_int (json_array_get_element (arr, i), &v) || v < 0 || v > G_MAXUINT32)
            {
              fail_format (error, "segmentation",
                           "uncompressed RLE counts must be non-negative integers");
              return NULL;
            }
          c[i] = (guint32) v;
        }
      return rm_rle_from_counts (im->h, im->w, c, n, error);
    }
  fail_format (error, "segmentation", "RLE counts must be a string or a list of integers");
  return NULL;
}

/* A COCO segmentation: polygons, one RLE, or a list of RLEs (unioned). */
static RmRle *
coco_segmentation (JsonNode *seg, const ImageRef *im, GError **error)
{
  if (seg != NULL && JSON_NODE_HOLDS_OBJECT (seg))
    return coco_rle (json_node_get_object (seg), im, error);
  if (seg != NULL && JSON_NODE_HOLDS_ARRAY (seg) &&
      json_array_get_length (json_node_get_array (seg)) > 0)
    {
      JsonArray *arr = json_node_get_array (seg);
      guint n = json_array_get_length (arr);
      g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (GPtrArray) rles = g_ptr_array_new_with_free_func ((GDestroyNotify) rm_rle_free);
      g_autofree gsize *lens = g_new (gsize, n);

      for (guint i = 0; i < n; i++)
        {
          JsonNode *e = json_array_get_element (arr, i);
          if (JSON_NODE_HOLDS_OBJECT (e))
            {
              RmRle *r = coco_rle (json_node_get_object (e), im, error);
              if (r == NULL)
                return NULL;
              g_ptr_array_add (rles, r);
            }
          else if (JSON_NODE_HOLDS_ARRAY (e))
            {
              JsonArray *poly = json_node_get_array (e);
              double *xy = g_new (double, json_array_get_length (poly) + 1);
              g_ptr_array_add (parts, xy);
              lens[parts->len - 1] = json_array_get_length (poly);
              for (guint k = 0; k < lens[parts->len - 1]; k++)
                {
                  if (!node_number (json_array_get_element (poly, k), &xy[k]))
                    {
                      fail_format (error, "segmentation", "polygon coordinates must be numbers");
                      return NULL;
                    }
                }
            }
          else
            {
              fail_format (error, "segmentation", "must hold polygons or RLE objects");
              return NULL;
            }
        }
      if (parts->len > 0 && rles->len > 0)
        {
          fail_format (error, "segmentation", "mixes polygons and RLE");
          return NULL;
        }
      if (parts->len > 0)
        return rm_polygons_to_rle ((const double *const *) parts->pdata, lens, parts->len, im->h,
                                   im->w, error);
      return rm_rle_merge ((RmRle *const *) rles->pdata, rles->len, FALSE, error);
    }
  fail_format (error, "segmentation", "is missing or empty");
  return NULL;
}

static gboolean
coco_categories (Import *im, JsonObject *root, GHashTable *cats, GHashTable *cat_names,
                 GError **error)
{
  JsonArray *arr = member_array (root, "categories");
  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonObject *c = element_object (arr, i);
      const char *name = member_str (c, "name");
      gint64 key, id;
      if (c == NULL || !member_int (c, "id", &key) || name == NULL)
        return fail_format (error, "categories", "every category needs an integer id and a name");
      if (g_hash_table_contains (cats, &key))
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE,
                       "category id %" G_GINT64_FORMAT " appears twice", key);
          return FALSE;
        }
      if (!ensure_category (im, name, member_str (c, "supercategory"), &id, error))
        return FALSE;
      g_hash_table_insert (cats, g_memdup2 (&key, sizeof key), g_memdup2 (&id, sizeof id));
      g_hash_table_insert (cat_names, g_memdup2 (&id, sizeof id), g_strdup (name));
    }
  return TRUE;
}

static gboolean
coco_images (Import *im, JsonObject *root, const char *images_dir, GHashTable *images,
             GError **error)
{
  JsonArray *arr = member_array (root, "images");
  if (arr == NULL)
    return fail_format (error, "instances", "has no \"images\" list");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = element_object (arr, i);
      const char *file = member_str (o, "file_name");
      g_autofree char *path = NULL;
      gint64 key, w = 0, h = 0;
      CocoImage ci;
      if (o == NULL || !member_int (o, "id", &key) || file == NULL)
        return fail_format (error, "images", "every image needs an integer id and a file_name");
      if (g_hash_table_contains (images, &key))
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE,
                       "image id %" G_GINT64_FORMAT " appears twice", key);
          return FALSE;
        }
      member_int (o, "width", &w);
      member_int (o, "height", &h);
      if (w < 0 || h < 0 || w > G_MAXUINT32 || h > G_MAXUINT32)
        return fail_format (error, "images", "an image has an impossible width or height");
      path = g_build_filename (images_dir, file, NULL);
      if (!import_image (im, path, (guint32) w, (guint32) h, &ci.ref, error))
        {
          g_prefix_error (error, "image %" G_GINT64_FORMAT ": ", key);
          return FALSE;
        }
      g_hash_table_insert (images, g_memdup2 (&key, sizeof key), g_memdup2 (&ci, sizeof ci));
      if (!tick (im, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
coco_annotations (Import *im, JsonObject *root, GHashTable *images, GHashTable *cats,
                  GHashTable *anns, GError **error)
{
  JsonArray *arr = member_array (root, "annotations");
  guint crowd = 0;
  if (arr == NULL)
    return fail_format (error, "instances", "has no \"annotations\" list");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = element_object (arr, i);
      gint64 key, image_key, cat_key, crowd_flag = 0;
      gint64 *cat_id;
      CocoImage *ci;
      CocoAnn *a;
      if (o == NULL || !member_int (o, "id", &key) || !member_int (o, "image_id", &image_key))
        return fail_format (error, "annotations",
                            "every annotation needs an integer id and image_id");
      if (g_hash_table_contains (anns, &key))
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_DUPLICATE,
                       "annotation id %" G_GINT64_FORMAT " appears twice", key);
          return FALSE;
        }
      ci = g_hash_table_lookup (images, &image_key);
      if (ci == NULL)
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                       "annotation %" G_GINT64_FORMAT " is on image %" G_GINT64_FORMAT
                       ", which is not listed",
                       key, image_key);
          return FALSE;
        }
      a = g_new0 (CocoAnn, 1);
      a->image_key = image_key;
      /* RRSIS-D spells the field "categories_id" in places. */
      if (member_int (o, "category_id", &cat_key) || member_int (o, "categories_id", &cat_key))
        {
          cat_id = g_hash_table_lookup (cats, &cat_key);
          if (cat_id == NULL)
            {
              coco_ann_free (a);
              g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                           "annotation %" G_GINT64_FORMAT " has category %" G_GINT64_FORMAT
                           ", which is not listed",
                           key, cat_key);
              return FALSE;
            }
          a->category = *cat_id;
        }
      a->mask = coco_segmentation (json_object_get_member (o, "segmentation"), &ci->ref, error);
      if (a->mask == NULL)
        {
          coco_ann_free (a);
          g_prefix_error (error, "annotation %" G_GINT64_FORMAT ": ", key);
          return FALSE;
        }
      member_int (o, "iscrowd", &crowd_flag);
      crowd += crowd_flag != 0;
      g_hash_table_insert (anns, g_memdup2 (&key, sizeof key), a);
      if (!tick (im, error))
        return FALSE;
    }
  if (crowd > 0)
    warn (im, "%u crowd annotation(s) (iscrowd 1) imported as ordinary masks", crowd);
  return TRUE;
}

/* Expressions from refer-style refs: one project annotation per sentence. */
static gboolean
coco_refs (Import *im, JsonNode *refs, GHashTable *images, GHashTable *anns, GError **error)
{
  JsonArray *arr = JSON_NODE_HOLDS_ARRAY (refs) ? json_node_get_array (refs) : NULL;
  if (arr == NULL)
    return fail_format (error, "refs", "must be a list of refs");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *r = element_object (arr, i);
      JsonArray *sents = member_array (r, "sentences");
      gint64 ref_id = 0, ann_key;
      CocoAnn *a;
      CocoImage *ci;
      if (r == NULL || !member_int (r, "ann_id", &ann_key) || sents == NULL)
        return fail_format (error, "refs", "every ref needs an ann_id and sentences");
      member_int (r, "ref_id", &ref_id);
      a = g_hash_table_lookup (anns, &ann_key);
      if (a == NULL)
        {
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                       "ref %" G_GINT64_FORMAT " points to annotation %" G_GINT64_FORMAT
                       ", which is not listed",
                       ref_id, ann_key);
          return FALSE;
        }
      ci = g_hash_table_lookup (images, &a->image_key);
      for (guint k = 0; k < json_array_get_length (sents); k++)
        {
          JsonObject *s = element_object (sents, k);
          const char *text =
              member_str (s, "raw") != NULL ? member_str (s, "raw") : member_str (s, "sent");
          g_autofree char *trimmed = text != NULL ? g_strstrip (g_strdup (text)) : NULL;
          gint64 sent_id = k;
          g_autofree char *ext = NULL;
          if (trimmed == NULL || *trimmed == '\0')
            {
              g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                           "ref %" G_GINT64_FORMAT " has an empty sentence", ref_id);
              return FALSE;
            }
          member_int (s, "sent_id", &sent_id);
          ext = g_strdup_printf ("ref%" G_GINT64_FORMAT "/sent%" G_GINT64_FORMAT, ref_id, sent_id);
          if (!add_annotation (im, ci->ref.id, text, a->category, a->mask, member_str (r, "split"),
                               ext, error))
            return FALSE;
        }
      if (!tick (im, error))
        return FALSE;
    }
  return TRUE;
}

static int
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* Without refs: each COCO annotation, named after its category. */
static gboolean
coco_plain (Import *im, GHashTable *images, GHashTable *anns, GHashTable *cat_names, GError **error)
{
  GHashTableIter it;
  gpointer key, val;
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_hash_table_iter_init (&it, anns);
  while (g_hash_table_iter_next (&it, &key, &val))
    g_array_append_val (order, *(gint64 *) key);
  g_array_sort (order, compare_i64); /* in COCO id order */
  for (guint i = 0; i < order->len; i++)
    {
      gint64 k = g_array_index (order, gint64, i);
      CocoAnn *a = g_hash_table_lookup (anns, &k);
      CocoImage *ci = g_hash_table_lookup (images, &a->image_key);
      const char *name = a->category > 0 ? g_hash_table_lookup (cat_names, &a->category) : NULL;
      g_autofree char *ext = g_strdup_printf ("ann%" G_GINT64_FORMAT, k);
      if (!add_annotation (im, ci->ref.id, name != NULL ? name : "object", a->category, a->mask,
                           NULL, ext, error))
        return FALSE;
    }
  return TRUE;
}

static JsonNode *
load_refs (const char *path, GError **error)
{
  g_autoptr (RmPickle) pk = NULL;
  JsonNode *node;
  RmPickleLimits lim = { .max_input_bytes = (gsize) 1 << 30 }; /* refs files are tens of MB */

  if (g_str_has_suffix (path, ".json"))
    return parse_json_file (path, error);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING, "%s does not exist", path);
      return NULL;
    }
  pk = rm_pickle_load_file (path, &lim, error);
  if (pk == NULL)
    return NULL;
  node = rm_pickle_to_json (rm_pickle_get_root (pk), error);
  if (node == NULL)
    g_prefix_error (error, "%s: ", path);
  return node;
}

static gboolean
import_coco (Import *im, const char *json_path, const char *images_dir, const char *refs_path,
             GError **error)
{
  g_autoptr (JsonNode) root = parse_json_file (json_path, error);
  g_autoptr (JsonNode) refs = NULL;
  g_autoptr (GHashTable) cats = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GHashTable) cat_names =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GHashTable) images =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr (GHashTable) anns =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, coco_ann_free);
  g_autofree char *dir = g_path_get_dirname (json_path), *default_images = NULL;
  JsonObject *o;
  gboolean ok;

  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return fail_format (error, json_path, "is not a COCO instances object");
  o = json_node_get_object (root);
  if (images_dir == NULL)
    {
      /* file_name next to the JSON, else in its images/ folder. */
      JsonArray *imgs = member_array (o, "images");
      JsonObject *first = length_of (imgs) > 0 ? element_object (imgs, 0) : NULL;
      const char *file = member_str (first, "file_name");
      g_autofree char *probe = file != NULL ? g_build_filename (dir, file, NULL) : NULL;
      default_images = probe != NULL && !g_file_test (probe, G_FILE_TEST_EXISTS)
                           ? g_build_filename (dir, "images", NULL)
                           : g_strdup (dir);
      images_dir = default_images;
    }
  if (refs_path != NULL && (refs = load_refs (refs_path, error)) == NULL)
    return FALSE;
  im->total = length_of (member_array (o, "images")) + length_of (member_array (o, "annotations")) +
              (refs != NULL && JSON_NODE_HOLDS_ARRAY (refs)
                   ? json_array_get_length (json_node_get_array (refs))
                   : 0);
  ok = coco_categories (im, o, cats, cat_names, error) &&
       coco_images (im, o, images_dir, images, error) &&
       coco_annotations (im, o, images, cats, anns, error) &&
       (refs != NULL || coco_plain (im, images, anns, cat_names, error));
  if (!ok)
    {
      g_prefix_error (error, "%s: ", json_path);
      return FALSE;
    }
  if (refs != NULL && !coco_refs (im, refs, images, anns, error))
    {
      g_prefix_error (error, "%s: ", refs_path);
      return FALSE;
    }
  return TRUE;
}

/* ---- RefSegRS and RRSIS-D layouts ---- */

/* <dir>/<id>.<ext> for the first extension that exists (TIFF first, as the dataset ships). */
static char *
find_by_id (const char *dir, const char *id)
{
  const char *const *lists[2] = { tiff_exts, image_exts };
  const guint sizes[2] = { G_N_ELEMENTS (tiff_exts), G_N_ELEMENTS (image_exts) };
  for (guint l = 0; l < 2; l++)
    for (guint i = 0; i < sizes[l]; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s.%s", id, lists[l][i]);
        char *path = g_build_filename (dir, name, NULL);
        if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
          return path;
        g_free (path);
      }
  return NULL;
}

static gboolean
import_refsegrs (Import *im, const char *root, GError **error)
{
  static const char *const splits[] = { "train", "val", "test" };
  g_autofree char *img_dir = g_build_filename (root, "images", NULL);
  g_autofree char *mask_dir = g_build_filename (root, "masks", NULL);
  guint files = 0;

  for (guint s = 0; s < G_N_ELEMENTS (splits); s++)
    {
      g_autofree char *name = g_strdup_printf ("output_phrase_%s.txt", splits[s]);
      g_autofree char *path = g_build_filename (root, name, NULL);
      g_autofree char *text = NULL;
      g_auto (GStrv) lines = NULL;
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      files++;
      if (!g_file_get_contents (path, &text, NULL, error))
        return FALSE;
      lines = g_strsplit (text, "\n", -1);
      im->total += g_strv_length (lines);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          char *line = g_strstrip (lines[i]), *sp;
          g_autofree char *image = NULL, *mask = NULL, *ext = NULL;
          g_autoptr (RmRle) rle = NULL;
          ImageRef r;
          if (*line == '\0')
            continue;
          sp = strchr (line, ' ');
          if (sp == NULL || *g_strstrip (sp + 1) == '\0' || !g_utf8_validate (line, -1, NULL))
            {
              g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT,
                           "%s:%u: expected \"<id> <expression>\"", path, i + 1);
              return FALSE;
            }
          *sp = '\0';
          image = find_by_id (img_dir, line);
          mask = find_by_id (mask_dir, line);
          if (image == NULL || mask == NULL)
            {
              g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING,
                           "%s:%u: no %s for id %s in %s", path, i + 1,
                           image == NULL ? "image" : "mask", line,
                           image == NULL ? img_dir : mask_dir);
              return FALSE;
            }
          ext = g_strdup_printf ("%s/%s", splits[s], line);
          if (!import_image (im, image, 0, 0, &r, error) ||
              (rle = rm_import_load_mask (mask, r.w, r.h, error)) == NULL ||
              !add_annotation (im, r.id, sp + 1, 0, rle, splits[s], ext, error))
            {
              g_prefix_error (error, "%s:%u: ", path, i + 1);
              return FALSE;
            }
          if (!tick (im, error))
            return FALSE;
        }
    }
  if (files == 0)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_FORMAT, "%s has no output_phrase_*.txt",
                   root);
      return FALSE;
    }
  return TRUE;
}

/* The first candidate that exists, or NULL. */
static char *
first_existing (const char *root, const char *const *candidates, GFileTest test)
{
  for (guint i = 0; candidates[i] != NULL; i++)
    {
      char *p = g_build_filename (root, candidates[i], NULL);
      if (g_file_test (p, test))
        return p;
      g_free (p);
    }
  return NULL;
}

static const char *const rrsisd_instances[] = { "instances.json", "rrsisd/instances.json", NULL };
static const char *const rrsisd_refs[] = { "refs(unc).p", "rrsisd/refs(unc).p", NULL };
static const char *const rrsisd_images[] = {
  "images/rrsisd/JPEGImages", "JPEGImages", "images/JPEGImages", "rrsisd/JPEGImages", "images", NULL
};

static gboolean
import_rrsisd (Import *im, const char *root, const char *images_override, GError **error)
{
  g_autofree char *inst = first_existing (root, rrsisd_instances, G_FILE_TEST_IS_REGULAR);
  g_autofree char *refs = first_existing (root, rrsisd_refs, G_FILE_TEST_IS_REGULAR);
  g_autofree char *images = images_override != NULL
                                ? g_strdup (images_override)
                                : first_existing (root, rrsisd_images, G_FILE_TEST_IS_DIR);
  if (inst == NULL || refs == NULL || images == NULL)
    {
      g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING,
                   "%s is not an RRSIS-D folder: no %s", root,
                   inst == NULL   ? "instances.json"
                   : refs == NULL ? "refs(unc).p"
                                  : "images/rrsisd/JPEGImages");
      return FALSE;
    }
  return import_coco (im, inst, images, refs, error);
}

/* ---- entry points ---- */

RmImportFormat
rm_import_detect (const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *txt = g_build_filename (path, "output_phrase_train.txt", NULL);
      g_autofree char *txt2 = g_build_filename (path, "output_phrase_test.txt", NULL);
      g_autofree char *refs = first_existing (path, rrsisd_refs, G_FILE_TEST_IS_REGULAR);
      g_autofree char *jsonl = g_build_filename (path, "refs.jsonl", NULL);
      if (g_file_test (txt, G_FILE_TEST_EXISTS) || g_file_test (txt2, G_FILE_TEST_EXISTS))
        return RM_IMPORT_REFSEGRS;
      if (refs != NULL)
        return RM_IMPORT_RRSISD;
      if (g_file_test (jsonl, G_FILE_TEST_EXISTS))
        return RM_IMPORT_REFS_JSONL;
      return RM_IMPORT_IMAGES;
    }
  if (g_str_has_suffix (path, ".jsonl"))
    return RM_IMPORT_REFS_JSONL;
  if (g_str_has_suffix (path, ".json"))
    return RM_IMPORT_COCO;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_MISSING, "%s does not exist", path);
  else
    g_set_error (
        error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_UNSUPPORTED,
        "cannot tell the format of %s: give a folder, a refs.jsonl or a COCO .json, or --format",
        path);
  return RM_IMPORT_AUTO;
}

gboolean
rm_import (RmProject *project, RmImportFormat format, const char *path,
           const RmImportOptions *options, RmImportReport *report, GError **error)
{
  RmImportOptions defaults;
  RmImportReport scratch = { 0 };
  Import im = { 0 };
  gboolean ok;

  if (options == NULL)
    {
      rm_import_options_init (&defaults);
      options = &defaults;
    }
  if (report == NULL)
    report = &scratch;
  memset (report, 0, sizeof *report);
  if (format == RM_IMPORT_AUTO && (format = rm_import_detect (path, error)) == RM_IMPORT_AUTO)
    return FALSE;
  im.p = project;
  im.opt = options;
  im.report = report;
  im.images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  im.categories = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  ok = rm_project_begin (project, error);
  if (ok)
    {
      switch (format)
        {
        case RM_IMPORT_IMAGES:
          ok = import_folder (&im, path, error);
          break;
        case RM_IMPORT_REFS_JSONL:
          {
            g_autofree char *file = g_file_test (path, G_FILE_TEST_IS_DIR)
                                        ? g_build_filename (path, "refs.jsonl", NULL)
                                        : g_strdup (path);
            ok = import_refs_jsonl (&im, file, error);
            break;
          }
        case RM_IMPORT_COCO:
          ok = import_coco (&im, path, options->images_dir, options->refs_path, error);
          break;
        case RM_IMPORT_REFSEGRS:
          ok = import_refsegrs (&im, path, error);
          break;
        case RM_IMPORT_RRSISD:
          ok = import_rrsisd (&im, path, options->images_dir, error);
          break;
        default:
          g_set_error (error, RM_IMPORT_ERROR, RM_IMPORT_ERROR_UNSUPPORTED,
                       "unknown import format");
          ok = FALSE;
        }
      /* All or nothing. */
      if (ok)
        ok = rm_project_commit (project, error);
      else
        rm_project_rollback (project);
    }
  if (!ok)
    {
      GPtrArray *w = g_steal_pointer (&report->warnings);
      memset (report, 0, sizeof *report);
      report->warnings = w;
    }
  g_hash_table_unref (im.images);
  g_hash_table_unref (im.categories);
  rm_import_report_clear (&scratch);
  return ok;
}
