/* rm-window-project.c: the main window's project file
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A window shows one project (an RmProjectSession), or browses images that are in none. Opening
 * a project replaces the images and annotations; the session saves the annotations as they
 * change, the last image and the view (zoom and pan) go into the project's settings, and
 * reopening brings all of it back. A new project made while images are browsed takes them in,
 * with the annotations made so far. Browsing a folder offers to make it a project (or to open
 * the one that is there). Images dropped on a project's window are added to the project.
 *
 * The sidebar's images carry a status badge (counted here from the annotations) and can be
 * filtered by it: the list view then shows a filtered copy of the images, kept in step with the
 * window's selection.
 */

#include "rm-window-project.h"

#include "rm-annotation.h"
#include "rm-export-dialog.h"
#include "rm-image-item.h"
#include "rm-import-dialog.h"
#include "rm-model-version.h"
#include "rm-project.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* How often the view is compared with the saved one. */
#define VIEW_SAVE_INTERVAL_MS 1000

typedef enum
{
  BANNER_NONE,
  BANNER_OPEN_FAILED,  /* "Open Another…" */
  BANNER_SAVE_FAILED,  /* "Retry" */
  BANNER_OFFER_CREATE, /* "Create Project" in the browsed folder */
  BANNER_OFFER_OPEN,   /* "Open Project" found in the browsed folder */
} BannerKind;

struct _RmWindowProject
{
  RmProjectSession *session;
  RmProjectSession *loading; /* a project being opened or created */
  gboolean loading_adopts;   /* it takes the browsed images and annotations */

  GFile *offer_file; /* the project file the banner offers */
  BannerKind banner_kind;
  GtkRevealer *banner;
  GtkWidget *banner_box;
  GtkImage *banner_icon;
  GtkLabel *banner_label;
  GtkButton *banner_button;

  GtkDropDown *status_filter;
  GtkCustomFilter *filter;
  GtkFilterListModel *filtered;
  GtkSingleSelection *filtered_selection;
  gboolean syncing;
  guint counts_idle_id;

  /* the view of the last image, restored once it is shown */
  gboolean restoring;
  GFile *restore_image;
  RmProjectView restore_view;
  guint restore_tick_id;
  char *saved_view;
  char *saved_image;
  guint view_timeout_id;

  GtkWindow *import_dialog;  /* weak */
  GtkWindow *export_dialog;  /* weak */
  GtkWindow *confirm_dialog; /* weak */
  gboolean close_confirmed;
};

static void update_project_actions (RmWindow *self);

/* ---- the banner -------------------------------------------------------------------------- */

static void show_banner_full (RmWindow *self, BannerKind kind, const char *text,
                              const char *tooltip);

static void
show_banner (RmWindow *self, BannerKind kind, const char *text)
{
  show_banner_full (self, kind, text, text);
}

/* The banner over the image: what went wrong or what is offered, with one button for it. */
static void
show_banner_full (RmWindow *self, BannerKind kind, const char *text, const char *tooltip)
{
  RmWindowProject *p = self->project;
  const char *button = NULL;
  gboolean error = kind == BANNER_OPEN_FAILED || kind == BANNER_SAVE_FAILED;

  p->banner_kind = kind;
  switch (kind)
    {
    case BANNER_OPEN_FAILED:
      button = _ ("Open _Another…");
      break;
    case BANNER_SAVE_FAILED:
      button = _ ("_Retry");
      break;
    case BANNER_OFFER_CREATE:
      button = _ ("_Create Project");
      break;
    case BANNER_OFFER_OPEN:
      button = _ ("_Open Project");
      break;
    case BANNER_NONE:
    default:
      /* a concealed crossfade revealer keeps its height: hide it */
      gtk_revealer_set_reveal_child (p->banner, FALSE);
      gtk_widget_set_visible (GTK_WIDGET (p->banner), FALSE);
      return;
    }

  gtk_label_set_label (p->banner_label, text);
  gtk_widget_set_tooltip_text (GTK_WIDGET (p->banner_label), tooltip);
  gtk_button_set_label (p->banner_button, button);
  gtk_image_set_from_icon_name (p->banner_icon,
                                error ? "dialog-error-symbolic" : "dialog-information-symbolic");
  gtk_widget_remove_css_class (p->banner_box, error ? "info-banner" : "model-banner");
  gtk_widget_add_css_class (p->banner_box, error ? "model-banner" : "info-banner");
  gtk_widget_set_visible (GTK_WIDGET (p->banner), TRUE);
  gtk_revealer_set_reveal_child (p->banner, TRUE);
}

static void
hide_banner (RmWindow *self, BannerKind kind)
{
  if (self->project->banner_kind == kind)
    show_banner (self, BANNER_NONE, NULL);
}

static char *
display_name (GFile *file)
{
  return g_file_get_basename (file);
}

/* ---- image statuses and the filter --------------------------------------------------------- */

typedef struct
{
  guint n_annotations;
  guint n_candidates;
} Counts;

static gboolean
update_counts (gpointer user_data)
{
  RmWindow *self = user_data;
  RmWindowProject *p = self->project;
  GListModel *annotations = G_LIST_MODEL (self->annotations);
  GListModel *images = G_LIST_MODEL (self->images);
  g_autoptr (GHashTable) counts =
      g_hash_table_new_full (g_file_hash, (GEqualFunc) g_file_equal, NULL, g_free);

  p->counts_idle_id = 0;
  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);
      GFile *file = rm_annotation_get_image (annotation);
      Counts *c;

      if (file == NULL)
        continue;
      c = g_hash_table_lookup (counts, file);
      if (c == NULL)
        g_hash_table_insert (counts, file, (c = g_new0 (Counts, 1)));
      c->n_annotations++;
      if (rm_annotation_get_status (annotation) == RM_ANNOTATION_STATUS_CANDIDATE)
        c->n_candidates++;
    }
  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);
      Counts *c = g_hash_table_lookup (counts, rm_image_item_get_file (item));

      rm_image_item_set_counts (item, c != NULL ? c->n_annotations : 0,
                                c != NULL ? c->n_candidates : 0);
    }

  if (gtk_drop_down_get_selected (p->status_filter) > 0)
    {
      p->syncing = TRUE;
      gtk_filter_changed (GTK_FILTER (p->filter), GTK_FILTER_CHANGE_DIFFERENT);
      p->syncing = FALSE;
    }

  return G_SOURCE_REMOVE;
}

