/* rm-window.c: the main window
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-annotation-row.h"
#include "rm-application.h"
#include "rm-image-item.h"
#include "rm-image-pyramid.h"
#include "rm-image-row.h"
#include "rm-window-private.h"

#include <glib/gi18n.h>

#define MESSAGE_TIMEOUT_SECONDS 6

G_DEFINE_FINAL_TYPE (RmWindow, rm_window, GTK_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_BUSY,
  PROP_SETTINGS,
  PROP_TOOL,
  PROP_SHOW_PRIOR,
  PROP_MODEL_VERSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  ANNOTATION_ADDED,
  ANNOTATION_REMOVED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* as RmCanvasTool */
static const char *const tools[] = { "pan", "brush", "eraser", "polygon", "polygon-erase" };

static void
set_tool (RmWindow *self, const char *tool)
{
  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    if (g_strcmp0 (tool, tools[i]) == 0)
      {
        if (g_str_equal (self->tool, tools[i]))
          return;
        g_free (self->tool);
        self->tool = g_strdup (tools[i]);
        rm_canvas_set_tool (self->canvas, (RmCanvasTool) i);
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOOL]);
        return;
      }
  g_warning ("unknown tool “%s”", tool);
}

void
_rm_window_emit_annotation_added (RmWindow *self, RmAnnotation *annotation)
{
  g_signal_emit (self, signals[ANNOTATION_ADDED], 0, annotation);
}

void
_rm_window_emit_annotation_removed (RmWindow *self, RmAnnotation *annotation)
{
  g_signal_emit (self, signals[ANNOTATION_REMOVED], 0, annotation);
}

void
_rm_window_notify_model_version (RmWindow *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL_VERSION]);
}

static void
set_busy (RmWindow *self, guint n_scans, gboolean loading_image)
{
  gboolean was_busy = rm_window_get_busy (self);

  self->n_scans = n_scans;
  self->loading_image = loading_image;
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), loading_image || n_scans > 0);
  gtk_spinner_set_spinning (self->spinner, loading_image || n_scans > 0);

  if (was_busy != rm_window_get_busy (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static RmImageItem *
get_selected_item (RmWindow *self)
{
  return gtk_single_selection_get_selected_item (self->selection);
}

static void
update_title (RmWindow *self)
{
  RmImageItem *item = get_selected_item (self);
  g_autofree char *subtitle = NULL;

  if (item != NULL && rm_image_item_get_width (item) > 0)
    /* Translators: the window subtitle: file name, then width × height in pixels */
    subtitle = g_strdup_printf (_ ("%s — %d × %d"), rm_image_item_get_display_name (item),
                                rm_image_item_get_width (item), rm_image_item_get_height (item));
  else if (item != NULL)
    subtitle = g_strdup (rm_image_item_get_display_name (item));

  gtk_label_set_label (self->subtitle_label, subtitle);
  gtk_widget_set_visible (GTK_WIDGET (self->subtitle_label), subtitle != NULL);
}

static void
update_image_count (RmWindow *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  g_autofree char *text = NULL;

  if (n == 0)
    text = g_strdup (_ ("No images"));
  else
    text = g_strdup_printf (ngettext ("%u image", "%u images", n), n);
  gtk_label_set_label (self->image_count_label, text);
}

static void
update_content (RmWindow *self)
{
  gboolean has_items = g_list_model_get_n_items (G_LIST_MODEL (self->images)) > 0;
  gboolean has_image = rm_canvas_get_image (self->canvas) != NULL;

  gtk_stack_set_visible_child_name (self->content_stack, has_items ? "canvas" : "empty");
  gtk_widget_set_visible (self->zoom_box, has_image);
}

static void
on_canvas_zoom_changed (RmWindow *self)
{
  g_autofree char *text = NULL;

  /* Translators: a zoom level in percent */
  text = g_strdup_printf (_ ("%.0f %%"), rm_canvas_get_zoom (self->canvas) * 100);
  gtk_label_set_label (self->zoom_label, text);
  _rm_window_actions_update (self);
}

static gboolean
hide_message (gpointer user_data)
{
  RmWindow *self = user_data;

  gtk_revealer_set_reveal_child (self->message_revealer, FALSE);
  self->message_timeout_id = 0;

  return G_SOURCE_REMOVE;
}

static void
on_message_close (RmWindow *self)
{
  g_clear_handle_id (&self->message_timeout_id, g_source_remove);
  hide_message (self);
}

/* A short, non-modal notice over the canvas that goes away by itself. */
void
_rm_window_show_message (RmWindow *self, const char *message)
{
  g_return_if_fail (RM_IS_WINDOW (self));

  gtk_label_set_label (self->message_label, message);
  gtk_revealer_set_reveal_child (self->message_revealer, TRUE);
  g_clear_handle_id (&self->message_timeout_id, g_source_remove);
  self->message_timeout_id = g_timeout_add_seconds (MESSAGE_TIMEOUT_SECONDS, hide_message, self);
}

static void
on_query_activate (RmWindow *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.run-query", NULL);
}

static void
on_model_banner_close (RmWindow *self)
{
  gtk_revealer_set_reveal_child (self->model_banner, FALSE);
}

static void
on_annotation_activate (RmWindow *self, guint position)
{
  _rm_window_annotation_activate (self, position);
}

/* ---- sidebar rows ------------------------------------------------------------------------ */

static void
on_row_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item, RmWindow *self)
{
  gtk_list_item_set_child (list_item, rm_image_row_new ());
}

static void
on_row_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item, RmWindow *self)
{
  rm_image_row_set_item (RM_IMAGE_ROW (gtk_list_item_get_child (list_item)),
                         gtk_list_item_get_item (list_item));
}

