/* SPDX-License-Identifier: GPL-3.0-or-later
 * Export (see rm-export.h). */
#include "rm-export.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "rm-image.h"
#include "rm-pickle.h"
#include "rm-polygon.h"

G_DEFINE_QUARK (rm - export - error - quark, rm_export_error)

#define MARKER ".refmask-export"

static const char *const format_names[] = { "png", "coco", "refs" };

typedef struct
{
  char *name; /* unique file name inside images/ */
  char *rel;  /* the image as seen from the export folder */
} ImageOut;

typedef struct
{
  RmProject *p;
  const RmExportOptions *opt;
  RmExportReport *report;
  char *out, *tmp;
  GHashTable *images;     /* gint64 id -> RmProjectImage */
  GHashTable *outs;       /* gint64 id -> ImageOut */
  GHashTable *used_names; /* names taken in images/ */
  GHashTable *categories; /* gint64 id -> RmCategory */
  GPtrArray *anns;        /* RmStoreAnnotation, with masks, by image then id */
  guint done;
} Export;

void
rm_export_options_init (RmExportOptions *o)
{
  memset (o, 0, sizeof *o);
}

void
rm_export_report_clear (RmExportReport *r)
{
  g_clear_pointer (&r->warnings, g_ptr_array_unref);
  memset (r, 0, sizeof *r);
}

const char *
rm_export_format_to_string (RmExportFormat f)
{
  return (guint) f < G_N_ELEMENTS (format_names) ? format_names[f] : NULL;
}

gboolean
rm_export_format_from_string (const char *name, RmExportFormat *f)
{
  int i = rm_format_index (format_names, G_N_ELEMENTS (format_names), name);
  if (i < 0)
    return FALSE;
  *f = (RmExportFormat) i;
  return TRUE;
}

#define warn(ex, ...) rm_warnings_add (&(ex)->report->warnings, __VA_ARGS__)

static gboolean
tick (Export *ex, GError **error)
{
  ex->done++;
  return rm_progress_step (ex->opt->progress, ex->opt->user_data, ex->done, ex->anns->len,
                           ex->opt->cancellable, error);
}

static void
image_out_free (gpointer p)
{
  ImageOut *o = p;
  g_free (o->name);
  g_free (o->rel);
  g_free (o);
}

/* ---- files ---- */

static gboolean
set_errno_error (GError **error, int e, const char *what, const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s %s: %s", what, path,
               g_strerror (e));
  return FALSE;
}