static void
queue_update_counts (RmWindow *self)
{
  if (self->project->counts_idle_id == 0)
    self->project->counts_idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, update_counts, self, NULL);
}

static void
on_annotations_changed (GListModel *list, guint position, guint removed, guint added,
                        RmWindow *self)
{
  for (guint i = 0; i < added; i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (list, position + i);

      g_signal_handlers_disconnect_by_func (annotation, queue_update_counts, self);
      g_signal_connect_object (annotation, "notify::status", G_CALLBACK (queue_update_counts), self,
                               G_CONNECT_SWAPPED);
    }
  queue_update_counts (self);
}

static gboolean
image_matches_filter (gpointer item, gpointer user_data)
{
  RmWindow *self = user_data;
  guint selected = gtk_drop_down_get_selected (self->project->status_filter);

  return selected == 0 || selected == GTK_INVALID_LIST_POSITION ||
         (guint) rm_image_item_get_status (item) == selected - 1;
}

/* The window's selection, shown in the filtered list (if the image passes the filter). */
static void
sync_filtered_selection (RmWindow *self)
{
  RmWindowProject *p = self->project;
  gpointer selected = gtk_single_selection_get_selected_item (self->selection);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (p->filtered));
  guint position = GTK_INVALID_LIST_POSITION;

  if (gtk_drop_down_get_selected (p->status_filter) == 0)
    return;
  for (guint i = 0; selected != NULL && i < n; i++)
    {
      g_autoptr (GObject) item = g_list_model_get_item (G_LIST_MODEL (p->filtered), i);

      if (item == selected)
        {
          position = i;
          break;
        }
    }
  p->syncing = TRUE;
  gtk_single_selection_set_selected (p->filtered_selection, position);
  p->syncing = FALSE;
  if (position != GTK_INVALID_LIST_POSITION)
    gtk_widget_activate_action (GTK_WIDGET (self->image_list), "list.scroll-to-item", "u",
                                position);
}

static void
on_filtered_selected (RmWindow *self)
{
  RmWindowProject *p = self->project;
  gpointer item = gtk_single_selection_get_selected_item (p->filtered_selection);
  guint position;

  if (p->syncing || item == NULL)
    return;
  if (g_list_store_find (self->images, item, &position) &&
      position != rm_window_get_selected (self))
    rm_window_select_image (self, position);
}

static void
on_status_filter_changed (RmWindow *self)
{
  RmWindowProject *p = self->project;

  if (gtk_drop_down_get_selected (p->status_filter) == 0)
    {
      gtk_list_view_set_model (self->image_list, GTK_SELECTION_MODEL (self->selection));
      return;
    }
  p->syncing = TRUE;
  gtk_filter_changed (GTK_FILTER (p->filter), GTK_FILTER_CHANGE_DIFFERENT);
  p->syncing = FALSE;
  gtk_list_view_set_model (self->image_list, GTK_SELECTION_MODEL (p->filtered_selection));
  sync_filtered_selection (self);
}

/* ---- the view and the last image ----------------------------------------------------------- */

static char *
relative_to_project (RmWindow *self, GFile *file)
{
  g_autofree char *dir = g_path_get_dirname (rm_project_session_get_path (self->project->session));
  g_autofree char *path = g_file_get_path (file);

  return path != NULL ? rm_path_relative_to (dir, path) : NULL;
}

static char *
current_view (RmWindow *self)
{
  RmCanvas *canvas = self->canvas;
  int width = gtk_widget_get_width (GTK_WIDGET (canvas));
  int height = gtk_widget_get_height (GTK_WIDGET (canvas));
  RmProjectView view = { 0 };

  if (rm_canvas_get_image (canvas) == NULL || width <= 0 || height <= 0)
    return NULL;
  view.fit = rm_canvas_get_fit (canvas);
  view.zoom = rm_canvas_get_zoom (canvas);
  rm_canvas_widget_to_image (canvas, width / 2.0, height / 2.0, &view.center_x, &view.center_y);

  return rm_project_view_to_string (&view);
}

/* Writes the view if it changed since it was last written. */
static void
save_view (RmWindow *self)
{
  RmWindowProject *p = self->project;
  g_autofree char *view = NULL;

  if (p->session == NULL || p->restoring)
    return;
  view = current_view (self);
  if (view != NULL && g_strcmp0 (view, p->saved_view) != 0)
    {
      rm_project_session_set_setting (p->session, RM_PROJECT_SETTING_VIEW, view);
      g_free (p->saved_view);
      p->saved_view = g_steal_pointer (&view);
    }
}

static gboolean
save_view_timeout (gpointer user_data)
{
  save_view (user_data);

  return G_SOURCE_CONTINUE;
}

static void
save_last_image (RmWindow *self)
{
  RmWindowProject *p = self->project;
  RmImageItem *item = gtk_single_selection_get_selected_item (self->selection);
  g_autofree char *relative = NULL;

  if (p->session == NULL || item == NULL)
    return;
  relative = relative_to_project (self, rm_image_item_get_file (item));
  if (relative != NULL && g_strcmp0 (relative, p->saved_image) != 0)
    {
      rm_project_session_set_setting (p->session, RM_PROJECT_SETTING_LAST_IMAGE, relative);
      g_free (p->saved_image);
      p->saved_image = g_steal_pointer (&relative);
    }
}