static void
on_row_unbind (GtkSignalListItemFactory *factory, GtkListItem *list_item, RmWindow *self)
{
  rm_image_row_set_item (RM_IMAGE_ROW (gtk_list_item_get_child (list_item)), NULL);
}

/* ---- loading the selected image ---------------------------------------------------------- */

typedef struct
{
  RmWindow *self;
  RmImageItem *item;
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_object_unref (data->self);
  g_object_unref (data->item);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LoadData, load_data_free)

static void
load_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (LoadData) data = user_data;
  RmWindow *self = data->self;
  g_autoptr (RmImagePyramid) pyramid = NULL;
  g_autoptr (GError) error = NULL;

  pyramid = rm_image_pyramid_new_from_file_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* a newer load owns the canvas */

  g_clear_object (&self->load_cancellable);
  set_busy (self, self->n_scans, FALSE);

  if (pyramid == NULL)
    {
      g_autofree char *message = NULL;

      /* Translators: the first %s is a file name, the second the reason */
      message = g_strdup_printf (_ ("Cannot open “%s”: %s"),
                                 rm_image_item_get_display_name (data->item), error->message);
      _rm_window_show_message (self, message);
      rm_canvas_set_image (self->canvas, NULL);
    }
  else
    {
      rm_image_item_set_size (data->item, rm_image_pyramid_get_width (pyramid),
                              rm_image_pyramid_get_height (pyramid));
      rm_canvas_set_image (self->canvas, pyramid);
    }

  update_title (self);
  update_content (self);
  _rm_window_actions_update (self);
}

static void
on_selection_changed (RmWindow *self)
{
  RmImageItem *item = get_selected_item (self);
  guint position = gtk_single_selection_get_selected (self->selection);
  LoadData *data;

  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);

  _rm_window_image_changed (self);
  update_title (self);
  _rm_window_actions_update (self);

  if (item == NULL)
    {
      rm_canvas_set_image (self->canvas, NULL);
      set_busy (self, self->n_scans, FALSE);
      update_content (self);
      return;
    }

  gtk_widget_activate_action (GTK_WIDGET (self->image_list), "list.scroll-to-item", "u", position);

  self->load_cancellable = g_cancellable_new ();
  set_busy (self, self->n_scans, TRUE);

  data = g_new0 (LoadData, 1);
  data->self = g_object_ref (self);
  data->item = g_object_ref (item);
  rm_image_pyramid_new_from_file_async (rm_image_item_get_file (item), self->load_cancellable,
                                        load_done, data);
}

/* ---- adding files ------------------------------------------------------------------------ */

