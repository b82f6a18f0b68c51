/* SPDX-License-Identifier: GPL-3.0-or-later
 * refmask project: create, import into, list, summarise and export project files. */
#include "cli-project.h"

#include "cli-common.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rm-export.h"
#include "rm-import.h"
#include "rm-project.h"

enum
{
  EXIT_OK = 0,
  EXIT_FAILED = 1,
  EXIT_USAGE = 2
};

static const char usage_text[] =
    "Usage: refmask project COMMAND [OPTIONS…]\n"
    "\n"
    "Commands:\n"
    "  create FILE            create an empty project file (never replaces a file)\n"
    "  import FILE SOURCE     import a folder of images or a dataset, all or nothing\n"
    "  list FILE [WHAT]       list annotations (default), images, categories, models or runs\n"
    "  stats FILE             count images and annotations by status and source\n"
    "  export FILE OUTDIR     write PNG masks, COCO JSON or refs.jsonl into a new folder\n"
    "\n"
    "Run 'refmask project COMMAND --help' for the options of a command.\n"
    "Exit status: 0 success, 1 failure (the message says why), 2 usage error.\n";

typedef struct
{
  GCancellable *cancel;
  gboolean show;
  const char *verb;
} Progress;

/* Progress on stderr (a terminal only), and Ctrl-C turned into a clean cancel. */
static void
progress_cb (guint done, guint total, gpointer data)
{
  Progress *p = data;
  if (rm_cli_interrupted (NULL))
    g_cancellable_cancel (p->cancel);
  if (p->show && (done % 16 == 0 || done == total))
    fprintf (stderr, "\r%s %u/%u", p->verb, done, total);
}

static void
progress_start (Progress *p, const char *verb, gboolean quiet)
{
  p->cancel = g_cancellable_new ();
  p->show = !quiet && isatty (STDERR_FILENO);
  p->verb = verb;
  rm_cli_catch_interrupts ();
}

static void
progress_end (Progress *p)
{
  if (p->show)
    fprintf (stderr, "\r\033[K");
  g_clear_object (&p->cancel);
}

static void
print_warnings (GPtrArray *warnings)
{
  for (guint i = 0; warnings != NULL && i < warnings->len; i++)
    fprintf (stderr, "warning: %s\n", (char *) warnings->pdata[i]);
}

static int
fail (const char *cmd, GError *error)
{
  fprintf (stderr, "refmask project %s: %s\n", cmd, error->message);
  return EXIT_FAILED;
}