static void
apply_view (RmWindow *self)
{
  RmWindowProject *p = self->project;
  RmCanvas *canvas = self->canvas;
  double width = gtk_widget_get_width (GTK_WIDGET (canvas));
  double height = gtk_widget_get_height (GTK_WIDGET (canvas));
  double wx, wy;

  p->restoring = FALSE;
  if (p->restore_view.fit)
    {
      rm_canvas_zoom_fit (canvas);
      return;
    }
  rm_canvas_zoom_at (canvas, p->restore_view.zoom, width / 2, height / 2, FALSE);
  rm_view_image_to_widget (rm_canvas_get_view (canvas), p->restore_view.center_x,
                           p->restore_view.center_y, &wx, &wy);
  rm_canvas_pan (canvas, width / 2 - wx, height / 2 - wy);
}

static gboolean try_restore_view (RmWindow *self);

static gboolean
restore_tick (GtkWidget *widget, GdkFrameClock *clock, gpointer user_data)
{
  RmWindow *self = user_data;

  self->project->restore_tick_id = 0;
  try_restore_view (self);

  return G_SOURCE_REMOVE;
}

/* Once the image the project was left on is shown (and laid out), its view comes back. */
static gboolean
try_restore_view (RmWindow *self)
{
  RmWindowProject *p = self->project;
  RmImageItem *item = gtk_single_selection_get_selected_item (self->selection);

  if (!p->restoring)
    return FALSE;
  if (item == NULL || p->restore_image == NULL ||
      !g_file_equal (rm_image_item_get_file (item), p->restore_image))
    {
      p->restoring = FALSE; /* another image was chosen meanwhile */
      return FALSE;
    }
  if (self->loading_image)
    return FALSE; /* the image is still being read */
  if (rm_canvas_get_image (self->canvas) == NULL)
    {
      p->restoring = FALSE; /* it could not be read */
      return FALSE;
    }
  if (gtk_widget_get_width (GTK_WIDGET (self->canvas)) <= 0 ||
      rm_canvas_get_view (self->canvas)->view_width <= 0)
    {
      if (p->restore_tick_id == 0)
        p->restore_tick_id =
            gtk_widget_add_tick_callback (GTK_WIDGET (self->canvas), restore_tick, self, NULL);
      return FALSE;
    }
  apply_view (self);

  return TRUE;
}

static void
on_canvas_image_changed (RmWindow *self)
{
  try_restore_view (self);
}

static void
on_selected_image_changed (RmWindow *self)
{
  sync_filtered_selection (self);
  save_last_image (self);
}

/* ---- opening and closing ------------------------------------------------------------------- */

static void
update_title (RmWindow *self)
{
  RmWindowProject *p = self->project;
  g_autofree char *name = p->session != NULL ? rm_project_session_dup_name (p->session) : NULL;
  g_autofree char *title = NULL;

  if (name != NULL)
    /* Translators: the window title: the project's name, then the application */
    title = g_strdup_printf (_ ("%s — Refmask Studio"), name);
  gtk_label_set_label (self->title_label, name != NULL ? name : _ ("Refmask Studio"));
  gtk_window_set_title (GTK_WINDOW (self), title != NULL ? title : _ ("Refmask Studio"));
  if (p->session != NULL)
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->title_label),
                                 rm_project_session_get_path (p->session));
  else
    gtk_widget_set_tooltip_text (GTK_WIDGET (self->title_label), NULL);
}

/* ---- model versions ------------------------------------------------------------------------ */

/* Adds the member @name: @summary as an object (mIoU, oIoU, precision, n). */
void
rm_metrics_summary_add_json (JsonBuilder *builder, const char *name,
                             const RmMetricsSummary *summary)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "mIoU");
  json_builder_add_double_value (builder, summary->miou);
  json_builder_set_member_name (builder, "oIoU");
  json_builder_add_double_value (builder, summary->oiou);
  json_builder_set_member_name (builder, "precision");
  json_builder_begin_array (builder);
  for (guint i = 0; i < RM_N_PRECISION_THRESHOLDS; i++)
    json_builder_add_double_value (builder, summary->precision[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "n");
  json_builder_add_int_value (builder, summary->n);
  json_builder_end_object (builder);
}

/* What the project keeps of a version's training and validation (model_versions.metrics_json). */
static char *
version_metrics_json (RmModelVersion *version)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  RmMetricsSummary before, after;
  gboolean validated = rm_model_version_get_validation (version, &before, &after);

  if (!validated && rm_model_version_get_steps (version) == 0)
    return NULL;
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "steps");
  json_builder_add_int_value (builder, rm_model_version_get_steps (version));
  json_builder_set_member_name (builder, "n_train");
  json_builder_add_int_value (builder, rm_model_version_get_n_train (version));
  json_builder_set_member_name (builder, "complete");
  json_builder_add_boolean_value (builder, rm_model_version_get_complete (version));
  if (validated)
    {
      rm_metrics_summary_add_json (builder, "before", &before);
      rm_metrics_summary_add_json (builder, "after", &after);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, NULL);
}

static gboolean
read_summary (JsonObject *object, const char *name, RmMetricsSummary *summary)
{
  JsonObject *o =
      json_object_has_member (object, name) ? json_object_get_object_member (object, name) : NULL;
  JsonArray *precision;

  memset (summary, 0, sizeof *summary);
  if (o == NULL)
    return FALSE;
  summary->miou = json_object_get_double_member_with_default (o, "mIoU", 0);
  summary->oiou = json_object_get_double_member_with_default (o, "oIoU", 0);
  summary->n = json_object_get_int_member_with_default (o, "n", 0);
  precision = json_object_has_member (o, "precision")
                  ? json_object_get_array_member (o, "precision")
                  : NULL;
  for (guint i = 0;
       precision != NULL && i < RM_N_PRECISION_THRESHOLDS && i < json_array_get_length (precision);
       i++)
    summary->precision[i] = json_array_get_double_element (precision, i);

  return TRUE;
}