/* Writes `rel` inside the export being built. */
static gboolean
write_file (Export *ex, const char *rel, const char *data, gssize len, GError **error)
{
  g_autofree char *path = g_build_filename (ex->tmp, rel, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    return set_errno_error (error, errno, "cannot create", dir);
  ex->report->files++;
  return g_file_set_contents (path, data, len, error);
}

static gboolean
write_json (Export *ex, const char *rel, JsonNode *node, gboolean pretty, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;
  gsize len;
  json_generator_set_root (gen, node);
  json_generator_set_pretty (gen, pretty);
  text = json_generator_to_data (gen, &len);
  return write_file (ex, rel, text, (gssize) len, error);
}

static gboolean
link_or_copy (const char *src, const char *dst, GError **error)
{
  g_autoptr (GFile) from = NULL, to = NULL;
  if (link (src, dst) == 0)
    return TRUE;
  /* Another file system, or no hard links there: copy. */
  from = g_file_new_for_path (src);
  to = g_file_new_for_path (dst);
  return g_file_copy (from, to, G_FILE_COPY_NONE, NULL, NULL, NULL, error);
}

static gboolean
begin_export (Export *ex, const char *out_dir, GError **error)
{
  g_autofree char *parent = NULL, *base = NULL, *tmpl = NULL;

  ex->out = g_canonicalize_filename (out_dir, NULL);
  parent = g_path_get_dirname (ex->out);
  base = g_path_get_basename (ex->out);
  if (g_file_test (ex->out, G_FILE_TEST_EXISTS))
    {
      g_autofree char *mark = g_build_filename (ex->out, MARKER, NULL);
      if (!ex->opt->force)
        {
          g_set_error (
              error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EXISTS,
              "%s already exists; choose another folder, or --force to replace a previous export",
              ex->out);
          return FALSE;
        }
      if (!g_file_test (mark, G_FILE_TEST_EXISTS))
        {
          g_set_error (
              error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EXISTS,
              "%s exists and was not written by an export; it is left alone even with --force",
              ex->out);
          return FALSE;
        }
    }
  if (g_mkdir_with_parents (parent, 0755) != 0)
    return set_errno_error (error, errno, "cannot create", parent);
  tmpl = g_strdup_printf ("%s/.%s.tmp-XXXXXX", parent, base);
  if (g_mkdtemp_full (tmpl, 0755) == NULL) /* fills in tmpl and returns it */
    return set_errno_error (error, errno, "cannot create a folder in", parent);
  ex->tmp = g_steal_pointer (&tmpl);
  return write_file (ex, MARKER, "written by refmask project export\n", -1, error);
}

/* Moves the finished export into place, replacing a previous one only now. */
static gboolean
finish_export (Export *ex, GError **error)
{
  g_autofree char *old = NULL;
  if (g_file_test (ex->out, G_FILE_TEST_EXISTS))
    {
      g_autofree char *parent = g_path_get_dirname (ex->out), *base = g_path_get_basename (ex->out);
      old = g_strdup_printf ("%s/.%s.old-XXXXXX", parent, base);
      /* A fresh name (the empty folder is then replaced by the rename). */
      if (g_mkdtemp_full (old, 0755) == NULL || g_rename (ex->out, old) != 0)
        return set_errno_error (error, errno, "cannot move aside", ex->out);
    }
  if (g_rename (ex->tmp, ex->out) != 0)
    {
      int e = errno;
      if (old != NULL)
        g_rename (old, ex->out);
      return set_errno_error (error, e, "cannot create", ex->out);
    }
  g_clear_pointer (&ex->tmp, g_free);
  if (old != NULL)
    rm_remove_tree (old);
  return TRUE;
}

/* ---- data ---- */

static gboolean
load (Export *ex, GError **error)
{
  RmStoreAnnotationFilter filter = { .status_mask = ex->opt->status_mask != 0
                                                        ? ex->opt->status_mask
                                                        : 1u << RM_STATUS_ACCEPTED,
                                     .with_masks = TRUE };
  g_autoptr (GPtrArray) images = rm_project_list_images (ex->p, error);
  g_autoptr (GPtrArray) cats = NULL;
  g_autoptr (GPtrArray) anns = NULL;

  if (images == NULL || (cats = rm_project_list_categories (ex->p, error)) == NULL ||
      (anns = rm_project_list_annotations (ex->p, &filter, error)) == NULL)
    return FALSE;
  for (guint i = 0; i < images->len; i++)
    {
      RmProjectImage *im = images->pdata[i];
      g_hash_table_insert (ex->images, &im->id, im);
    }
  g_ptr_array_set_free_func (images, NULL); /* owned by the table now */
  for (guint i = 0; i < cats->len; i++)
    {
      RmCategory *c = cats->pdata[i];
      g_hash_table_insert (ex->categories, &c->id, c);
    }
  g_ptr_array_set_free_func (cats, NULL);
  if (anns->len == 0)
    {
      g_set_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_EMPTY,
                   "no annotation has the status asked for (accepted by default; see --status)");
      return FALSE;
    }
  ex->anns = g_steal_pointer (&anns);
  return TRUE;
}