typedef struct
{
  RmWindow *self;
  gboolean replace;
} ScanData;

static void
scan_data_free (ScanData *data)
{
  g_object_unref (data->self);
  g_free (data);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScanData, scan_data_free)

static void
scan_done (GObject *object, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (ScanData) data = user_data;
  RmWindow *self = data->self;
  g_autoptr (GPtrArray) files = NULL;
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GError) error = NULL;
  guint n_skipped = 0;
  guint first_new;

  files = rm_image_scan_finish (result, &n_skipped, &error);
  set_busy (self, self->n_scans - 1, self->loading_image);
  if (files == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _rm_window_show_message (self, error->message);
      return;
    }

  if (data->replace)
    {
      g_hash_table_remove_all (self->known_files);
      g_list_store_remove_all (self->images);
    }

  items = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < files->len; i++)
    {
      GFile *file = files->pdata[i];

      if (g_hash_table_add (self->known_files, g_object_ref (file)))
        g_ptr_array_add (items, rm_image_item_new (file));
    }

  first_new = g_list_model_get_n_items (G_LIST_MODEL (self->images));
  g_list_store_splice (self->images, first_new, 0, items->pdata, items->len);

  if (files->len == 0)
    _rm_window_show_message (self, _ ("No images found. Refmask reads PNG, JPEG and TIFF files."));
  else if (n_skipped > 0)
    {
      g_autofree char *message =
          g_strdup_printf (ngettext ("%u file was not an image and was skipped",
                                     "%u files were not images and were skipped", n_skipped),
                           n_skipped);

      _rm_window_show_message (self, message);
    }

  if (items->len > 0 && (data->replace || gtk_single_selection_get_selected (self->selection) ==
                                              GTK_INVALID_LIST_POSITION))
    rm_window_select_image (self, first_new);

  update_image_count (self);
  update_content (self);
  _rm_window_actions_update (self);
}

/* Adds the images among @files, expanding folders; with @replace, the new images replace the
 * current list (opening a project) instead of joining it (importing). */
void
rm_window_add_files (RmWindow *self, GFile **files, guint n_files, gboolean replace)
{
  ScanData *data;

  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (files != NULL || n_files == 0);

  if (_rm_window_project_add_files (self, files, n_files))
    return; /* they join the open project */
  if (replace)
    {
      g_cancellable_cancel (self->scan_cancellable);
      g_clear_object (&self->scan_cancellable);
    }
  if (self->scan_cancellable == NULL)
    self->scan_cancellable = g_cancellable_new ();

  data = g_new0 (ScanData, 1);
  data->self = g_object_ref (self);
  data->replace = replace;
  set_busy (self, self->n_scans + 1, self->loading_image);
  rm_image_scan_async (files, n_files, self->scan_cancellable, scan_done, data);
}

/* The image list was changed directly (rm-window-project.c). */
void
_rm_window_images_changed (RmWindow *self)
{
  update_image_count (self);
  update_content (self);
  _rm_window_actions_update (self);
}

static gboolean
on_drop (GtkDropTarget *target, const GValue *value, double x, double y, RmWindow *self)
{
  GSList *list = g_value_get_boxed (value);
  g_autoptr (GPtrArray) files = g_ptr_array_new ();

  for (GSList *l = list; l != NULL; l = l->next)
    g_ptr_array_add (files, l->data);
  rm_window_add_files (self, (GFile **) files->pdata, files->len, FALSE);

  return files->len > 0;
}

/* ---- GObject ----------------------------------------------------------------------------- */

static gboolean
rm_window_close_request (GtkWindow *window)
{
  RmWindow *self = RM_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_delay (self->settings);
  g_settings_set (self->settings, "window-size", "(ii)", width, height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  g_settings_apply (self->settings);

  return GTK_WINDOW_CLASS (rm_window_parent_class)->close_request (window);
}

static void
rm_window_constructed (GObject *object)
{
  RmWindow *self = (RmWindow *) object;
  int width, height;

  G_OBJECT_CLASS (rm_window_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));
  g_settings_get (self->settings, "window-size", "(ii)", &width, &height);
  gtk_window_set_default_size (GTK_WINDOW (self), width, height);
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  _rm_window_model_init (self);
  _rm_window_project_init (self);
  _rm_window_actions_update (self);
}

