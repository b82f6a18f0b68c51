/* rm-preferences-window.c: the preferences window
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every control is bound to a GSettings key, so changes apply and persist at once.
 */

#include "rm-preferences-window.h"

#include <glib/gi18n.h>

struct _RmPreferencesWindow
{
  GtkWindow parent_instance;

  GSettings *settings;

  GtkAdjustment *opacity_adjustment;
  GtkAdjustment *threads_adjustment;
  GtkDropDown *device_dropdown;
};

G_DEFINE_FINAL_TYPE (RmPreferencesWindow, rm_preferences_window, GTK_TYPE_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The order of the device drop-down. */
static const char *const devices[] = { "auto", "cpu", "cuda" };

static gboolean
device_get_mapping (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *device = g_variant_get_string (variant, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (devices); i++)
    if (g_str_equal (device, devices[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }

  return FALSE;
}

static GVariant *
device_set_mapping (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  guint i = g_value_get_uint (value);

  if (i >= G_N_ELEMENTS (devices))
    return NULL;

  return g_variant_new_string (devices[i]);
}

static void
rm_preferences_window_constructed (GObject *object)
{
  RmPreferencesWindow *self = (RmPreferencesWindow *) object;

  G_OBJECT_CLASS (rm_preferences_window_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));
  g_settings_bind (self->settings, "overlay-opacity", self->opacity_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "threads", self->threads_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "device", self->device_dropdown, "selected",
                                G_SETTINGS_BIND_DEFAULT, device_get_mapping, device_set_mapping,
                                NULL, NULL);
}

static void
rm_preferences_window_dispose (GObject *object)
{
  RmPreferencesWindow *self = (RmPreferencesWindow *) object;

  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (rm_preferences_window_parent_class)->dispose (object);
}

static void
rm_preferences_window_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  RmPreferencesWindow *self = RM_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_preferences_window_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  RmPreferencesWindow *self = RM_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_preferences_window_class_init (RmPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = rm_preferences_window_constructed;
  object_class->dispose = rm_preferences_window_dispose;
  object_class->get_property = rm_preferences_window_get_property;
  object_class->set_property = rm_preferences_window_set_property;

  properties[PROP_SETTINGS] =
      g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                           G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, opacity_adjustment);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, threads_adjustment);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, device_dropdown);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
rm_preferences_window_init (RmPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWindow *
rm_preferences_window_new (GtkWindow *parent, GSettings *settings)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (RM_TYPE_PREFERENCES_WINDOW, "transient-for", parent, "settings", settings,
                       NULL);
}