static int
compare_by_image (gconstpointer a, gconstpointer b)
{
  const RmStoreAnnotation *x = *(RmStoreAnnotation *const *) a,
                          *y = *(RmStoreAnnotation *const *) b;
  if (x->image_id != y->image_id)
    return x->image_id < y->image_id ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static char *
stem_of (const char *name)
{
  const char *dot = strrchr (name, '.');
  return dot != NULL ? g_strndup (name, (gsize) (dot - name)) : g_strdup (name);
}

/* The image's name in the export, placing the file on first use. */
static const ImageOut *
image_out (Export *ex, const RmProjectImage *im, GError **error)
{
  ImageOut *o = g_hash_table_lookup (ex->outs, &im->id);
  g_autofree char *src = NULL, *name = NULL;

  if (o != NULL)
    return o;
  src = rm_project_image_path (ex->p, im);
  name = g_path_get_basename (im->path);
  if (g_hash_table_contains (ex->used_names, name))
    {
      /* Two images with one file name: keep both, told apart by their id. */
      const char *dot = strrchr (name, '.');
      g_autofree char *stem = stem_of (name);
      char *unique =
          g_strdup_printf ("%s_%" G_GINT64_FORMAT "%s", stem, im->id, dot != NULL ? dot : "");
      g_free (name);
      name = unique;
    }
  o = g_new0 (ImageOut, 1);
  if (ex->opt->no_images)
    {
      o->rel = rm_path_relative_to (ex->out, src);
      if (!g_file_test (src, G_FILE_TEST_EXISTS))
        warn (ex, "image %s is missing from %s", im->path, src);
    }
  else
    {
      g_autofree char *dir = g_build_filename (ex->tmp, "images", NULL);
      g_autofree char *dst = g_build_filename (dir, name, NULL);
      if (!g_file_test (src, G_FILE_TEST_IS_REGULAR))
        {
          image_out_free (o);
          g_set_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_MISSING,
                       "image %" G_GINT64_FORMAT
                       " has vanished: %s does not exist (use --no-images to "
                       "export without the image files)",
                       im->id, src);
          return NULL;
        }
      if (g_mkdir_with_parents (dir, 0755) != 0 || !link_or_copy (src, dst, error))
        {
          if (error != NULL && *error == NULL)
            set_errno_error (error, errno, "cannot create", dir);
          image_out_free (o);
          return NULL;
        }
      o->rel = g_strconcat ("images/", name, NULL);
      ex->report->files++;
    }
  g_hash_table_add (ex->used_names, g_strdup (name));
  o->name = g_steal_pointer (&name);
  g_hash_table_insert (ex->outs, g_memdup2 (&im->id, sizeof im->id), o);
  ex->report->images++;
  return o;
}

/* A name that is safe as a file name. */
static char *
safe_name (const char *s)
{
  char *out = g_strdup (s);
  for (char *c = out; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_' && *c != '.')
      *c = '_';
  if (out[0] == '.' || out[0] == '\0')
    {
      char *prefixed = g_strconcat ("_", out, NULL);
      g_free (out);
      out = prefixed;
    }
  return out;
}

/* ---- PNG ---- */

static guint32 crc_table[256];

static void
crc_init (void)
{
  for (guint32 n = 0; n < 256; n++)
    {
      guint32 c = n;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      crc_table[n] = c;
    }
}

static guint32
crc32_update (guint32 crc, const guint8 *buf, gsize len)
{
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      crc_init ();
      g_once_init_leave (&once, 1);
    }
  for (gsize i = 0; i < len; i++)
    crc = crc_table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

static void
put_be32 (GByteArray *out, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
  g_byte_array_append (out, b, 4);
}

static void
png_chunk (GByteArray *out, const char type[4], const guint8 *data, gsize len)
{
  guint32 crc;
  put_be32 (out, (guint32) len);
  g_byte_array_append (out, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (out, data, (guint) len);
  crc = crc32_update (0xffffffffu, (const guint8 *) type, 4);
  crc = crc32_update (crc, data, len);
  put_be32 (out, crc ^ 0xffffffffu);
}

gboolean
rm_export_write_png_indexed (const char *path, guint32 width, guint32 height, const guint8 *pixels,
                             const guint8 *palette_rgb, guint n_colors, GError **error)
{
  g_autoptr (GZlibCompressor) z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 6);
  g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) conv = g_converter_output_stream_new (mem, G_CONVERTER (z));
  g_autoptr (GByteArray) png = g_byte_array_new ();
  g_autoptr (GBytes) idat = NULL;
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  guint8 ihdr[13];
  guint8 filter = 0;

  g_return_val_if_fail (n_colors >= 1 && n_colors <= 256, FALSE);
  /* Each row: filter type 0 (none), then the indices. */
  for (guint32 y = 0; y < height; y++)
    if (!g_output_stream_write_all (conv, &filter, 1, NULL, NULL, error) ||
        !g_output_stream_write_all (conv, pixels + (gsize) y * width, width, NULL, NULL, error))
      return FALSE;
  if (!g_output_stream_close (conv, NULL, error))
    return FALSE;
  idat = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));

  g_byte_array_append (png, sig, 8);
  ihdr[0] = width >> 24, ihdr[1] = (width >> 16) & 0xff, ihdr[2] = (width >> 8) & 0xff,
  ihdr[3] = width & 0xff;
  ihdr[4] = height >> 24, ihdr[5] = (height >> 16) & 0xff, ihdr[6] = (height >> 8) & 0xff,
  ihdr[7] = height & 0xff;
  ihdr[8] = 8;  /* bit depth */
  ihdr[9] = 3;  /* palette */
  ihdr[10] = 0; /* deflate */
  ihdr[11] = 0; /* adaptive filtering */
  ihdr[12] = 0; /* no interlace */
  png_chunk (png, "IHDR", ihdr, 13);
  png_chunk (png, "PLTE", palette_rgb, (gsize) n_colors * 3);
  png_chunk (png, "IDAT", g_bytes_get_data (idat, NULL), g_bytes_get_size (idat));
  png_chunk (png, "IEND", NULL, 0);
  return g_file_set_contents (path, (const char *) png->data, png->len, error);
}