static void
rm_window_dispose (GObject *object)
{
  RmWindow *self = (RmWindow *) object;

  g_cancellable_cancel (self->scan_cancellable);
  g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->scan_cancellable);
  g_clear_object (&self->load_cancellable);
  g_clear_handle_id (&self->message_timeout_id, g_source_remove);
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  /* the dialogs may outlive the window a moment (their work ends first): no pointer back */
  if (self->batch_dialog != NULL)
    {
      GtkWindow *dialog = g_steal_pointer (&self->batch_dialog);

      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->batch_dialog);
      gtk_window_destroy (dialog);
    }
  if (self->finetune_dialog != NULL)
    {
      GtkWindow *dialog = g_steal_pointer (&self->finetune_dialog);

      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->finetune_dialog);
      gtk_window_destroy (dialog);
    }
  _rm_window_project_dispose (self);
  _rm_window_model_dispose (self);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_WINDOW);
  g_clear_object (&self->selection);
  g_clear_object (&self->images);
  g_clear_pointer (&self->known_files, g_hash_table_unref);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (rm_window_parent_class)->dispose (object);
}

static void
rm_window_finalize (GObject *object)
{
  RmWindow *self = (RmWindow *) object;

  g_free (self->tool);

  G_OBJECT_CLASS (rm_window_parent_class)->finalize (object);
}