/* A version recorded in the project, for the model switcher. */
static RmModelVersion *
version_from_project (const RmProjectModel *model)
{
  RmModelVersion *version = rm_model_version_new (model->dir, model->name, model->parent_dir);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;
  RmMetricsSummary before, after;

  if (model->metrics_json == NULL ||
      !json_parser_load_from_data (parser, model->metrics_json, -1, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return version;
  object = json_node_get_object (root);
  if (json_object_has_member (object, "steps"))
    rm_model_version_set_training (
        version, json_object_get_int_member_with_default (object, "steps", 0),
        (guint) json_object_get_int_member_with_default (object, "n_train", 0),
        json_object_get_boolean_member_with_default (object, "complete", FALSE));
  if (read_summary (object, "before", &before) && read_summary (object, "after", &after))
    rm_model_version_set_validation (version, &before, &after);

  return version;
}

static void
record_version (RmWindow *self, RmModelVersion *version)
{
  RmProjectModel model = { 0 };
  g_autofree char *metrics = version_metrics_json (version);

  model.dir = (char *) rm_model_version_get_dir (version);
  model.name = (char *) rm_model_version_get_name (version);
  model.parent_dir = (char *) rm_model_version_get_parent_dir (version);
  model.metrics_json = metrics;
  rm_project_session_record_model (self->project->session, &model);
}

/* Every model version of the window (loaded or fine-tuned) is recorded in the project. */
static void
on_versions_changed (GListModel *list, guint position, guint removed, guint added, RmWindow *self)
{
  if (self->project->session == NULL)
    return;
  for (guint i = 0; i < added; i++)
    {
      g_autoptr (RmModelVersion) version = g_list_model_get_item (list, position + i);

      record_version (self, version);
    }
}

static void
record_models (RmWindow *self)
{
  GListModel *versions = G_LIST_MODEL (self->model_versions);

  on_versions_changed (versions, 0, 0, g_list_model_get_n_items (versions), self);
}

/* The project's versions whose folders are there join the model switcher. */
static void
restore_versions (RmWindow *self, GPtrArray *models)
{
  GListModel *versions = G_LIST_MODEL (self->model_versions);

  for (guint i = 0; i < models->len; i++)
    {
      const RmProjectModel *model = models->pdata[i];
      g_autoptr (RmModelVersion) version = NULL;
      gboolean known = FALSE;

      for (guint k = 0; k < g_list_model_get_n_items (versions) && !known; k++)
        {
          g_autoptr (RmModelVersion) v = g_list_model_get_item (versions, k);
          g_autofree char *a = g_canonicalize_filename (rm_model_version_get_dir (v), NULL);

          known = g_strcmp0 (a, model->dir) == 0;
        }
      if (known || !g_file_test (model->dir, G_FILE_TEST_IS_DIR))
        continue;
      version = version_from_project (model);
      rm_window_add_model_version (self, version);
    }
}

static void
on_session_error (RmProjectSession *session, const GError *error, RmWindow *self)
{
  g_autofree char *name = rm_project_session_dup_name (session);
  g_autofree char *text = NULL;

  if (session != self->project->session)
    return;
  /* Translators: the project's name, then the reason */
  text = g_strdup_printf (_ ("Changes to “%s” could not be saved: %s. They are kept in this "
                             "window until they are saved."),
                          name, error->message);
  show_banner (self, BANNER_SAVE_FAILED, text);
}

static void
on_session_saved (RmProjectSession *session, RmWindow *self)
{
  if (session == self->project->session && rm_project_session_get_n_failed (session) == 0)
    hide_banner (self, BANNER_SAVE_FAILED);
}

static void
session_closed (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GError) error = NULL;

  if (!rm_project_session_close_finish (RM_PROJECT_SESSION (object), result, &error))
    g_debug ("closing %s: %s", rm_project_session_get_path (RM_PROJECT_SESSION (object)),
             error->message);
}

/* The session stops watching the window; what it was asked to write is written, then the file
 * is closed. */
static void
close_session (RmWindow *self)
{
  RmWindowProject *p = self->project;
  g_autoptr (RmProjectSession) session = g_steal_pointer (&p->session);

  g_clear_handle_id (&p->view_timeout_id, g_source_remove);
  if (session == NULL)
    return;
  g_signal_handlers_disconnect_by_data (session, self);
  rm_project_session_untrack (session);
  rm_project_session_close_async (session, session_closed, NULL);
  g_clear_pointer (&p->saved_view, g_free);
  g_clear_pointer (&p->saved_image, g_free);
  p->restoring = FALSE;
}

static void
attach_session (RmWindow *self, RmProjectSession *session)
{
  RmWindowProject *p = self->project;
  g_autoptr (GFile) file = g_file_new_for_path (rm_project_session_get_path (session));
  g_autoptr (GFile) folder = g_file_get_parent (file);
  g_autofree char *folder_path = g_file_get_path (folder);

  p->session = g_object_ref (session);
  g_signal_connect (session, "error", G_CALLBACK (on_session_error), self);
  g_signal_connect (session, "saved", G_CALLBACK (on_session_saved), self);
  p->view_timeout_id = g_timeout_add (VIEW_SAVE_INTERVAL_MS, save_view_timeout, self);
  if (folder_path != NULL)
    g_settings_set_string (self->settings, "last-folder", folder_path);
  show_banner (self, BANNER_NONE, NULL);
  update_title (self);
  record_models (self);
}

/* Replaces the window's images with @files and selects @selected (or the first). */
static void
set_images (RmWindow *self, GPtrArray *files, GFile *selected)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  guint position = 0;

  g_cancellable_cancel (self->scan_cancellable);
  g_clear_object (&self->scan_cancellable);
  g_hash_table_remove_all (self->known_files);
  for (guint i = 0; i < files->len; i++)
    if (g_hash_table_add (self->known_files, g_object_ref (files->pdata[i])))
      {
        if (selected != NULL && g_file_equal (files->pdata[i], selected))
          position = items->len;
        g_ptr_array_add (items, rm_image_item_new (files->pdata[i]));
      }
  g_list_store_splice (self->images, 0, g_list_model_get_n_items (G_LIST_MODEL (self->images)),
                       items->pdata, items->len);
  if (items->len > 0)
    rm_window_select_image (self, position);
  _rm_window_images_changed (self);
}