/* Distinct colours: hues spaced by the golden ratio; index 0 stays black. */
static void
make_palette (guint8 *rgb, guint n)
{
  memset (rgb, 0, 3);
  for (guint k = 1; k < n; k++)
    {
      double h = fmod (k * 0.618033988749895, 1.0) * 6, s = 0.7, v = 0.95;
      int i = (int) h;
      double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
      double r[6] = { v, q, p, p, t, v }, g[6] = { t, v, v, q, p, p }, b[6] = { p, p, t, v, v, q };
      rgb[3 * k + 0] = (guint8) lround (r[i % 6] * 255);
      rgb[3 * k + 1] = (guint8) lround (g[i % 6] * 255);
      rgb[3 * k + 2] = (guint8) lround (b[i % 6] * 255);
    }
}

static gboolean
save_mask_png (Export *ex, const char *rel, const RmRle *mask, guint8 *buf, GError **error)
{
  g_autofree char *path = g_build_filename (ex->tmp, rel, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  RmImage img = { (int) mask->w, (int) mask->h, 1, buf }; /* borrows buf */
  if (g_mkdir_with_parents (dir, 0755) != 0)
    return set_errno_error (error, errno, "cannot create", dir);
  rm_rle_decode (mask, buf, mask->w, 255);
  ex->report->files++;
  return rm_image_save_png (&img, path, error);
}

static const char *
category_name (Export *ex, gint64 id)
{
  RmCategory *c = id > 0 ? g_hash_table_lookup (ex->categories, &id) : NULL;
  return c != NULL ? c->name : NULL;
}

static gboolean
export_png (Export *ex, GError **error)
{
  g_autoptr (JsonBuilder) manifest = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  guint8 palette[256 * 3];

  make_palette (palette, 256);
  json_builder_begin_array (manifest);
  for (guint i = 0; i < ex->anns->len;)
    {
      RmStoreAnnotation *first = ex->anns->pdata[i];
      RmProjectImage *im = g_hash_table_lookup (ex->images, &first->image_id);
      const ImageOut *o = image_out (ex, im, error);
      gsize npx = (gsize) im->width * im->height;
      g_autofree guint8 *idx = NULL, *buf = NULL;
      g_autofree char *stem = NULL, *index_rel = NULL;
      guint k = 0;

      if (o == NULL)
        return FALSE;
      idx = g_malloc0 (npx);
      buf = g_malloc (npx);
      stem = stem_of (o->name);
      index_rel = g_strdup_printf ("index/%s.png", stem);
      for (; i < ex->anns->len && ((RmStoreAnnotation *) ex->anns->pdata[i])->image_id == im->id;
           i++)
        {
          RmStoreAnnotation *a = ex->anns->pdata[i];
          g_autofree char *rel =
              g_strdup_printf ("masks/%s__%" G_GINT64_FORMAT ".png", stem, a->id);
          if (!save_mask_png (ex, rel, a->mask, buf, error))
            return FALSE;
          if (++k <= 255)
            for (gsize p = 0; p < npx; p++)
              if (buf[p])
                idx[p] = (guint8) k;
          json_builder_begin_object (manifest);
          json_builder_set_member_name (manifest, "annotation_id");
          json_builder_add_int_value (manifest, a->id);
          json_builder_set_member_name (manifest, "image");
          json_builder_add_string_value (manifest, o->rel);
          json_builder_set_member_name (manifest, "expression");
          json_builder_add_string_value (manifest, a->expression);
          json_builder_set_member_name (manifest, "category");
          if (category_name (ex, a->category_id) != NULL)
            json_builder_add_string_value (manifest, category_name (ex, a->category_id));
          else
            json_builder_add_null_value (manifest);
          json_builder_set_member_name (manifest, "status");
          json_builder_add_string_value (manifest, rm_store_status_to_string (a->status));
          json_builder_set_member_name (manifest, "mask");
          json_builder_add_string_value (manifest, rel);
          json_builder_set_member_name (manifest, "index_mask");
          json_builder_add_string_value (manifest, index_rel);
          json_builder_set_member_name (manifest, "index_value");
          json_builder_add_int_value (manifest, k <= 255 ? k : 0);
          json_builder_end_object (manifest);
          if (!tick (ex, error))
            return FALSE;
        }
      if (k > 255)
        warn (ex, "image %s has %u annotations; its index mask holds the first 255", im->path, k);
      {
        g_autofree char *path = g_build_filename (ex->tmp, index_rel, NULL);
        g_autofree char *dir = g_path_get_dirname (path);
        if (g_mkdir_with_parents (dir, 0755) != 0)
          return set_errno_error (error, errno, "cannot create", dir);
        if (!rm_export_write_png_indexed (path, im->width, im->height, idx, palette,
                                          MIN (k, 255) + 1, error))
          return FALSE;
        ex->report->files++;
      }
    }
  json_builder_end_array (manifest);
  root = json_builder_get_root (manifest);
  return write_json (ex, "masks.json", root, TRUE, error);
}

/* ---- COCO ---- */

typedef struct
{
  RmStoreAnnotation *first;
  GPtrArray *members; /* RmStoreAnnotation, not owned */
  char *rle;
} Group;

static void
group_free (gpointer p)
{
  Group *g = p;
  g_ptr_array_unref (g->members);
  g_free (g->rle);
  g_free (g);
}

static void
add_rle (JsonBuilder *b, const RmRle *mask, const char *counts)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "size");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, mask->h);
  json_builder_add_int_value (b, mask->w);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "counts");
  json_builder_add_string_value (b, counts);
  json_builder_end_object (b);
}

