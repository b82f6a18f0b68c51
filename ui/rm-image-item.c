/* rm-image-item.c: one image of the sidebar
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-image-item.h"
#include "rm-image-pyramid.h"

/* Thumbnails decode whole images; two at a time keeps a 2-core machine responsive. */
#define MAX_RUNNING_THUMBNAILS 2

struct _RmImageItem
{
  GObject parent_instance;

  GFile *file;
  char *display_name;
  GdkPaintable *thumbnail;
  char *error_message;
  int width;
  int height;
  RmImageItemState state;
  guint n_annotations;
  guint n_candidates;
};

G_DEFINE_FINAL_TYPE (RmImageItem, rm_image_item, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_FILE,
  PROP_DISPLAY_NAME,
  PROP_THUMBNAIL,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_STATE,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Main thread only: weak references to the items waiting for a decode. */
static GQueue thumbnail_queue = G_QUEUE_INIT;
static guint n_running_thumbnails;

static void thumbnail_queue_pump (void);

typedef struct
{
  GdkTexture *thumbnail;
  int width;
  int height;
} ThumbnailResult;

static void
thumbnail_result_free (gpointer data)
{
  ThumbnailResult *result = data;

  g_clear_object (&result->thumbnail);
  g_free (result);
}

static void
thumbnail_thread (GTask *task, gpointer source_object, gpointer task_data,
                  GCancellable *cancellable)
{
  GFile *file = task_data;
  g_autofree char *path = g_file_get_path (file);
  g_autoptr (GdkTexture) texture = NULL;
  ThumbnailResult *result;
  GError *error = NULL;

  if (path != NULL)
    texture = gdk_texture_new_from_filename (path, &error);
  else
    texture = gdk_texture_new_from_file (file, &error);
  if (texture == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  result = g_new0 (ThumbnailResult, 1);
  result->width = gdk_texture_get_width (texture);
  result->height = gdk_texture_get_height (texture);
  result->thumbnail = rm_image_make_thumbnail (texture, RM_IMAGE_ITEM_THUMBNAIL_SIZE);
  g_task_return_pointer (task, result, thumbnail_result_free);
}

static void
thumbnail_done (GObject *object, GAsyncResult *res, gpointer user_data)
{
  RmImageItem *self = RM_IMAGE_ITEM (object);
  g_autoptr (GError) error = NULL;
  ThumbnailResult *result;

  result = g_task_propagate_pointer (G_TASK (res), &error);
  g_object_freeze_notify (object);
  if (result == NULL)
    {
      g_free (self->error_message);
      self->error_message = g_strdup (error->message);
      self->state = RM_IMAGE_ITEM_STATE_FAILED;
    }
  else
    {
      rm_image_item_set_size (self, result->width, result->height);
      if (g_set_object (&self->thumbnail, GDK_PAINTABLE (result->thumbnail)))
        g_object_notify_by_pspec (object, properties[PROP_THUMBNAIL]);
      self->state = RM_IMAGE_ITEM_STATE_READY;
      thumbnail_result_free (result);
    }
  g_object_notify_by_pspec (object, properties[PROP_STATE]);
  g_object_thaw_notify (object);

  n_running_thumbnails--;
  thumbnail_queue_pump ();
}

static void
thumbnail_queue_pump (void)
{
  while (n_running_thumbnails < MAX_RUNNING_THUMBNAILS && !g_queue_is_empty (&thumbnail_queue))
    {
      GWeakRef *ref = g_queue_pop_head (&thumbnail_queue);
      g_autoptr (RmImageItem) item = g_weak_ref_get (ref);
      g_autoptr (GTask) task = NULL;

      g_weak_ref_clear (ref);
      g_free (ref);

      /* The queue holds weak references: an image whose list is gone is not decoded. */
      if (item == NULL)
        continue;

      task = g_task_new (item, NULL, thumbnail_done, NULL);
      g_task_set_source_tag (task, rm_image_item_ensure_thumbnail);
      g_task_set_task_data (task, g_object_ref (item->file), g_object_unref);
      g_task_run_in_thread (task, thumbnail_thread);
      n_running_thumbnails++;
    }
}

/* Queues a thumbnail decode if there is none yet; rows call this when they are bound, so only
 * images that are scrolled into view are decoded. */
void
rm_image_item_ensure_thumbnail (RmImageItem *self)
{
  GWeakRef *ref;

  g_return_if_fail (RM_IS_IMAGE_ITEM (self));

  if (self->state != RM_IMAGE_ITEM_STATE_NONE)
    return;

  self->state = RM_IMAGE_ITEM_STATE_LOADING;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, self);
  g_queue_push_tail (&thumbnail_queue, ref);
  thumbnail_queue_pump ();
}

static void
rm_image_item_finalize (GObject *object)
{
  RmImageItem *self = (RmImageItem *) object;

  g_clear_object (&self->file);
  g_clear_object (&self->thumbnail);
  g_clear_pointer (&self->display_name, g_free);
  g_clear_pointer (&self->error_message, g_free);

  G_OBJECT_CLASS (rm_image_item_parent_class)->finalize (object);
}

static void
rm_image_item_constructed (GObject *object)
{
  RmImageItem *self = (RmImageItem *) object;

  G_OBJECT_CLASS (rm_image_item_parent_class)->constructed (object);

  g_assert (self->file != NULL);
  self->display_name = g_file_get_basename (self->file);
}

static void
rm_image_item_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmImageItem *self = RM_IMAGE_ITEM (object);

  switch (prop_id)
    {
    case PROP_FILE:
      g_value_set_object (value, self->file);
      break;
    case PROP_DISPLAY_NAME:
      g_value_set_string (value, self->display_name);
      break;
    case PROP_THUMBNAIL:
      g_value_set_object (value, self->thumbnail);
      break;
    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_STATUS:
      g_value_set_int (value, rm_image_item_get_status (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_image_item_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmImageItem *self = RM_IMAGE_ITEM (object);

  switch (prop_id)
    {
    case PROP_FILE:
      self->file = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_image_item_class_init (RmImageItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = rm_image_item_constructed;
  object_class->finalize = rm_image_item_finalize;
  object_class->get_property = rm_image_item_get_property;
  object_class->set_property = rm_image_item_set_property;

  properties[PROP_FILE] =
      g_param_spec_object ("file", NULL, NULL, G_TYPE_FILE,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DISPLAY_NAME] = g_param_spec_string ("display-name", NULL, NULL, NULL,
                                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_THUMBNAIL] =
      g_param_spec_object ("thumbnail", NULL, NULL, GDK_TYPE_PAINTABLE,
                           G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_WIDTH] =
      g_param_spec_int ("width", NULL, NULL, 0, G_MAXINT, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_HEIGHT] =
      g_param_spec_int ("height", NULL, NULL, 0, G_MAXINT, 0,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
      g_param_spec_int ("state", NULL, NULL, RM_IMAGE_ITEM_STATE_NONE, RM_IMAGE_ITEM_STATE_FAILED,
                        RM_IMAGE_ITEM_STATE_NONE,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* An RmImageStatus, from the counts of annotations and candidates. */
  properties[PROP_STATUS] =
      g_param_spec_int ("status", NULL, NULL, RM_IMAGE_STATUS_UNLABELLED, RM_IMAGE_STATUS_REVIEWED,
                        RM_IMAGE_STATUS_UNLABELLED,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rm_image_item_init (RmImageItem *self)
{
}

RmImageItem *
rm_image_item_new (GFile *file)
{
  g_return_val_if_fail (G_IS_FILE (file), NULL);

  return g_object_new (RM_TYPE_IMAGE_ITEM, "file", file, NULL);
}

GFile *
rm_image_item_get_file (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), NULL);

  return self->file;
}

const char *
rm_image_item_get_display_name (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), NULL);

  return self->display_name;
}

GdkPaintable *
rm_image_item_get_thumbnail (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), NULL);

  return self->thumbnail;
}

int
rm_image_item_get_width (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), 0);

  return self->width;
}

int
rm_image_item_get_height (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), 0);

  return self->height;
}