/* Parses options; on --help prints and sets *code to 0. Returns FALSE when done. */
static gboolean
parse (const char *cmd, const char *params, const char *summary, GOptionEntry *entries, int *argc,
       char ***argv, guint min_args, guint max_args, int *code)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_autoptr (GError) error = NULL;
  g_autofree char *prg = g_strdup_printf ("refmask project %s", cmd);

  g_set_prgname (prg);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      fprintf (stderr, "refmask project %s: %s\n(see --help)\n", cmd, error->message);
      *code = EXIT_USAGE;
      return FALSE;
    }
  if ((guint) *argc - 1 < min_args || (guint) *argc - 1 > max_args)
    {
      g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
      fprintf (stderr, "%s", help);
      *code = EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_status_list (const char *text, guint *mask)
{
  g_auto (GStrv) parts = NULL;
  *mask = 0;
  if (text == NULL)
    return TRUE;
  if (strcmp (text, "all") == 0)
    {
      *mask = (1u << RM_STATUS_CANDIDATE) | (1u << RM_STATUS_ACCEPTED) | (1u << RM_STATUS_REJECTED);
      return TRUE;
    }
  parts = g_strsplit (text, ",", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      RmStoreStatus s;
      if (!rm_store_status_from_string (g_strstrip (parts[i]), &s))
        return FALSE;
      *mask |= 1u << s;
    }
  return TRUE;
}

/* ---- create ---- */

static int
cmd_create (int argc, char **argv)
{
  GOptionEntry entries[] = { { NULL } };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  int code = EXIT_OK;

  if (!parse ("create", "FILE",
              "Create an empty project file (an SQLite database, e.g. my.refmask).", entries, &argc,
              &argv, 1, 1, &code))
    return code;
  p = rm_project_create (argv[1], &error);
  if (p == NULL)
    return fail ("create", error);
  printf ("created %s (project schema %u)\n", rm_project_get_path (p),
          rm_project_get_schema_version (p));
  return EXIT_OK;
}

/* ---- import ---- */

static int
cmd_import (int argc, char **argv)
{
  g_autofree char *format = NULL, *images = NULL, *refs = NULL, *status = NULL;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "auto (default), images, refs (refs.jsonl), coco, refsegrs or rrsisd", "FORMAT" },
    { "images", 0, 0, G_OPTION_ARG_FILENAME, &images,
      "coco / rrsisd: the folder with the image files", "DIR" },
    { "refs", 0, 0, G_OPTION_ARG_FILENAME, &refs,
      "coco: referring expressions, refer-style (refs.json or refs(unc).p)", "FILE" },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status,
      "status of the imported annotations: accepted (default), candidate or rejected", "STATUS" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress and no summary", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  RmImportFormat fmt = RM_IMPORT_AUTO;
  RmImportOptions opt;
  RmImportReport rep = { 0 };
  Progress prog;
  int code = EXIT_OK;
  gboolean ok;

  if (!parse ("import", "FILE SOURCE",
              "Import into a project, in one transaction: a bad file imports nothing.\n\n"
              "SOURCE is a folder of images (searched recursively; JPEG, PNG, BMP, TGA, TIFF), a\n"
              "refs.jsonl (or a folder holding one), a COCO instances .json, a RefSegRS folder\n"
              "(images/, masks/, output_phrase_*.txt) or an RRSIS-D folder (instances.json +\n"
              "refs(unc).p). Images already in the project (same SHA-256) are not added twice.",
              entries, &argc, &argv, 2, 2, &code))
    return code;
  rm_import_options_init (&opt);
  if (format != NULL && !rm_import_format_from_string (format, &fmt))
    {
      fprintf (stderr, "refmask project import: unknown format '%s'\n", format);
      return EXIT_USAGE;
    }
  if (status != NULL && !rm_store_status_from_string (status, &opt.status))
    {
      fprintf (stderr, "refmask project import: unknown status '%s'\n", status);
      return EXIT_USAGE;
    }
  opt.images_dir = images;
  opt.refs_path = refs;
  p = rm_project_open (argv[1], &error);
  if (p == NULL)
    return fail ("import", error);
  progress_start (&prog, "importing", quiet);
  opt.cancellable = prog.cancel;
  opt.progress = progress_cb;
  opt.user_data = &prog;
  ok = rm_import (p, fmt, argv[2], &opt, &rep, &error);
  progress_end (&prog);
  print_warnings (rep.warnings);
  if (!ok)
    {
      rm_import_report_clear (&rep);
      fprintf (stderr, "refmask project import: %s\nnothing was imported\n", error->message);
      return EXIT_FAILED;
    }
  if (!quiet)
    printf ("imported %u image(s) (%u already there), %u annotation(s) (%u already there), %u "
            "categor%s\n",
            rep.images_added, rep.images_existing, rep.annotations_added, rep.annotations_skipped,
            rep.categories, rep.categories == 1 ? "y" : "ies");
  rm_import_report_clear (&rep);
  return EXIT_OK;
}

/* ---- list ---- */