static void
add_segmentation (Export *ex, JsonBuilder *b, const Group *g)
{
  const RmRle *mask = g->first->mask;
  g_autoptr (RmContours) cs = NULL;

  if (!ex->opt->polygons)
    {
      add_rle (b, mask, g->rle);
      return;
    }
  cs = rm_polygon_extract_rle (mask, ex->opt->simplify);
  if (cs->n == 0 || cs->n_holes > 0)
    {
      warn (ex, "annotation %" G_GINT64_FORMAT " %s; written as RLE", g->first->id,
            cs->n == 0 ? "is empty" : "has holes, which COCO polygons cannot express");
      add_rle (b, mask, g->rle);
      return;
    }
  json_builder_begin_array (b);
  for (gsize i = 0; i < cs->n; i++)
    {
      json_builder_begin_array (b);
      for (gsize k = 0; k < cs->contours[i].n * 2; k++)
        {
          double v = cs->contours[i].xy[k];
          if (v == floor (v))
            json_builder_add_int_value (b, (gint64) v);
          else
            json_builder_add_double_value (b, v);
        }
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

static void
add_tokens (JsonBuilder *b, const char *expression, char **sent)
{
  g_autofree char *lower = g_utf8_strdown (expression, -1);
  g_auto (GStrv) words = g_strsplit_set (lower, " \t\r\n", -1);
  g_autoptr (GString) joined = g_string_new (NULL);
  json_builder_begin_array (b);
  for (guint i = 0; words[i] != NULL; i++)
    if (words[i][0] != '\0')
      {
        json_builder_add_string_value (b, words[i]);
        g_string_append_printf (joined, "%s%s", joined->len > 0 ? " " : "", words[i]);
      }
  json_builder_end_array (b);
  *sent = g_string_free (g_steal_pointer (&joined), FALSE);
}

static int
compare_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gboolean
export_coco (Export *ex, GError **error)
{
  g_autoptr (JsonBuilder) inst = json_builder_new (), refs = json_builder_new ();
  g_autoptr (GHashTable) by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (group_free);
  g_autoptr (JsonNode) inst_root = NULL, refs_root = NULL;
  g_autoptr (GBytes) pickled = NULL;
  GHashTableIter it;
  gpointer key, val;
  gint64 fallback_cat = 0, max_cat = 0;
  gboolean need_fallback = FALSE;

  /* One COCO annotation per distinct (image, category, mask). */
  for (guint i = 0; i < ex->anns->len; i++)
    {
      RmStoreAnnotation *a = ex->anns->pdata[i];
      g_autofree char *rle = rm_rle_to_string (a->mask);
      g_autofree char *k = g_strdup_printf ("%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|%s",
                                            a->image_id, a->category_id, rle);
      Group *g = g_hash_table_lookup (by_key, k);
      if (g == NULL)
        {
          g = g_new0 (Group, 1);
          g->first = a;
          g->members = g_ptr_array_new ();
          g->rle = g_steal_pointer (&rle);
          g_ptr_array_add (groups, g);
          g_hash_table_insert (by_key, g_strdup (k), g);
        }
      g_ptr_array_add (g->members, a);
      need_fallback |= a->category_id == 0;
    }

  json_builder_begin_object (inst);
  json_builder_set_member_name (inst, "info");
  json_builder_begin_object (inst);
  json_builder_set_member_name (inst, "description");
  json_builder_add_string_value (inst, "exported by refmask project export");
  json_builder_end_object (inst);

  json_builder_set_member_name (inst, "images");
  json_builder_begin_array (inst);
  for (guint i = 0; i < ex->anns->len; i++)
    {
      RmStoreAnnotation *a = ex->anns->pdata[i];
      RmProjectImage *im;
      const ImageOut *o;
      if (i > 0 && ((RmStoreAnnotation *) ex->anns->pdata[i - 1])->image_id == a->image_id)
        continue;
      im = g_hash_table_lookup (ex->images, &a->image_id);
      if ((o = image_out (ex, im, error)) == NULL)
        return FALSE;
      json_builder_begin_object (inst);
      json_builder_set_member_name (inst, "id");
      json_builder_add_int_value (inst, im->id);
      json_builder_set_member_name (inst, "file_name");
      json_builder_add_string_value (inst, ex->opt->no_images ? o->rel : o->name);
      json_builder_set_member_name (inst, "width");
      json_builder_add_int_value (inst, im->width);
      json_builder_set_member_name (inst, "height");
      json_builder_add_int_value (inst, im->height);
      json_builder_end_object (inst);
    }
  json_builder_end_array (inst);

  json_builder_set_member_name (inst, "categories");
  json_builder_begin_array (inst);
  {
    g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    g_hash_table_iter_init (&it, ex->categories);
    while (g_hash_table_iter_next (&it, &key, &val))
      {
        RmCategory *c = val;
        max_cat = MAX (max_cat, c->id);
        if (g_strcmp0 (c->name, "object") == 0)
          fallback_cat = c->id;
        g_array_append_val (ids, c->id);
      }
    if (need_fallback && fallback_cat == 0)
      {
        fallback_cat = max_cat + 1; /* COCO wants a category on every annotation */
        g_array_append_val (ids, fallback_cat);
      }
    g_array_sort (ids, compare_i64);
    for (guint i = 0; i < ids->len; i++)
      {
        gint64 id = g_array_index (ids, gint64, i);
        RmCategory *c = g_hash_table_lookup (ex->categories, &id);
        json_builder_begin_object (inst);
        json_builder_set_member_name (inst, "id");
        json_builder_add_int_value (inst, id);
        json_builder_set_member_name (inst, "name");
        json_builder_add_string_value (inst, c != NULL ? c->name : "object");
        json_builder_set_member_name (inst, "supercategory");
        json_builder_add_string_value (
            inst, c != NULL && c->supercategory != NULL ? c->supercategory : "");
        json_builder_end_object (inst);
      }
  }
  json_builder_end_array (inst);

  json_builder_set_member_name (inst, "annotations");
  json_builder_begin_array (inst);
  json_builder_begin_array (refs);
  for (guint i = 0; i < groups->len; i++)
    {
      Group *g = groups->pdata[i];
      RmStoreAnnotation *a = g->first;
      gint64 cat = a->category_id > 0 ? a->category_id : fallback_cat;
      const ImageOut *o = g_hash_table_lookup (ex->outs, &a->image_id);
      const char *split = NULL;
      double bb[4];

      rm_rle_to_bbox (a->mask, bb);
      json_builder_begin_object (inst);
      json_builder_set_member_name (inst, "id");
      json_builder_add_int_value (inst, a->id); /* project ids start at 1 */
      json_builder_set_member_name (inst, "image_id");
      json_builder_add_int_value (inst, a->image_id);
      json_builder_set_member_name (inst, "category_id");
      json_builder_add_int_value (inst, cat);
      json_builder_set_member_name (inst, "segmentation");
      add_segmentation (ex, inst, g);
      json_builder_set_member_name (inst, "area");
      json_builder_add_int_value (inst, (gint64) rm_rle_area (a->mask));
      json_builder_set_member_name (inst, "bbox");
      json_builder_begin_array (inst);
      for (int k = 0; k < 4; k++)
        json_builder_add_double_value (inst, bb[k]);
      json_builder_end_array (inst);
      json_builder_set_member_name (inst, "iscrowd");
      json_builder_add_int_value (inst, 0);
      json_builder_end_object (inst);

      /* The refer-style record: one ref per COCO annotation, one sentence per expression. */
      json_builder_begin_object (refs);
      json_builder_set_member_name (refs, "ref_id");
      json_builder_add_int_value (refs, a->id);
      json_builder_set_member_name (refs, "ann_id");
      json_builder_add_int_value (refs, a->id);
      json_builder_set_member_name (refs, "image_id");
      json_builder_add_int_value (refs, a->image_id);
      json_builder_set_member_name (refs, "category_id");
      json_builder_add_int_value (refs, cat);
      json_builder_set_member_name (refs, "file_name");
      json_builder_add_string_value (refs, ex->opt->no_images ? o->rel : o->name);
      json_builder_set_member_name (refs, "sentences");
      json_builder_begin_array (refs);
      for (guint m = 0; m < g->members->len; m++)
        {
          RmStoreAnnotation *s = g->members->pdata[m];
          g_autofree char *sent = NULL;
          if (split == NULL)
            split = s->split;
          json_builder_begin_object (refs);
          json_builder_set_member_name (refs, "tokens");
          add_tokens (refs, s->expression, &sent);
          json_builder_set_member_name (refs, "raw");
          json_builder_add_string_value (refs, s->expression);
          json_builder_set_member_name (refs, "sent");
          json_builder_add_string_value (refs, sent);
          json_builder_set_member_name (refs, "sent_id");
          json_builder_add_int_value (refs, s->id);
          json_builder_end_object (refs);
        }
      json_builder_end_array (refs);
      json_builder_set_member_name (refs, "sent_ids");
      json_builder_begin_array (refs);
      for (guint m = 0; m < g->members->len; m++)
        json_builder_add_int_value (refs, ((RmStoreAnnotation *) g->members->pdata[m])->id);
      json_builder_end_array (refs);
      json_builder_set_member_name (refs, "split");
      json_builder_add_string_value (refs, split != NULL ? split : "train");
      json_builder_end_object (refs);
      for (guint m = 0; m < g->members->len; m++)
        if (!tick (ex, error))
          return FALSE;
    }
  json_builder_end_array (refs);
  json_builder_end_array (inst);
  json_builder_end_object (inst);

  inst_root = json_builder_get_root (inst);
  refs_root = json_builder_get_root (refs);
  pickled = rm_pickle_dump_json (refs_root, error);
  return pickled != NULL && write_json (ex, "instances.json", inst_root, FALSE, error) &&
         write_json (ex, "refs.json", refs_root, FALSE, error) &&
         write_file (ex, "refs(unc).p", g_bytes_get_data (pickled, NULL),
                     (gssize) g_bytes_get_size (pickled), error);
}

/* ---- refs.jsonl ---- */

static gboolean
export_refs_jsonl (Export *ex, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree guint8 *buf = NULL;
  gsize cap = 0;

  for (guint i = 0; i < ex->anns->len; i++)
    {
      RmStoreAnnotation *a = ex->anns->pdata[i];
      RmProjectImage *im = g_hash_table_lookup (ex->images, &a->image_id);
      const ImageOut *o = image_out (ex, im, error);
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) row = NULL;
      g_autofree char *id = NULL, *file = NULL, *rel = NULL, *line = NULL;
      const char *cls = category_name (ex, a->category_id);
      double bb[4];

      if (o == NULL)
        return FALSE;
      /* The dataset's own id when it is unique here, else one made from ours. */
      id = a->external_id != NULL && !g_hash_table_contains (ids, a->external_id)
               ? g_strdup (a->external_id)
               : g_strdup_printf ("a%" G_GINT64_FORMAT, a->id);
      g_hash_table_add (ids, g_strdup (id));
      file = safe_name (id);
      if (g_hash_table_contains (files, file))
        {
          g_free (file);
          file = g_strdup_printf ("a%" G_GINT64_FORMAT, a->id);
        }
      g_hash_table_add (files, g_strdup (file));
      rel = g_strdup_printf ("refs/masks/%s.png", file);
      if ((gsize) im->width * im->height > cap)
        {
          cap = (gsize) im->width * im->height;
          buf = g_realloc (buf, cap);
        }
      if (!save_mask_png (ex, rel, a->mask, buf, error))
        return FALSE;
      rm_rle_to_bbox (a->mask, bb);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, id);
      json_builder_set_member_name (b, "image");
      json_builder_add_string_value (b, o->rel);
      json_builder_set_member_name (b, "mask");
      json_builder_add_string_value (b, rel);
      json_builder_set_member_name (b, "expression");
      json_builder_add_string_value (b, a->expression);
      json_builder_set_member_name (b, "class");
      if (cls != NULL)
        json_builder_add_string_value (b, cls);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, rm_store_source_to_string (a->source));
      json_builder_set_member_name (b, "split");
      json_builder_add_string_value (b, a->split != NULL ? a->split : "train");
      json_builder_set_member_name (b, "height");
      json_builder_add_int_value (b, im->height);
      json_builder_set_member_name (b, "width");
      json_builder_add_int_value (b, im->width);
      json_builder_set_member_name (b, "bbox_xywh");
      json_builder_begin_array (b);
      for (int k = 0; k < 4; k++)
        json_builder_add_int_value (b, (gint64) bb[k]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "area_frac");
      json_builder_add_double_value (
          b,
          round ((double) rm_rle_area (a->mask) / ((double) im->width * im->height) * 1e6) / 1e6);
      json_builder_end_object (b);
      row = json_builder_get_root (b);
      json_generator_set_root (gen, row);
      line = json_generator_to_data (gen, NULL);
      g_string_append (out, line);
      g_string_append_c (out, '\n');
      if (!tick (ex, error))
        return FALSE;
    }
  return write_file (ex, "refs.jsonl", out->str, (gssize) out->len, error);
}