/* Adds what an import brought: images at the end of the list, annotations to theirs. */
static void
add_contents (RmWindow *self, RmProjectContents *contents)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
  guint first = g_list_model_get_n_items (G_LIST_MODEL (self->images));

  for (guint i = 0; i < contents->images->len; i++)
    if (g_hash_table_add (self->known_files, g_object_ref (contents->images->pdata[i])))
      g_ptr_array_add (items, rm_image_item_new (contents->images->pdata[i]));
  g_list_store_splice (self->images, first, 0, items->pdata, items->len);
  g_list_store_splice (self->annotations,
                       g_list_model_get_n_items (G_LIST_MODEL (self->annotations)), 0,
                       contents->annotations->pdata, contents->annotations->len);
  if (items->len > 0 && rm_window_get_selected (self) == GTK_INVALID_LIST_POSITION)
    rm_window_select_image (self, first);
  _rm_window_images_changed (self);
}

/* Empties the window for another project; a corrected candidate is kept first (and saved with
 * the project it belongs to). */
static void
clear_window (RmWindow *self)
{
  _rm_window_cancel_query (self);
  _rm_window_set_candidate (self, NULL);
}

static void
replace_project (RmWindow *self, RmProjectSession *session, RmProjectContents *contents)
{
  RmWindowProject *p = self->project;

  clear_window (self);
  close_session (self);
  _rm_window_review_stop (self);
  rm_history_clear (self->history); /* its steps are the other project's */
  g_list_store_remove_all (self->annotations);
  attach_session (self, session);

  g_list_store_splice (self->annotations, 0, 0, contents->annotations->pdata,
                       contents->annotations->len);
  rm_project_session_track (session, G_LIST_MODEL (self->annotations));

  p->restoring =
      rm_project_view_parse (contents->view, &p->restore_view) && contents->last_image != NULL;
  g_set_object (&p->restore_image, contents->last_image);
  p->saved_view = g_strdup (contents->view);
  restore_versions (self, contents->models);
  set_images (self, contents->images, contents->last_image);
  p->saved_image = NULL;
  save_last_image (self);
  try_restore_view (self);
  update_project_actions (self);
}

static void
adopt_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmWindow) self = user_data;
  RmProjectSession *session = RM_PROJECT_SESSION (object);
  g_autoptr (RmProjectContents) contents = NULL;
  g_autoptr (GError) error = NULL;

  contents = rm_project_session_add_files_finish (session, result, &error);
  if (self->project == NULL || self->project->session != session)
    return;
  if (contents == NULL)
    {
      g_autofree char *text =
          /* Translators: the reason */
          g_strdup_printf (_ ("The images could not be added to the project: %s"), error->message);

      show_banner (self, BANNER_SAVE_FAILED, text);
    }
  else
    add_contents (self, contents);
  /* the annotations made so far are saved now (their images are in the project) */
  rm_project_session_track (session, G_LIST_MODEL (self->annotations));
  save_last_image (self);
  update_project_actions (self);
}

/* A new project takes the browsed images (and then the annotations made on them). */
static void
adopt_project (RmWindow *self, RmProjectSession *session)
{
  GListModel *images = G_LIST_MODEL (self->images);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_object_unref);

  attach_session (self, session);
  for (guint i = 0; i < g_list_model_get_n_items (images); i++)
    {
      g_autoptr (RmImageItem) item = g_list_model_get_item (images, i);

      g_ptr_array_add (files, g_object_ref (rm_image_item_get_file (item)));
    }
  rm_project_session_add_files_async (session, (GFile **) files->pdata, files->len, NULL,
                                      adopt_done, g_object_ref (self));
}

static void
load_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmWindow) self = user_data;
  RmProjectSession *session = RM_PROJECT_SESSION (object);
  RmWindowProject *p = self->project;
  g_autoptr (RmProjectContents) contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmProjectSession) loaded = NULL;

  contents = rm_project_session_load_finish (session, result, &error);
  if (p == NULL || p->loading != session)
    {
      /* the window is gone, or another project was asked for meanwhile */
      if (contents != NULL)
        rm_project_session_close_async (session, session_closed, NULL);
      return;
    }
  loaded = g_steal_pointer (&p->loading);
  if (contents == NULL)
    {
      g_autoptr (GFile) file = g_file_new_for_path (rm_project_session_get_path (session));
      g_autofree char *name = display_name (file);
      g_autofree char *text =
          /* Translators: a file name, then the reason */
          g_strdup_printf (_ ("Cannot open “%s”: %s"), name, error->message);

      show_banner (self, BANNER_OPEN_FAILED, text);
      update_project_actions (self);
      return;
    }
  if (p->loading_adopts && p->session == NULL)
    adopt_project (self, loaded);
  else
    replace_project (self, loaded, contents);
  update_project_actions (self);
}