static void
rm_window_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmWindow *self = RM_WINDOW (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, rm_window_get_busy (self));
      break;
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    case PROP_TOOL:
      g_value_set_string (value, self->tool);
      break;
    case PROP_SHOW_PRIOR:
      g_value_set_boolean (value, self->canvas != NULL && rm_canvas_get_show_prior (self->canvas));
      break;
    case PROP_MODEL_VERSION:
      {
        const char *dir =
            self->segmenter != NULL ? rm_segmenter_get_model_dir (self->segmenter) : NULL;

        g_value_set_string (value, dir != NULL ? dir : "");
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_window_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmWindow *self = RM_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    case PROP_TOOL:
      set_tool (self, g_value_get_string (value));
      break;
    case PROP_SHOW_PRIOR:
      if (rm_canvas_get_show_prior (self->canvas) != g_value_get_boolean (value))
        {
          rm_canvas_set_show_prior (self->canvas, g_value_get_boolean (value));
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    case PROP_MODEL_VERSION:
      {
        const char *dir = g_value_get_string (value);

        if (dir != NULL && dir[0] != '\0' &&
            g_strcmp0 (dir, rm_segmenter_get_model_dir (self->segmenter)) != 0)
          rm_window_load_model (self, dir);
      }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_window_class_init (RmWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = rm_window_constructed;
  object_class->dispose = rm_window_dispose;
  object_class->finalize = rm_window_finalize;
  object_class->get_property = rm_window_get_property;
  object_class->set_property = rm_window_set_property;
  window_class->close_request = rm_window_close_request;

  properties[PROP_BUSY] =
      g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                            G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* What the primary button does on the image: "pan", "brush", "eraser" (drags), "polygon" or
   * "polygon-erase" (clicks add corners) (win.tool). */
  properties[PROP_TOOL] =
      g_param_spec_string ("tool", NULL, NULL, "pan",
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* Whether the candidate's prior is drawn as a heatmap (win.toggle-prior). */
  properties[PROP_SHOW_PRIOR] =
      g_param_spec_boolean ("show-prior", NULL, NULL, FALSE,
                            G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* The folder of the model loaded (or loading), "" if none; setting it loads that model
   * (win.model-version, the model switcher's items). */
  properties[PROP_MODEL_VERSION] =
      g_param_spec_string ("model-version", NULL, NULL, "",
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* annotation-added (annotation): a candidate was accepted or rejected (or left after being
   * corrected), batch labelling made one, or undoing a deletion brought one back (it keeps its
   * id); it joined the annotations. A project store saves it from here; later changes (status,
   * expression, mask) are notified on the annotation. */
  signals[ANNOTATION_ADDED] =
      g_signal_new ("annotation-added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, RM_TYPE_ANNOTATION);
  /* annotation-removed (annotation): the user deleted it (or redid a deletion). */
  signals[ANNOTATION_REMOVED] =
      g_signal_new ("annotation-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, RM_TYPE_ANNOTATION);

  g_type_ensure (RM_TYPE_CANVAS);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class, RM_RESOURCE_PATH "/rm-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RmWindow, title_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, subtitle_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, image_list);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, image_count_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, canvas);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, zoom_box);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, zoom_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, spinner);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, message_revealer);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, message_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, query_entry);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, query_status_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, model_banner);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, model_banner_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, recent_button);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, segment_button);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, edit_bar);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, candidate_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, query_progress);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, brush_adjustment);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, annotation_list);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, annotation_count_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, annotation_stack);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, review_bar);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, review_counter_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, review_label);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, model_button);
  gtk_widget_class_bind_template_child (widget_class, RmWindow, review_button);
  gtk_widget_class_bind_template_callback (widget_class, on_canvas_zoom_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_message_close);
  gtk_widget_class_bind_template_callback (widget_class, on_query_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_row_setup);
  gtk_widget_class_bind_template_callback (widget_class, on_row_bind);
  gtk_widget_class_bind_template_callback (widget_class, on_row_unbind);
  gtk_widget_class_bind_template_callback (widget_class, on_model_banner_close);
  gtk_widget_class_bind_template_callback_full (widget_class, "on_annotation_row_setup",
                                                G_CALLBACK (_rm_window_annotation_row_setup));
  gtk_widget_class_bind_template_callback_full (widget_class, "on_annotation_row_bind",
                                                G_CALLBACK (_rm_window_annotation_row_bind));
  gtk_widget_class_bind_template_callback_full (widget_class, "on_annotation_row_unbind",
                                                G_CALLBACK (_rm_window_annotation_row_unbind));
  gtk_widget_class_bind_template_callback (widget_class, on_annotation_activate);

  _rm_window_class_actions_init (widget_class);
}

static void
rm_window_init (RmWindow *self)
{
  GtkDropTarget *drop;

  /* the property actions read their state while the template is being built */
  self->tool = g_strdup ("pan");
  gtk_widget_init_template (GTK_WIDGET (self));

  self->known_files =
      g_hash_table_new_full (g_file_hash, (GEqualFunc) g_file_equal, g_object_unref, NULL);
  self->images = g_list_store_new (RM_TYPE_IMAGE_ITEM);
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->images)));
  gtk_single_selection_set_autoselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "notify::selected-item",
                            G_CALLBACK (on_selection_changed), self);
  gtk_list_view_set_model (self->image_list, GTK_SELECTION_MODEL (self->selection));

  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  on_canvas_zoom_changed (self);
  update_image_count (self);
  update_content (self);
  _rm_window_actions_update (self);
}

RmWindow *
rm_window_new (RmApplication *application)
{
  g_return_val_if_fail (RM_IS_APPLICATION (application), NULL);

  return g_object_new (RM_TYPE_WINDOW, "application", application, "settings",
                       rm_application_get_settings (application), NULL);
}

/* The listed images, a GListModel of RmImageItem. */
GListModel *
rm_window_get_images (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return G_LIST_MODEL (self->images);
}

guint
rm_window_get_selected (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), GTK_INVALID_LIST_POSITION);

  return gtk_single_selection_get_selected (self->selection);
}

void
rm_window_select_image (RmWindow *self, guint position)
{
  g_return_if_fail (RM_IS_WINDOW (self));
  g_return_if_fail (position < g_list_model_get_n_items (G_LIST_MODEL (self->images)));

  gtk_single_selection_set_selected (self->selection, position);
}

RmCanvas *
rm_window_get_canvas (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), NULL);

  return self->canvas;
}

/* TRUE while folders are being scanned or an image is being decoded. */
gboolean
rm_window_get_busy (RmWindow *self)
{
  g_return_val_if_fail (RM_IS_WINDOW (self), FALSE);

  return self->n_scans > 0 || self->loading_image;
}
