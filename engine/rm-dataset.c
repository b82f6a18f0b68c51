/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-dataset.h"
#include "rm-error.h"

#include <json-glib/json-glib.h>

static void
sample_free (gpointer p)
{
  RmSample *s = p;
  g_free (s->id);
  g_free (s->image_path);
  g_free (s->mask_path);
  g_free (s->expression);
  g_free (s->split);
  g_free (s);
}

void
rm_dataset_free (RmDataset *ds)
{
  if (ds == NULL)
    return;
  g_ptr_array_unref (ds->samples);
  g_free (ds);
}

static const char *
string_member (JsonObject *o, const char *name)
{
  if (!json_object_has_member (o, name))
    return NULL;
  JsonNode *n = json_object_get_member (o, name);
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

RmDataset *
rm_dataset_load_refs (const char *path, const char *split, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  g_autofree char *base = g_path_get_dirname (path);
  RmDataset *ds = g_new0 (RmDataset, 1);
  ds->samples = g_ptr_array_new_with_free_func (sample_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  int lineno = 0;
  for (char **l = lines; *l; l++)
    {
      lineno++;
      if (g_strstrip (*l)[0] == '\0')
        continue;
      g_autoptr (GError) local = NULL;
      if (!json_parser_load_from_data (parser, *l, -1, &local) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT, "%s:%d: %s", path, lineno,
                       local ? local->message : "not a JSON object");
          rm_dataset_free (ds);
          return NULL;
        }
      JsonObject *o = json_node_get_object (json_parser_get_root (parser));
      const char *image = string_member (o, "image"), *mask = string_member (o, "mask");
      const char *expr = string_member (o, "expression"), *sp = string_member (o, "split");
      if (image == NULL || mask == NULL || expr == NULL)
        {
          g_set_error (error, RM_ERROR, RM_ERROR_FORMAT,
                       "%s:%d: \"image\", \"mask\" and \"expression\" strings are required", path,
                       lineno);
          rm_dataset_free (ds);
          return NULL;
        }
      if (split != NULL && (sp == NULL || g_strcmp0 (sp, split) != 0))
        continue;
      RmSample *s = g_new0 (RmSample, 1);
      const char *id = string_member (o, "id");
      s->id = id ? g_strdup (id) : g_strdup_printf ("line%d", lineno);
      s->image_path =
          g_path_is_absolute (image) ? g_strdup (image) : g_build_filename (base, image, NULL);
      s->mask_path =
          g_path_is_absolute (mask) ? g_strdup (mask) : g_build_filename (base, mask, NULL);
      s->expression = g_strdup (expr);
      s->split = g_strdup (sp);
      g_ptr_array_add (ds->samples, s);
    }
  return ds;
}

uint8_t *
rm_sample_load_mask (const RmSample *s, int *width, int *height, GError **error)
{
  g_autoptr (RmImage) img = rm_image_load (s->mask_path, NULL, error);
  if (img == NULL)
    return NULL;
  size_t n = (size_t) img->width * img->height;
  /* Masks come as 0/255 (refs.jsonl) or 0/1: threshold at half of the stored range. */
  uint8_t max = 0;
  for (size_t i = 0; i < n; i++)
    max = MAX (max, img->pixels[i * img->channels]);
  uint8_t threshold = max <= 1 ? 1 : 128;
  uint8_t *out = g_new (uint8_t, n);
  for (size_t i = 0; i < n; i++)
    out[i] = img->pixels[i * img->channels] >= threshold;
  *width = img->width;
  *height = img->height;
  return out;
}
