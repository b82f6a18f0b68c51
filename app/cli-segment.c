/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask segment: masks and priors for referring expressions on one image.
 */
#include "cli.h"
#include "cli-common.h"
#include "refmask-engine.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static gboolean
write_outputs (const RmSegmentResult *r, const char *out_dir, const char *stem, int index,
               char **mask_path, char **prior_path, GError **error)
{
  g_autoptr (RmImage) mask = rm_image_new (r->width, r->height, 1);
  for (size_t i = 0; i < (size_t) r->width * r->height; i++)
    mask->pixels[i] = r->mask[i] ? 255 : 0;
  g_autofree char *mask_name = g_strdup_printf ("%s-%d-mask.png", stem, index);
  g_autofree char *prior_name = g_strdup_printf ("%s-%d-prior.png", stem, index);
  *mask_path = g_build_filename (out_dir, mask_name, NULL);
  *prior_path = g_build_filename (out_dir, prior_name, NULL);
  if (!rm_image_save_png (mask, *mask_path, error))
    return FALSE;
  return rm_image_save_heatmap_png (r->prior_image, r->width, r->height, *prior_path, error);
}

static void
add_result_json (JsonBuilder *b, const char *text, const RmSegmentResult *r, const char *mask_path,
                 const char *prior_path)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, text);
  json_builder_set_member_name (b, "tokens");
  json_builder_add_int_value (b, r->n_tokens);
  json_builder_set_member_name (b, "area");
  json_builder_add_int_value (b, r->area);
  json_builder_set_member_name (b, "area_fraction");
  json_builder_add_double_value (b, (double) r->area / ((double) r->width * r->height));
  json_builder_set_member_name (b, "bbox_xywh");
  json_builder_begin_array (b);
  for (int i = 0; i < 4; i++)
    json_builder_add_int_value (b, r->bbox[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "mask");
  json_builder_add_string_value (b, mask_path);
  json_builder_set_member_name (b, "prior");
  json_builder_add_string_value (b, prior_path);
  json_builder_set_member_name (b, "timings_ms");
  json_builder_begin_object (b);
  const struct
  {
    const char *name;
    double v;
  } t[] = {
    { "tokenize", r->ms_tokenize }, { "preprocess", r->ms_preprocess },
    { "beit3", r->ms_beit },        { "hiera", r->ms_hiera },
    { "decoder", r->ms_heads },     { "postprocess", r->ms_postprocess },
    { "total", r->ms_total },
  };
  for (size_t i = 0; i < G_N_ELEMENTS (t); i++)
    {
      json_builder_set_member_name (b, t[i].name);
      json_builder_add_double_value (b, t[i].v);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "peak_arena_bytes");
  json_builder_add_int_value (b, (gint64) r->peak_bytes);
  json_builder_end_object (b);
}

int
rm_cli_segment (int argc, char **argv)
{
  g_autofree char *model_dir = NULL, *image_path = NULL, *out_dir = NULL, *device_name = NULL;
  g_auto (GStrv) texts = NULL;
  gboolean as_json = FALSE;
  int threads = 0;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_dir, "Model directory", "DIR" },
    { "image", 'i', 0, G_OPTION_ARG_FILENAME, &image_path, "Image (JPEG, PNG, BMP, TGA)", "FILE" },
    { "text", 't', 0, G_OPTION_ARG_STRING_ARRAY, &texts, "Referring expression (repeatable)",
      "TEXT" },
    { "out-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir, "Where the PNGs go (default: .)", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "Print area, bbox and timings as JSON", NULL },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Threads (default: online cores)", "N" },
    { "device", 0, 0, G_OPTION_ARG_STRING, &device_name, RM_CLI_DEVICE_HELP, "auto|cpu|cuda" },
    { NULL },
  };
  g_autoptr (GOptionContext) octx =
      g_option_context_new ("— segment an image with referring expressions");
  g_option_context_set_summary (
      octx, "Writes one mask PNG (0/255, image size) and one prior heatmap PNG per expression.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      fprintf (stderr, "refmask segment: %s\n", error->message);
      return 2;
    }
  if (model_dir == NULL || image_path == NULL || texts == NULL || argc != 1)
    {
      fprintf (stderr, "refmask segment: --model, --image and at least one --text are required\n");
      return 2;
    }
  RmDeviceChoice device;
  if (!rm_cli_device_from_option ("segment", device_name, &device))
    return 2;
  if (out_dir == NULL)
    out_dir = g_strdup (".");
  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    {
      fprintf (stderr, "refmask segment: cannot create %s\n", out_dir);
      return 1;
    }

  g_autoptr (RmModel) model = rm_model_load (model_dir, NULL, &error);
  g_autoptr (RmImage) image = model ? rm_image_load (image_path, NULL, &error) : NULL;
  if (image == NULL)
    {
      fprintf (stderr, "refmask segment: %s\n", error->message);
      return 1;
    }
  g_autoptr (RmSession) session = rm_cli_session_new ("segment", model, device, threads);
  if (session == NULL)
    return 1;
  int n = (int) g_strv_length (texts);
  RmSegmentParams params = rm_segment_default_params ();
  RmSegmentResult **results =
      rm_session_segment (session, image, (const char *const *) texts, n, &params, &error);
  if (results == NULL)
    {
      fprintf (stderr, "refmask segment: %s\n", error->message);
      return 1;
    }
  g_autofree char *base = g_path_get_basename (image_path);
  char *dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, image_path);
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, rm_session_get_device_name (session));
  json_builder_set_member_name (b, "results");
  json_builder_begin_array (b);
  int status = 0;
  for (int i = 0; i < n; i++)
    {
      g_autofree char *mask_path = NULL, *prior_path = NULL;
      if (!write_outputs (results[i], out_dir, base, i, &mask_path, &prior_path, &error))
        {
          fprintf (stderr, "refmask segment: %s\n", error->message);
          status = 1;
          break;
        }
      add_result_json (b, texts[i], results[i], mask_path, prior_path);
      if (!as_json)
        printf ("%s: area %" G_GINT64_FORMAT " px, bbox [%d, %d, %d, %d], %.0f ms -> %s\n",
                texts[i], results[i]->area, results[i]->bbox[0], results[i]->bbox[1],
                results[i]->bbox[2], results[i]->bbox[3], results[i]->ms_total, mask_path);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  if (as_json && status == 0)
    {
      rm_cli_print_json (b);
    }
  rm_segment_results_free (results, n);
  return status;
}
