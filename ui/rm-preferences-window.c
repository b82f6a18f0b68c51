/* rm-preferences-window.c: the preferences window
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every control is bound to a GSettings key, so changes apply and persist at once.
 */

#include "rm-preferences-window.h"

#include "rm-cuda.h"

#include <glib/gi18n.h>
#include <math.h>

struct _RmPreferencesWindow
{
  GtkWindow parent_instance;

  GSettings *settings;

  GtkAdjustment *opacity_adjustment;
  GtkColorButton *candidate_color_button;
  GtkAdjustment *threads_adjustment;
  GtkDropDown *device_dropdown;
  GtkLabel *model_label;
  GtkWidget *model_clear_button;
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

/* "#rrggbb" in the settings, a GdkRGBA in the colour button */
static gboolean
color_get_mapping (GValue *value, GVariant *variant, gpointer user_data)
{
  GdkRGBA rgba;

  if (!gdk_rgba_parse (&rgba, g_variant_get_string (variant, NULL)))
    return FALSE;
  g_value_set_boxed (value, &rgba);

  return TRUE;
}

static GVariant *
color_set_mapping (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  const GdkRGBA *rgba = g_value_get_boxed (value);

  if (rgba == NULL)
    return NULL;

  return g_variant_new_take_string (
      g_strdup_printf ("#%02x%02x%02x", (int) lround (CLAMP (rgba->red, 0, 1) * 255),
                       (int) lround (CLAMP (rgba->green, 0, 1) * 255),
                       (int) lround (CLAMP (rgba->blue, 0, 1) * 255)));
}

static void
update_model_folder (RmPreferencesWindow *self)
{
  g_autofree char *dir = g_settings_get_string (self->settings, "model-dir");

  if (dir[0] == '\0')
    {
      /* Translators: no model folder is set */
      gtk_label_set_label (self->model_label, _ ("None"));
      gtk_widget_set_sensitive (self->model_clear_button, FALSE);
    }
  else
    {
      g_autoptr (GFile) file = g_file_new_for_path (dir);
      g_autofree char *name = g_file_get_parse_name (file);

      gtk_label_set_label (self->model_label, name);
      gtk_widget_set_sensitive (self->model_clear_button, TRUE);
    }
}

static void
model_chooser_response (GtkNativeDialog *dialog, int response, RmPreferencesWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) folder = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = folder != NULL ? g_file_get_path (folder) : NULL;

      if (path != NULL)
        g_settings_set_string (self->settings, "model-dir", path);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
on_model_button_clicked (RmPreferencesWindow *self)
{
  GtkFileChooserNative *chooser;
  g_autofree char *dir = g_settings_get_string (self->settings, "model-dir");

  chooser = gtk_file_chooser_native_new (_ ("Choose the Model Folder"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _ ("_Select"),
                                         _ ("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (dir[0] != '\0')
    {
      g_autoptr (GFile) folder = g_file_new_for_path (dir);
      g_autoptr (GFile) parent = g_file_get_parent (folder);

      if (parent != NULL)
        gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), parent, NULL);
    }
  g_signal_connect_object (chooser, "response", G_CALLBACK (model_chooser_response), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
on_model_clear_clicked (RmPreferencesWindow *self)
{
  g_settings_set_string (self->settings, "model-dir", "");
}

static void
rm_preferences_window_constructed (GObject *object)
{
  RmPreferencesWindow *self = (RmPreferencesWindow *) object;

  G_OBJECT_CLASS (rm_preferences_window_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));
  /* A drop-down has no insensitive items: the CUDA entry says when it cannot work here (it can
   * still be chosen, and the next query then fails with the reason). */
  if (rm_cuda_device_count () == 0)
    {
      GtkStringList *names = GTK_STRING_LIST (gtk_drop_down_get_model (self->device_dropdown));
      const char *unavailable[] = { _ ("CUDA GPU (not available)"), NULL };

      gtk_string_list_splice (names, 2, 1, unavailable);
    }
  g_settings_bind (self->settings, "overlay-opacity", self->opacity_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "candidate-color", self->candidate_color_button,
                                "rgba", G_SETTINGS_BIND_DEFAULT, color_get_mapping,
                                color_set_mapping, NULL, NULL);
  g_settings_bind (self->settings, "threads", self->threads_adjustment, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind_with_mapping (self->settings, "device", self->device_dropdown, "selected",
                                G_SETTINGS_BIND_DEFAULT, device_get_mapping, device_set_mapping,
                                NULL, NULL);
  g_signal_connect_object (self->settings, "changed::model-dir", G_CALLBACK (update_model_folder),
                           self, G_CONNECT_SWAPPED);
  update_model_folder (self);
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
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, candidate_color_button);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, threads_adjustment);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, device_dropdown);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, model_label);
  gtk_widget_class_bind_template_child (widget_class, RmPreferencesWindow, model_clear_button);
  gtk_widget_class_bind_template_callback (widget_class, on_model_button_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_model_clear_clicked);

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
