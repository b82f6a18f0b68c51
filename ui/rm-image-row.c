/* rm-image-row.c: a sidebar row showing one image
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rm-image-item.h"
#include "rm-image-row.h"

#include <glib/gi18n.h>

struct _RmImageRow
{
  GtkWidget parent_instance;

  RmImageItem *item;
  GSignalGroup *item_signals;

  GtkImage *thumbnail;
  GtkLabel *name_label;
  GtkLabel *detail_label;
  GtkLabel *badge_label;
};

G_DEFINE_FINAL_TYPE (RmImageRow, rm_image_row, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ITEM,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *const badge_classes[] = { "unlabelled", "candidates", "reviewed" };

static void
update_badge (RmImageRow *self)
{
  RmImageItem *item = self->item;
  GtkWidget *badge = GTK_WIDGET (self->badge_label);
  RmImageStatus status =
      item != NULL ? rm_image_item_get_status (item) : RM_IMAGE_STATUS_UNLABELLED;
  g_autofree char *text = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (badge_classes); i++)
    if (i == (guint) status)
      gtk_widget_add_css_class (badge, badge_classes[i]);
    else
      gtk_widget_remove_css_class (badge, badge_classes[i]);

  switch (status)
    {
    case RM_IMAGE_STATUS_CANDIDATES:
      {
        guint n = rm_image_item_get_n_candidates (item);

        /* Translators: the sidebar badge of an image with candidates to review */
        text = g_strdup_printf (ngettext ("%u candidate", "%u candidates", n), n);
      }
      break;
    case RM_IMAGE_STATUS_REVIEWED:
      /* Translators: the sidebar badge of an image whose annotations are all reviewed */
      text = g_strdup (_ ("Reviewed"));
      break;
    case RM_IMAGE_STATUS_UNLABELLED:
    default:
      /* Translators: the sidebar badge of an image without annotations */
      text = g_strdup (_ ("Unlabelled"));
      break;
    }
  gtk_label_set_label (self->badge_label, text);
  gtk_widget_set_visible (badge, item != NULL);
}

static void
update (RmImageRow *self)
{
  RmImageItem *item = self->item;
  g_autofree char *detail = NULL;

  update_badge (self);
  if (item == NULL)
    {
      gtk_label_set_label (self->name_label, "");
      gtk_label_set_label (self->detail_label, "");
      gtk_image_set_from_icon_name (self->thumbnail, "image-x-generic-symbolic");
      return;
    }

  gtk_label_set_label (self->name_label, rm_image_item_get_display_name (item));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), rm_image_item_get_display_name (item));

  switch (rm_image_item_get_state (item))
    {
    case RM_IMAGE_ITEM_STATE_READY:
      /* Translators: image size in pixels, width × height */
      detail = g_strdup_printf (_ ("%d × %d"), rm_image_item_get_width (item),
                                rm_image_item_get_height (item));
      gtk_image_set_from_paintable (self->thumbnail, rm_image_item_get_thumbnail (item));
      gtk_widget_remove_css_class (GTK_WIDGET (self->detail_label), "error");
      break;
    case RM_IMAGE_ITEM_STATE_FAILED:
      detail = g_strdup (_ ("Cannot read this image"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self), rm_image_item_get_error_message (item));
      gtk_image_set_from_icon_name (self->thumbnail, "image-missing");
      gtk_widget_add_css_class (GTK_WIDGET (self->detail_label), "error");
      break;
    case RM_IMAGE_ITEM_STATE_NONE:
    case RM_IMAGE_ITEM_STATE_LOADING:
    default:
      detail = g_strdup (_ ("Loading…"));
      gtk_image_set_from_icon_name (self->thumbnail, "image-x-generic-symbolic");
      gtk_widget_remove_css_class (GTK_WIDGET (self->detail_label), "error");
      break;
    }
  gtk_label_set_label (self->detail_label, detail);
}

static void
rm_image_row_dispose (GObject *object)
{
  RmImageRow *self = (RmImageRow *) object;
  GtkWidget *child;

  g_signal_group_set_target (self->item_signals, NULL);
  g_clear_object (&self->item_signals);
  g_clear_object (&self->item);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_IMAGE_ROW);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (rm_image_row_parent_class)->dispose (object);
}

static void
rm_image_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmImageRow *self = RM_IMAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_ITEM:
      g_value_set_object (value, self->item);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_image_row_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmImageRow *self = RM_IMAGE_ROW (object);

  switch (prop_id)
    {
    case PROP_ITEM:
      rm_image_row_set_item (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_image_row_class_init (RmImageRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rm_image_row_dispose;
  object_class->get_property = rm_image_row_get_property;
  object_class->set_property = rm_image_row_set_property;

  properties[PROP_ITEM] =
      g_param_spec_object ("item", NULL, NULL, RM_TYPE_IMAGE_ITEM,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class, RM_RESOURCE_PATH "/rm-image-row.ui");
  gtk_widget_class_bind_template_child (widget_class, RmImageRow, thumbnail);
  gtk_widget_class_bind_template_child (widget_class, RmImageRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, RmImageRow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, RmImageRow, badge_label);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "rmimagerow");
}

static void
rm_image_row_init (RmImageRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->item_signals = g_signal_group_new (RM_TYPE_IMAGE_ITEM);
  g_signal_group_connect_swapped (self->item_signals, "notify::state", G_CALLBACK (update), self);
  g_signal_group_connect_swapped (self->item_signals, "notify::thumbnail", G_CALLBACK (update),
                                  self);
  g_signal_group_connect_swapped (self->item_signals, "notify::status", G_CALLBACK (update_badge),
                                  self);
  update (self);
}

GtkWidget *
rm_image_row_new (void)
{
  return g_object_new (RM_TYPE_IMAGE_ROW, NULL);
}

RmImageItem *
rm_image_row_get_item (RmImageRow *self)
{
  g_return_val_if_fail (RM_IS_IMAGE_ROW (self), NULL);

  return self->item;
}

void
rm_image_row_set_item (RmImageRow *self, RmImageItem *item)
{
  g_return_if_fail (RM_IS_IMAGE_ROW (self));
  g_return_if_fail (item == NULL || RM_IS_IMAGE_ITEM (item));

  if (!g_set_object (&self->item, item))
    return;

  g_signal_group_set_target (self->item_signals, item);
  if (item != NULL)
    rm_image_item_ensure_thumbnail (item);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ITEM]);
}