static void
add_str (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b, const char *key, gint64 value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

/* One printer for every list: a header and a text line a row, or a JSON array of objects. */
typedef void (*RowText) (gconstpointer row);
typedef void (*RowJson) (gconstpointer row, JsonBuilder *b);

static int
print_rows (GPtrArray *rows, GError *error, const char *header, RowText text, RowJson json,
            gboolean as_json)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  if (rows == NULL)
    return fail ("list", error);
  if (!as_json && header != NULL)
    printf ("%s\n", header);
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    {
      if (!as_json)
        {
          text (rows->pdata[i]);
          continue;
        }
      json_builder_begin_object (b);
      json (rows->pdata[i], b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  if (as_json)
    rm_cli_print_json (b);
  return EXIT_OK;
}

static void
annotation_text (gconstpointer row)
{
  const RmStoreAnnotation *a = row;
  printf ("%-6" G_GINT64_FORMAT " %-6" G_GINT64_FORMAT " %-9s %-15s %9" G_GUINT64_FORMAT "  %s\n",
          a->id, a->image_id, rm_store_status_to_string (a->status),
          rm_store_source_to_string (a->source), a->area, a->expression);
}

static void
annotation_json (gconstpointer row, JsonBuilder *b)
{
  const RmStoreAnnotation *a = row;
  add_int (b, "id", a->id);
  add_int (b, "image_id", a->image_id);
  add_str (b, "expression", a->expression);
  add_int (b, "category_id", a->category_id);
  add_str (b, "status", rm_store_status_to_string (a->status));
  add_str (b, "source", rm_store_source_to_string (a->source));
  add_int (b, "area", (gint64) a->area);
  json_builder_set_member_name (b, "bbox");
  json_builder_begin_array (b);
  for (int k = 0; k < 4; k++)
    json_builder_add_int_value (b, (gint64) a->bbox[k]);
  json_builder_end_array (b);
  if (a->has_score)
    {
      json_builder_set_member_name (b, "score");
      json_builder_add_double_value (b, a->score);
    }
  add_int (b, "model_version_id", a->model_version_id);
  add_str (b, "split", a->split);
  add_str (b, "external_id", a->external_id);
  add_str (b, "created_at", a->created_at);
  add_str (b, "updated_at", a->updated_at);
}

static void
image_text (gconstpointer row)
{
  const RmProjectImage *im = row;
  g_autofree char *size = g_strdup_printf ("%ux%u", im->width, im->height);
  printf ("%-6" G_GINT64_FORMAT " %-11s %.12s %s\n", im->id, size, im->sha256, im->path);
}

static void
image_json (gconstpointer row, JsonBuilder *b)
{
  const RmProjectImage *im = row;
  add_int (b, "id", im->id);
  add_str (b, "path", im->path);
  add_str (b, "sha256", im->sha256);
  add_int (b, "width", im->width);
  add_int (b, "height", im->height);
  add_str (b, "georef", im->georef);
  add_str (b, "created_at", im->created_at);
}

static void
category_text (gconstpointer row)
{
  const RmCategory *c = row;
  printf ("%-6" G_GINT64_FORMAT " %s%s%s\n", c->id, c->name, c->supercategory ? " / " : "",
          c->supercategory ? c->supercategory : "");
}

static void
category_json (gconstpointer row, JsonBuilder *b)
{
  const RmCategory *c = row;
  add_int (b, "id", c->id);
  add_str (b, "name", c->name);
  add_str (b, "supercategory", c->supercategory);
}

static void
model_text (gconstpointer row)
{
  const RmStoreModelVersion *v = row;
  printf ("%-6" G_GINT64_FORMAT " %-24s %-6" G_GINT64_FORMAT " %-4" G_GINT64_FORMAT " %s\n", v->id,
          v->name, v->parent_id, v->training_run_id, v->weights_path);
}

static void
model_json (gconstpointer row, JsonBuilder *b)
{
  const RmStoreModelVersion *v = row;
  add_int (b, "id", v->id);
  add_str (b, "name", v->name);
  add_str (b, "weights_path", v->weights_path);
  add_int (b, "parent_id", v->parent_id);
  add_int (b, "training_run_id", v->training_run_id);
  add_str (b, "config_json", v->config_json);
  add_str (b, "metrics_json", v->metrics_json);
  add_str (b, "created_at", v->created_at);
}

static void
run_text (gconstpointer row)
{
  const RmTrainingRun *r = row;
  printf ("%-6" G_GINT64_FORMAT " %-10s %-6" G_GINT64_FORMAT " %s\n", r->id,
          rm_run_status_to_string (r->status), r->base_model_id,
          r->metrics_json ? r->metrics_json : "");
}

static void
run_json (gconstpointer row, JsonBuilder *b)
{
  const RmTrainingRun *r = row;
  add_int (b, "id", r->id);
  add_str (b, "status", rm_run_status_to_string (r->status));
  add_int (b, "base_model_id", r->base_model_id);
  add_str (b, "params_json", r->params_json);
  add_str (b, "loss_curve_json", r->loss_curve_json);
  add_str (b, "metrics_json", r->metrics_json);
  add_str (b, "created_at", r->created_at);
  add_str (b, "updated_at", r->updated_at);
}

static int
cmd_list (int argc, char **argv)
{
  g_autofree char *status = NULL;
  gint64 image = 0;
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "status", 's', 0, G_OPTION_ARG_STRING, &status,
      "annotations: only these statuses (comma-separated: candidate, accepted, rejected; or all)",
      "LIST" },
    { "image", 'i', 0, G_OPTION_ARG_INT64, &image, "annotations: only those of this image id",
      "ID" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "print JSON", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  RmStoreAnnotationFilter filter = { 0 };
  const char *what;
  int code = EXIT_OK;

  if (!parse ("list", "FILE [annotations|images|categories|models|runs]",
              "List what a project holds.", entries, &argc, &argv, 1, 2, &code))
    return code;
  what = argc > 2 ? argv[2] : "annotations";
  if (!parse_status_list (status, &filter.status_mask))
    {
      fprintf (stderr, "refmask project list: unknown status in '%s'\n", status);
      return EXIT_USAGE;
    }
  filter.image_id = image;
  if (strcmp (what, "annotations") != 0 && strcmp (what, "images") != 0 &&
      strcmp (what, "categories") != 0 && strcmp (what, "models") != 0 &&
      strcmp (what, "runs") != 0)
    {
      fprintf (stderr,
               "refmask project list: cannot list '%s' (annotations, images, categories, models, "
               "runs)\n",
               what);
      return EXIT_USAGE;
    }
  p = rm_project_open (argv[1], &error);
  if (p == NULL)
    return fail ("list", error);
  if (strcmp (what, "images") == 0)
    rows = rm_project_list_images (p, &error);
  else if (strcmp (what, "categories") == 0)
    rows = rm_project_list_categories (p, &error);
  else if (strcmp (what, "models") == 0)
    rows = rm_project_list_model_versions (p, &error);
  else if (strcmp (what, "runs") == 0)
    rows = rm_project_list_training_runs (p, &error);
  else
    rows = rm_project_list_annotations (p, &filter, &error);
  switch (what[0])
    {
    case 'i':
      return print_rows (rows, error, "ID     SIZE        SHA256       PATH", image_text,
                         image_json, as_json);
    case 'c':
      return print_rows (rows, error, "ID     NAME", category_text, category_json, as_json);
    case 'm':
      return print_rows (rows, error, "ID     NAME                     PARENT RUN  WEIGHTS",
                         model_text, model_json, as_json);
    case 'r':
      return print_rows (rows, error, "ID     STATUS     BASE   METRICS", run_text, run_json,
                         as_json);
    default:
      return print_rows (rows, error,
                         "ID     IMAGE  STATUS    SOURCE               AREA  EXPRESSION",
                         annotation_text, annotation_json, as_json);
    }
}

/* ---- stats ---- */

static int
cmd_stats (int argc, char **argv)
{
  gboolean as_json = FALSE;
  GOptionEntry entries[] = { { "json", 0, 0, G_OPTION_ARG_NONE, &as_json, "print JSON", NULL },
                             { NULL } };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  RmProjectStats st;
  int code = EXIT_OK;

  if (!parse ("stats", "FILE", "Count what a project holds.", entries, &argc, &argv, 1, 1, &code))
    return code;
  p = rm_project_open (argv[1], &error);
  if (p == NULL || !rm_project_get_stats (p, &st, &error))
    return fail ("stats", error);
  if (as_json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      add_int (b, "schema_version", rm_project_get_schema_version (p));
      add_int (b, "images", st.images);
      add_int (b, "images_without_annotations", st.images_without_annotations);
      add_int (b, "annotations", st.annotations);
      for (int s = 0; s < 3; s++)
        add_int (b, rm_store_status_to_string (s), st.by_status[s]);
      json_builder_set_member_name (b, "by_source");
      json_builder_begin_object (b);
      for (int s = 0; s < 4; s++)
        add_int (b, rm_store_source_to_string (s), st.by_source[s]);
      json_builder_end_object (b);
      add_int (b, "categories", st.categories);
      add_int (b, "model_versions", st.model_versions);
      add_int (b, "training_runs", st.training_runs);
      json_builder_end_object (b);
      rm_cli_print_json (b);
      return EXIT_OK;
    }
  printf ("project        %s (schema %u)\n", rm_project_get_path (p),
          rm_project_get_schema_version (p));
  printf ("images         %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " without annotations)\n",
          st.images, st.images_without_annotations);
  printf ("annotations    %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT " accepted, %" G_GINT64_FORMAT
          " candidate, %" G_GINT64_FORMAT " rejected\n",
          st.annotations, st.by_status[RM_STATUS_ACCEPTED], st.by_status[RM_STATUS_CANDIDATE],
          st.by_status[RM_STATUS_REJECTED]);
  printf ("  by source    %" G_GINT64_FORMAT " imported, %" G_GINT64_FORMAT
          " manual, %" G_GINT64_FORMAT " model, %" G_GINT64_FORMAT " model corrected\n",
          st.by_source[RM_SOURCE_IMPORTED], st.by_source[RM_SOURCE_MANUAL],
          st.by_source[RM_SOURCE_MODEL], st.by_source[RM_SOURCE_MODEL_CORRECTED]);
  printf ("categories     %" G_GINT64_FORMAT "\n", st.categories);
  printf ("model versions %" G_GINT64_FORMAT "\n", st.model_versions);
  printf ("training runs  %" G_GINT64_FORMAT "\n", st.training_runs);
  return EXIT_OK;
}

/* ---- export ---- */

static int
cmd_export (int argc, char **argv)
{
  g_autofree char *format = NULL, *status = NULL;
  gboolean polygons = FALSE, force = FALSE, no_images = FALSE, quiet = FALSE;
  double simplify = 0;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format,
      "png, coco (default) or refs (refs.jsonl + mask PNGs)", "FORMAT" },
    { "status", 's', 0, G_OPTION_ARG_STRING, &status,
      "which annotations (comma-separated: accepted, candidate, rejected; or all); default "
      "accepted",
      "LIST" },
    { "polygons", 0, 0, G_OPTION_ARG_NONE, &polygons,
      "coco: polygons instead of RLE (masks with holes stay RLE)", NULL },
    { "simplify", 0, 0, G_OPTION_ARG_DOUBLE, &simplify,
      "coco polygons: Douglas-Peucker tolerance in pixels (default 0: exact)", "PX" },
    { "no-images", 0, 0, G_OPTION_ARG_NONE, &no_images,
      "do not link or copy the images; refer to them by relative path", NULL },
    { "force", 0, 0, G_OPTION_ARG_NONE, &force, "replace OUTDIR if a previous export wrote it",
      NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress and no summary", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProject) p = NULL;
  RmExportFormat fmt = RM_EXPORT_COCO;
  RmExportOptions opt;
  RmExportReport rep = { 0 };
  Progress prog;
  int code = EXIT_OK;
  gboolean ok;

  if (!parse ("export", "FILE OUTDIR",
              "Export annotations into a new folder, written whole or not at all.\n\n"
              "png:  masks/<image>__<id>.png (0/255), index/<image>.png (palette), masks.json\n"
              "coco: instances.json, refs.json and refs(unc).p (refer-style expressions), images/\n"
              "refs: refs.jsonl + refs/masks/*.png, images/ (the format of ../shared/data)\n"
              "An existing OUTDIR is an error; --force replaces it only if an export wrote it.",
              entries, &argc, &argv, 2, 2, &code))
    return code;
  rm_export_options_init (&opt);
  if (format != NULL && !rm_export_format_from_string (format, &fmt))
    {
      fprintf (stderr, "refmask project export: unknown format '%s' (png, coco, refs)\n", format);
      return EXIT_USAGE;
    }
  if (!parse_status_list (status, &opt.status_mask))
    {
      fprintf (stderr, "refmask project export: unknown status in '%s'\n", status);
      return EXIT_USAGE;
    }
  if (simplify < 0 || (simplify > 0 && !polygons))
    {
      fprintf (stderr,
               "refmask project export: --simplify needs --polygons and a tolerance >= 0\n");
      return EXIT_USAGE;
    }
  opt.polygons = polygons;
  opt.simplify = simplify;
  opt.force = force;
  opt.no_images = no_images;
  p = rm_project_open (argv[1], &error);
  if (p == NULL)
    return fail ("export", error);
  progress_start (&prog, "exporting", quiet);
  opt.cancellable = prog.cancel;
  opt.progress = progress_cb;
  opt.user_data = &prog;
  ok = rm_export (p, fmt, argv[2], &opt, &rep, &error);
  progress_end (&prog);
  print_warnings (rep.warnings);
  if (!ok)
    {
      rm_export_report_clear (&rep);
      fprintf (stderr, "refmask project export: %s\nnothing was written\n", error->message);
      return EXIT_FAILED;
    }
  if (!quiet)
    printf ("exported %u annotation(s) of %u image(s) to %s (%u files)\n", rep.annotations,
            rep.images, argv[2], rep.files);
  rm_export_report_clear (&rep);
  return EXIT_OK;
}

int
rm_cli_project (int argc, char **argv)
{
  static const struct
  {
    const char *name;
    int (*run) (int argc, char **argv);
  } commands[] = {
    { "create", cmd_create }, { "import", cmd_import }, { "list", cmd_list },
    { "stats", cmd_stats },   { "export", cmd_export },
  };

  if (argc < 2)
    {
      fputs (usage_text, stderr);
      return EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
      strcmp (argv[1], "help") == 0)
    {
      fputs (usage_text, stdout);
      return EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "refmask project: unknown command '%s'\n\n%s", argv[1], usage_text);
  return EXIT_USAGE;
}