static void
start_load (RmWindow *self, GFile *file, gboolean create)
{
  RmWindowProject *p = self->project;
  g_autofree char *path = g_file_get_path (file);

  if (path == NULL)
    {
      show_banner (self, BANNER_OPEN_FAILED, _ ("Projects must be local files."));
      return;
    }
  g_clear_object (&p->loading); /* its result is dropped when it comes */
  p->loading = rm_project_session_new (path);
  /* a new project takes what is browsed; nothing is taken from another project */
  p->loading_adopts = create && p->session == NULL;
  rm_project_session_load_async (p->loading, create, NULL, load_done, g_object_ref (self));
  update_project_actions (self);
}

/* Annotations made while browsing (in no project) would be lost by opening a project. */
static guint
n_unsaved_browsed (RmWindow *self)
{
  if (self->project->session != NULL)
    return 0;

  return g_list_model_get_n_items (G_LIST_MODEL (self->annotations)) +
         (self->candidate != NULL && rm_candidate_get_corrected (self->candidate) ? 1 : 0);
}

static void
discard_response (GtkDialog *dialog, int response, gpointer user_data)
{
  RmWindow *self = g_object_get_data (G_OBJECT (dialog), "window");
  GFile *file = g_object_get_data (G_OBJECT (dialog), "file");

  if (response == GTK_RESPONSE_ACCEPT && self->project != NULL)
    start_load (self, file, FALSE);
  gtk_window_destroy (GTK_WINDOW (dialog));
}

/* Opens the project file @file in this window (the current project is saved and closed). A file
 * that cannot be opened leaves the window as it is and says why in the banner. */
void
rm_window_open_project (RmWindow *self, GFile *file)
{
  guint n;

  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  n = n_unsaved_browsed (self);
  if (n > 0)
    {
      GtkWidget *dialog = gtk_message_dialog_new (
          GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
          GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
          ngettext ("Discard %u annotation?", "Discard %u annotations?", n), n);

      gtk_message_dialog_format_secondary_text (
          GTK_MESSAGE_DIALOG (dialog), "%s",
          _ ("The images shown are not in a project, so their annotations are not saved. Use "
             "New Project to keep them."));
      gtk_dialog_add_buttons (GTK_DIALOG (dialog), _ ("_Cancel"), GTK_RESPONSE_CANCEL,
                              _ ("_Discard"), GTK_RESPONSE_ACCEPT, NULL);
      g_object_set_data_full (G_OBJECT (dialog), "window", g_object_ref (self), g_object_unref);
      g_object_set_data_full (G_OBJECT (dialog), "file", g_object_ref (file), g_object_unref);
      g_signal_connect (dialog, "response", G_CALLBACK (discard_response), NULL);
      g_set_weak_pointer (&self->project->confirm_dialog, GTK_WINDOW (dialog));
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  start_load (self, file, FALSE);
}

/* Makes the project file @file (never replacing a file) and opens it. Made while images are
 * browsed, it takes them in, with their annotations. */
void
rm_window_new_project (RmWindow *self, GFile *file)
{
  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (G_IS_FILE (file));

  start_load (self, file, TRUE);
}

/* The open project, or NULL while images are browsed. */
RmProjectSession *
rm_window_get_project (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->project != NULL ? self->project->session : NULL;
}

/* TRUE while a project is being opened or made, until its last image is shown with its view. */
gboolean
rm_window_get_project_loading (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), FALSE);

  return self->project != NULL && (self->project->loading != NULL || self->project->restoring);
}

GtkWindow *
rm_window_get_import_dialog (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->project->import_dialog;
}

GtkWindow *
rm_window_get_export_dialog (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->project->export_dialog;
}

/* ---- files from outside ------------------------------------------------------------------- */

static void
add_files_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (RmWindow) self = user_data;
  g_autoptr (RmProjectContents) contents = NULL;
  g_autoptr (GError) error = NULL;

  contents = rm_project_session_add_files_finish (RM_PROJECT_SESSION (object), result, &error);
  if (self->project == NULL || self->project->session != RM_PROJECT_SESSION (object))
    return;
  if (contents == NULL)
    {
      g_autofree char *text =
          /* Translators: the reason */
          g_strdup_printf (_ ("The images could not be added to the project: %s"), error->message);

      _rm_window_show_message (self, text);
      return;
    }
  add_contents (self, contents);
  if (contents->report.warnings != NULL && contents->report.warnings->len > 0)
    _rm_window_show_message (self, contents->report.warnings->pdata[0]);
}

/* Files dropped on the window or given on the command line. With a project open they join the
 * project (TRUE); else the window browses them as before (FALSE), and the banner offers a
 * project in their folder. */
gboolean
_rm_window_project_add_files (RmWindow *self, GFile **files, guint n_files)
{
  RmWindowProject *p = self->project;
  g_autoptr (GFile) folder = NULL;
  g_autofree char *name = NULL;
  g_autofree char *base = NULL;
  g_autofree char *text = NULL;
  g_autofree char *tooltip = NULL;

  if (p == NULL || n_files == 0)
    return FALSE;
  if (p->session != NULL)
    {
      rm_project_session_add_files_async (p->session, files, n_files, NULL, add_files_done,
                                          g_object_ref (self));
      return TRUE;
    }
  if (p->loading != NULL)
    return FALSE;

  if (g_file_query_file_type (files[0], G_FILE_QUERY_INFO_NONE, NULL) == G_FILE_TYPE_DIRECTORY)
    folder = g_object_ref (files[0]);
  else
    folder = g_file_get_parent (files[0]);
  if (folder == NULL || g_file_peek_path (folder) == NULL)
    return FALSE;
  name = g_file_get_basename (folder);
  base = g_strconcat (name, RM_PROJECT_SUFFIX, NULL);
  g_clear_object (&p->offer_file);
  p->offer_file = g_file_get_child (folder, base);
  if (g_file_query_exists (p->offer_file, NULL))
    {
      /* Translators: %s is a project file's name */
      text = g_strdup_printf (_ ("This folder has a project, “%s”."), base);
      show_banner_full (self, BANNER_OFFER_OPEN, text,
                        _ ("Open it to see its annotations and to save yours."));
    }
  else
    {
      /* Translators: %s is a project file's name */
      tooltip = g_strdup_printf (_ ("Create Project saves them, and all later work, in “%s” in "
                                    "this folder."),
                                 base);
      show_banner_full (self, BANNER_OFFER_CREATE,
                        _ ("These images are in no project, so annotations are not saved."),
                        tooltip);
    }

  return FALSE;
}