RmImageItemState
rm_image_item_get_state (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), RM_IMAGE_ITEM_STATE_NONE);

  return self->state;
}

const char *
rm_image_item_get_error_message (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), NULL);

  return self->error_message;
}

void
rm_image_item_set_size (RmImageItem *self, int width, int height)
{
  g_return_if_fail (RM_IS_IMAGE_ITEM (self));

  if (self->width != width)
    {
      self->width = width;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WIDTH]);
    }
  if (self->height != height)
    {
      self->height = height;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HEIGHT]);
    }
}

/* ---- scanning files and folders ---------------------------------------------------------- */

typedef struct
{
  GPtrArray *files; /* of GFile */
  guint n_skipped;
} ScanResult;

static void
scan_result_free (gpointer data)
{
  ScanResult *result = data;

  g_ptr_array_unref (result->files);
  g_free (result);
}

gboolean
rm_image_content_type_is_supported (const char *content_type)
{
  static const char *const types[] = {
    "image/png", "image/jpeg", "image/tiff", "image/bmp", "image/webp", "image/gif",
  };
  g_autofree char *mime = NULL;

  if (content_type == NULL)
    return FALSE;

  mime = g_content_type_get_mime_type (content_type);
  for (guint i = 0; mime != NULL && i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (mime, types[i]))
      return TRUE;

  return FALSE;
}

static int
compare_by_collate_key (gconstpointer a, gconstpointer b)
{
  GFile *fa = *(GFile *const *) a;
  GFile *fb = *(GFile *const *) b;

  return g_strcmp0 (g_object_get_data (G_OBJECT (fa), "rm-collate-key"),
                    g_object_get_data (G_OBJECT (fb), "rm-collate-key"));
}