gboolean
rm_export (RmProject *project, RmExportFormat format, const char *out_dir,
           const RmExportOptions *options, RmExportReport *report, GError **error)
{
  RmExportOptions defaults;
  RmExportReport scratch = { 0 };
  Export ex = { 0 };
  gboolean ok;

  if (options == NULL)
    {
      rm_export_options_init (&defaults);
      options = &defaults;
    }
  if (report == NULL)
    report = &scratch;
  memset (report, 0, sizeof *report);
  ex.p = project;
  ex.opt = options;
  ex.report = report;
  ex.images = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                     (GDestroyNotify) rm_project_image_free);
  ex.outs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, image_out_free);
  ex.used_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ex.categories =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) rm_category_free);

  ok = load (&ex, error) && begin_export (&ex, out_dir, error);
  if (ok)
    {
      g_ptr_array_sort (ex.anns, compare_by_image);
      switch (format)
        {
        case RM_EXPORT_PNG:
          ok = export_png (&ex, error);
          break;
        case RM_EXPORT_COCO:
          ok = export_coco (&ex, error);
          break;
        case RM_EXPORT_REFS_JSONL:
          ok = export_refs_jsonl (&ex, error);
          break;
        default:
          g_set_error (error, RM_EXPORT_ERROR, RM_EXPORT_ERROR_FAILED, "unknown export format");
          ok = FALSE;
        }
      report->annotations = ok ? ex.anns->len : 0;
      ok = ok && finish_export (&ex, error);
    }
  if (ex.tmp != NULL)
    rm_remove_tree (ex.tmp); /* a failed export leaves nothing behind */
  g_free (ex.tmp);
  g_free (ex.out);
  g_hash_table_unref (ex.images);
  g_hash_table_unref (ex.outs);
  g_hash_table_unref (ex.used_names);
  g_hash_table_unref (ex.categories);
  g_clear_pointer (&ex.anns, g_ptr_array_unref);
  rm_export_report_clear (&scratch);
  return ok;
}