/* ---- actions ------------------------------------------------------------------------------ */

static GtkFileChooserNative *
new_chooser (RmWindow *self, const char *title, GtkFileChooserAction action, const char *accept)
{
  GtkFileChooserNative *chooser;
  g_autofree char *path = g_settings_get_string (self->settings, "last-folder");
  g_autoptr (GtkFileFilter) projects = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (self), action, accept, _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (path[0] != '\0' && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GFile) folder = g_file_new_for_path (path);

      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  gtk_file_filter_set_name (projects, _ ("Refmask projects"));
  gtk_file_filter_add_pattern (projects, "*" RM_PROJECT_SUFFIX);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), projects);

  return chooser;
}

static void
open_response (GtkNativeDialog *dialog, int response, RmWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));

      if (file != NULL)
        rm_window_open_project (self, file);
    }
  g_object_unref (dialog);
}

static void
open_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkFileChooserNative *chooser;

  chooser = new_chooser (self, _ ("Open Project"), GTK_FILE_CHOOSER_ACTION_OPEN, _ ("_Open"));
  g_signal_connect (chooser, "response", G_CALLBACK (open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
new_response (GtkNativeDialog *dialog, int response, RmWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;

      if (path != NULL && !g_str_has_suffix (path, RM_PROJECT_SUFFIX))
        {
          g_autofree char *with_suffix = g_strconcat (path, RM_PROJECT_SUFFIX, NULL);

          g_clear_object (&file);
          file = g_file_new_for_path (with_suffix);
        }
      if (file != NULL)
        rm_window_new_project (self, file);
    }
  g_object_unref (dialog);
}

static void
new_project_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  GtkFileChooserNative *chooser;
  g_autofree char *name = NULL;

  chooser = new_chooser (self, _ ("New Project"), GTK_FILE_CHOOSER_ACTION_SAVE, _ ("C_reate"));
  /* Translators: the file name a new project is offered; keep ".refmask" */
  name = g_strdup (_ ("Untitled.refmask"));
  if (self->project->offer_file != NULL)
    {
      g_autoptr (GFile) folder = g_file_get_parent (self->project->offer_file);

      g_free (name);
      name = g_file_get_basename (self->project->offer_file);
      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect (chooser, "response", G_CALLBACK (new_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_imported (GtkWindow *dialog, RmProjectContents *contents, RmWindow *self)
{
  add_contents (self, contents);
}

static void
import_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  RmWindowProject *p = self->project;

  if (p->session == NULL)
    return;
  if (p->import_dialog == NULL)
    {
      GtkWindow *dialog = rm_import_dialog_new (GTK_WINDOW (self), p->session, self->settings);

      g_signal_connect_object (dialog, "imported", G_CALLBACK (on_imported), self, 0);
      g_set_weak_pointer (&p->import_dialog, dialog);
    }
  gtk_window_present (p->import_dialog);
}

static void
export_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmWindow *self = RM_WINDOW (widget);
  RmWindowProject *p = self->project;

  if (p->session == NULL)
    return;
  if (p->export_dialog == NULL)
    g_set_weak_pointer (&p->export_dialog,
                        rm_export_dialog_new (GTK_WINDOW (self), p->session, self->settings));
  gtk_window_present (p->export_dialog);
}

static void
update_project_actions (RmWindow *self)
{
  RmWindowProject *p = self->project;
  gboolean open = p->session != NULL && p->loading == NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.import", open);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.export", open);
}

static void
on_banner_button (RmWindow *self)
{
  RmWindowProject *p = self->project;

  switch (p->banner_kind)
    {
    case BANNER_OPEN_FAILED:
      show_banner (self, BANNER_NONE, NULL);
      gtk_widget_activate_action (GTK_WIDGET (self), "win.open", NULL);
      break;
    case BANNER_SAVE_FAILED:
      show_banner (self, BANNER_NONE, NULL);
      if (p->session != NULL)
        rm_project_session_retry (p->session);
      break;
    case BANNER_OFFER_CREATE:
      show_banner (self, BANNER_NONE, NULL);
      if (p->offer_file != NULL)
        rm_window_new_project (self, p->offer_file);
      break;
    case BANNER_OFFER_OPEN:
      show_banner (self, BANNER_NONE, NULL);
      if (p->offer_file != NULL)
        rm_window_open_project (self, p->offer_file);
      break;
    case BANNER_NONE:
    default:
      break;
    }
}

static void
on_banner_close (RmWindow *self)
{
  show_banner (self, BANNER_NONE, NULL);
}

static void
close_response (GtkDialog *dialog, int response, gpointer user_data)
{
  RmWindow *self = g_object_get_data (G_OBJECT (dialog), "window");

  gtk_window_destroy (GTK_WINDOW (dialog));
  if (response == GTK_RESPONSE_ACCEPT && self->project != NULL)
    {
      self->project->close_confirmed = TRUE;
      gtk_window_close (GTK_WINDOW (self));
    }
}

/* Before the window goes: the view is written, a corrected candidate is kept, and changes that
 * could not be saved are not dropped without asking. */
static gboolean
on_close_request (RmWindow *self)
{
  RmWindowProject *p = self->project;
  guint n_failed;

  if (p->session == NULL)
    return FALSE;
  save_view (self);
  save_last_image (self);
  n_failed = rm_project_session_get_n_failed (p->session);
  if (n_failed > 0 && !p->close_confirmed)
    {
      GtkWidget *dialog = gtk_message_dialog_new (
          GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_WARNING,
          GTK_BUTTONS_NONE,
          ngettext ("%u change could not be saved", "%u changes could not be saved", n_failed),
          n_failed);

      gtk_message_dialog_format_secondary_text (
          GTK_MESSAGE_DIALOG (dialog), "%s",
          _ ("Closing the window loses them. Try to save them again first, or close anyway."));
      gtk_dialog_add_buttons (GTK_DIALOG (dialog), _ ("_Retry"), GTK_RESPONSE_CANCEL,
                              _ ("_Close Anyway"), GTK_RESPONSE_ACCEPT, NULL);
      g_object_set_data_full (G_OBJECT (dialog), "window", g_object_ref (self), g_object_unref);
      g_signal_connect (dialog, "response", G_CALLBACK (close_response), NULL);
      g_set_weak_pointer (&p->confirm_dialog, GTK_WINDOW (dialog));
      gtk_window_present (GTK_WINDOW (dialog));
      rm_project_session_retry (p->session);
      return TRUE;
    }
  clear_window (self);

  return FALSE;
}

/* ---- setup -------------------------------------------------------------------------------- */

static const char *const template_ids[] = {
  "project_banner",        "project_banner_box",   "project_banner_icon", "project_banner_label",
  "project_banner_button", "project_banner_close", "image_status_filter",
};

void
_rm_window_project_class_init (GtkWidgetClass *widget_class)
{
  /* reached with gtk_widget_get_template_child () */
  for (guint i = 0; i < G_N_ELEMENTS (template_ids); i++)
    gtk_widget_class_bind_template_child_full (widget_class, template_ids[i], FALSE, 0);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "win.new-project", NULL, new_project_action);
  gtk_widget_class_install_action (widget_class, "win.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, export_action);
}

static gpointer
template_child (RmWindow *self, const char *id)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (self), RM_TYPE_WINDOW, id);

  g_assert (object != NULL);

  return object;
}