static void
scan_folder (GFile *folder, ScanResult *result, GCancellable *cancellable)
{
  g_autoptr (GFileEnumerator) enumerator = NULL;
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;

  enumerator = g_file_enumerate_children (folder,
                                          G_FILE_ATTRIBUTE_STANDARD_NAME
                                          "," G_FILE_ATTRIBUTE_STANDARD_TYPE
                                          "," G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE
                                          "," G_FILE_ATTRIBUTE_STANDARD_IS_HIDDEN,
                                          G_FILE_QUERY_INFO_NONE, cancellable, &error);
  if (enumerator == NULL)
    {
      g_autofree char *name = g_file_get_parse_name (folder);

      g_warning ("Cannot list %s: %s", name, error->message);
      result->n_skipped++;
      return;
    }

  for (;;)
    {
      GFileInfo *info = NULL;
      GFile *child = NULL;

      if (!g_file_enumerator_iterate (enumerator, &info, &child, cancellable, NULL) || info == NULL)
        break;
      if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR ||
          g_file_info_get_is_hidden (info))
        continue;
      if (!rm_image_content_type_is_supported (g_file_info_get_content_type (info)))
        continue;

      g_object_set_data_full (G_OBJECT (child), "rm-collate-key",
                              g_utf8_collate_key_for_filename (g_file_info_get_name (info), -1),
                              g_free);
      g_ptr_array_add (found, g_object_ref (child));
    }

  g_ptr_array_sort (found, compare_by_collate_key);
  for (guint i = 0; i < found->len; i++)
    {
      g_object_set_data (found->pdata[i], "rm-collate-key", NULL);
      g_ptr_array_add (result->files, g_object_ref (found->pdata[i]));
    }
}

static void
scan_thread (GTask *task, gpointer source_object, gpointer task_data, GCancellable *cancellable)
{
  GPtrArray *inputs = task_data;
  ScanResult *result = g_new0 (ScanResult, 1);

  result->files = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < inputs->len; i++)
    {
      GFile *file = inputs->pdata[i];
      g_autoptr (GFileInfo) info = NULL;

      if (g_cancellable_is_cancelled (cancellable))
        break;

      info = g_file_query_info (
          file, G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE,
          G_FILE_QUERY_INFO_NONE, cancellable, NULL);
      if (info == NULL)
        result->n_skipped++;
      else if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
        scan_folder (file, result, cancellable);
      else if (rm_image_content_type_is_supported (g_file_info_get_content_type (info)))
        g_ptr_array_add (result->files, g_object_ref (file));
      else
        result->n_skipped++;
    }

  if (g_task_return_error_if_cancelled (task))
    scan_result_free (result);
  else
    g_task_return_pointer (task, result, scan_result_free);
}

void
rm_image_scan_async (GFile **files, guint n_files, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  GPtrArray *inputs;

  g_return_if_fail (files != NULL || n_files == 0);

  inputs = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < n_files; i++)
    g_ptr_array_add (inputs, g_object_ref (files[i]));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, rm_image_scan_async);
  g_task_set_task_data (task, inputs, (GDestroyNotify) g_ptr_array_unref);
  g_task_run_in_thread (task, scan_thread);
}

/* Returns the image files (GFile), in order: folders sorted by file name. */
GPtrArray *
rm_image_scan_finish (GAsyncResult *result, guint *n_skipped, GError **error)
{
  ScanResult *scan;
  GPtrArray *files;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  scan = g_task_propagate_pointer (G_TASK (result), error);
  if (scan == NULL)
    return NULL;

  if (n_skipped != NULL)
    *n_skipped = scan->n_skipped;
  files = g_steal_pointer (&scan->files);
  g_free (scan);

  return files;
}

RmImageStatus
rm_image_item_get_status (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), RM_IMAGE_STATUS_UNLABELLED);

  if (self->n_candidates > 0)
    return RM_IMAGE_STATUS_CANDIDATES;

  return self->n_annotations > 0 ? RM_IMAGE_STATUS_REVIEWED : RM_IMAGE_STATUS_UNLABELLED;
}

/* Annotations of the image, all statuses. */
guint
rm_image_item_get_n_annotations (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), 0);

  return self->n_annotations;
}

guint
rm_image_item_get_n_candidates (RmImageItem *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ITEM (self), 0);

  return self->n_candidates;
}

/* The window counts the image's annotations; "status" is notified when the counts change. */
void
rm_image_item_set_counts (RmImageItem *self, guint n_annotations, guint n_candidates)
{
  g_return_if_fail (RM_IS_IMAGE_ITEM (self));
  g_return_if_fail (n_candidates <= n_annotations);

  if (self->n_annotations == n_annotations && self->n_candidates == n_candidates)
    return;
  self->n_annotations = n_annotations;
  self->n_candidates = n_candidates;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}