void
_rm_window_project_init (RmWindow *self)
{
  RmWindowProject *p = g_new0 (RmWindowProject, 1);

  self->project = p;
  p->banner = template_child (self, "project_banner");
  p->banner_box = template_child (self, "project_banner_box");
  p->banner_icon = template_child (self, "project_banner_icon");
  p->banner_label = template_child (self, "project_banner_label");
  p->banner_button = template_child (self, "project_banner_button");
  p->status_filter = template_child (self, "image_status_filter");
  g_signal_connect_swapped (p->banner_button, "clicked", G_CALLBACK (on_banner_button), self);
  g_signal_connect_swapped (template_child (self, "project_banner_close"), "clicked",
                            G_CALLBACK (on_banner_close), self);

  p->filter = gtk_custom_filter_new (image_matches_filter, self, NULL);
  p->filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->images)),
                                           g_object_ref (GTK_FILTER (p->filter)));
  p->filtered_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (p->filtered)));
  gtk_single_selection_set_autoselect (p->filtered_selection, FALSE);
  gtk_single_selection_set_can_unselect (p->filtered_selection, TRUE);
  g_signal_connect_swapped (p->filtered_selection, "notify::selected-item",
                            G_CALLBACK (on_filtered_selected), self);
  g_signal_connect_swapped (p->status_filter, "notify::selected",
                            G_CALLBACK (on_status_filter_changed), self);
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (on_selected_image_changed), self);

  g_signal_connect (self->annotations, "items-changed", G_CALLBACK (on_annotations_changed), self);
  g_signal_connect_swapped (self->images, "items-changed", G_CALLBACK (queue_update_counts), self);
  g_signal_connect_swapped (self->canvas, "notify::image", G_CALLBACK (on_canvas_image_changed),
                            self);
  g_signal_connect (self->model_versions, "items-changed", G_CALLBACK (on_versions_changed), self);
  g_signal_connect (self, "close-request", G_CALLBACK (on_close_request), NULL);

  update_title (self);
  update_project_actions (self);
}

void
_rm_window_project_dispose (RmWindow *self)
{
  RmWindowProject *p = self->project;

  if (p == NULL)
    return;
  close_session (self);
  g_clear_object (&p->loading);
  g_clear_handle_id (&p->counts_idle_id, g_source_remove);
  if (p->restore_tick_id != 0)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->canvas), p->restore_tick_id);
  if (self->annotations != NULL)
    g_signal_handlers_disconnect_by_data (self->annotations, self);
  if (self->images != NULL)
    g_signal_handlers_disconnect_by_data (self->images, self);
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_func (self->selection, on_selected_image_changed, self);
  if (self->model_versions != NULL)
    g_signal_handlers_disconnect_by_func (self->model_versions, on_versions_changed, self);
  if (self->canvas != NULL)
    g_signal_handlers_disconnect_by_func (self->canvas, on_canvas_image_changed, self);
  g_signal_handlers_disconnect_by_data (p->filtered_selection, self);
  g_clear_object (&p->filtered_selection);
  g_clear_object (&p->filtered);
  g_clear_object (&p->filter);
  g_clear_object (&p->restore_image);
  g_clear_object (&p->offer_file);
  g_clear_weak_pointer (&p->import_dialog);
  g_clear_weak_pointer (&p->export_dialog);
  g_clear_weak_pointer (&p->confirm_dialog);
  g_free (p->saved_view);
  g_free (p->saved_image);
  g_free (p);
  self->project = NULL;
}
