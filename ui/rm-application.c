/* rm-application.c: the Refmask Studio application
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "refmask-build-config.h"

#include "rm-application.h"
#include "rm-preferences-window.h"
#include "rm-window-project.h"
#include "rm-window.h"

#include <glib/gi18n.h>
#include <stdlib.h>

struct _RmApplication
{
  GtkApplication parent_instance;

  GSettings *settings;
  char *model_dir; /* from --model: overrides the "model-dir" setting for this run */
};

G_DEFINE_FINAL_TYPE (RmApplication, rm_application, GTK_TYPE_APPLICATION)

/* Every accelerator of the application, in one place; the shortcuts window reads them back. */
static const struct
{
  const char *action;
  const char *accels[4];
} accelerators[] = {
  { "app.quit", { "<Control>q", NULL } },
  { "app.preferences", { "<Control>comma", NULL } },
  { "app.shortcuts", { "<Control>question", NULL } },
  { "app.about", { "F1", NULL } },
  { "window.close", { "<Control>w", NULL } },
  { "win.open", { "<Control>o", NULL } },
  { "win.new-project", { "<Control>n", NULL } },
  { "win.import", { "<Control>i", NULL } },
  { "win.export", { "<Control>e", NULL } },
  { "win.zoom-in", { "<Control>plus", "<Control>equal", "<Control>KP_Add", NULL } },
  { "win.zoom-out", { "<Control>minus", "<Control>KP_Subtract", NULL } },
  { "win.zoom-fit", { "<Control>0", "<Control>KP_0", NULL } },
  { "win.zoom-1to1", { "<Control>1", "<Control>KP_1", NULL } },
  { "win.next-image", { "Page_Down", NULL } },
  { "win.prev-image", { "Page_Up", NULL } },
  { "win.focus-query", { "<Control>l", NULL } },
  { "win.cancel-query", { "Escape", NULL } },
  { "win.toggle-prior", { "<Control>p", NULL } },
  { "win.undo", { "<Control>z", NULL } },
  { "win.redo", { "<Control><Shift>z", "<Control>y", NULL } },
  { "win.accept", { "<Control>Return", "<Control>KP_Enter", NULL } },
  { "win.reject", { "Delete", "KP_Delete", NULL } },
  { "win.delete-annotation", { "<Shift>Delete", "<Shift>KP_Delete", NULL } },
  { "win.edit-expression", { "F2", NULL } },
  { "win.edit-annotation", { "<Control>m", NULL } },
  { "win.review", { "<Control>r", NULL } },
  { "win.review-next", { "<Alt>Right", NULL } },
  { "win.review-prev", { "<Alt>Left", NULL } },
  { "win.batch-label", { "<Control>b", NULL } },
  { "win.fine-tune", { "<Control>t", NULL } },
};

/* The schema is looked up where it is installed, then in the build tree, so that the
 * uninstalled binary runs as well. */
static GSettings *
create_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, RM_APPLICATION_ID, TRUE);

#ifdef REFMASK_BUILD_SCHEMA_DIR
  if (schema == NULL)
    {
      g_autoptr (GSettingsSchemaSource) build_source = NULL;

      build_source = g_settings_schema_source_new_from_directory (REFMASK_BUILD_SCHEMA_DIR, source,
                                                                  FALSE, NULL);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, RM_APPLICATION_ID, FALSE);
    }
#endif

  if (schema == NULL)
    return NULL;

  return g_settings_new_full (schema, NULL, NULL);
}

static RmWindow *
get_or_create_window (RmApplication *self)
{
  RmWindow *window = rm_application_get_window (self);

  if (window == NULL)
    window = rm_window_new (self);

  return window;
}

static gpointer
copy_object_ref (gconstpointer object, gpointer user_data)
{
  return g_object_ref ((gpointer) object);
}

static void
quit_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *app = user_data;
  GList *windows;

  /* Closing (not destroying) lets each window save its state. */
  windows = g_list_copy_deep (gtk_application_get_windows (app), copy_object_ref, NULL);
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
  g_list_free_full (windows, g_object_unref);
}

static void
about_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  static const char *authors[] = { "The Refmask developers", NULL };
  GtkApplication *app = user_data;

  gtk_show_about_dialog (
      gtk_application_get_active_window (app), "program-name", _ ("Refmask Studio"),
      "logo-icon-name", RM_APPLICATION_ID, "version", REFMASK_VERSION, "comments",
      _ ("Label satellite imagery by describing what to segment"), "license-type",
      GTK_LICENSE_GPL_3_0, "copyright", _ ("© 2025 The Refmask developers"), "authors", authors,
      /* Translators: your name(s) and e-mail address(es), one a line */
      "translator-credits", _ ("translator-credits"), NULL);
}

/* The shortcuts window is the main window's help overlay: GTK then fills in every entry that
 * names an action with the accelerators registered above, and keeps them current. */
static void
shortcuts_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *app = user_data;
  GtkWindow *window = gtk_application_get_active_window (app);
  GtkShortcutsWindow *overlay;

  if (!GTK_IS_APPLICATION_WINDOW (window))
    return;

  overlay = gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window));
  if (overlay == NULL)
    {
      g_autoptr (GtkBuilder) builder = NULL;

      builder = gtk_builder_new_from_resource (RM_RESOURCE_PATH "/rm-shortcuts-window.ui");
      overlay = GTK_SHORTCUTS_WINDOW (gtk_builder_get_object (builder, "shortcuts_window"));
      gtk_application_window_set_help_overlay (GTK_APPLICATION_WINDOW (window), overlay);
    }
  gtk_window_present (GTK_WINDOW (overlay));
}

static void
preferences_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  RmApplication *self = user_data;
  GtkWindow *window;

  window = rm_preferences_window_new (gtk_application_get_active_window (GTK_APPLICATION (self)),
                                      self->settings);
  gtk_window_present (window);
}

/* app.load-model (s): --model; from a second instance too, since actions are forwarded. */
static void
load_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  RmApplication *self = user_data;
  RmWindow *window = rm_application_get_window (self);
  const char *dir = g_variant_get_string (parameter, NULL);

  g_free (self->model_dir);
  self->model_dir = g_strdup (dir);
  if (window != NULL)
    rm_window_load_model (window, dir);
}

static const GActionEntry app_actions[] = {
  { .name = "load-model", .activate = load_model_action, .parameter_type = "s" },
  { .name = "quit", .activate = quit_action },
  { .name = "about", .activate = about_action },
  { .name = "shortcuts", .activate = shortcuts_action },
  { .name = "preferences", .activate = preferences_action },
};

static void
rm_application_startup (GApplication *app)
{
  RmApplication *self = RM_APPLICATION (app);
  g_autoptr (GtkCssProvider) css = NULL;

  G_APPLICATION_CLASS (rm_application_parent_class)->startup (app);

  self->settings = create_settings ();
  if (self->settings == NULL)
    {
      g_printerr (_ ("The settings schema %s is not installed. Install Refmask, or run "
                     "“meson devenv -C BUILDDIR refmask-studio”.\n"),
                  RM_APPLICATION_ID);
      exit (EXIT_FAILURE);
    }

  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions),
                                   app);
  for (guint i = 0; i < G_N_ELEMENTS (accelerators); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accelerators[i].action,
                                           accelerators[i].accels);

  css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, RM_RESOURCE_PATH "/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_window_set_default_icon_name (RM_APPLICATION_ID);
}

static void
rm_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_or_create_window (RM_APPLICATION (app))));
}

/* Files and folders from the command line (or the file manager) join the open window; a project
 * file (*.refmask) is opened in it. */
static void
rm_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  RmWindow *window = get_or_create_window (RM_APPLICATION (app));
  g_autoptr (GPtrArray) images = g_ptr_array_new ();

  for (int i = 0; i < n_files; i++)
    {
      g_autofree char *name = g_file_get_basename (files[i]);

      if (name != NULL && g_str_has_suffix (name, RM_PROJECT_SUFFIX))
        rm_window_open_project (window, files[i]);
      else
        g_ptr_array_add (images, files[i]);
    }
  if (images->len > 0)
    rm_window_add_files (window, (GFile **) images->pdata, images->len, FALSE);
  gtk_window_present (GTK_WINDOW (window));
}

static int
rm_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  g_autofree char *model = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("refmask-studio %s\n", REFMASK_VERSION);
      return EXIT_SUCCESS;
    }

  if (g_variant_dict_lookup (options, "model", "^ay", &model))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GFile) file = g_file_new_for_commandline_arg (model);
      g_autofree char *path = g_file_get_path (file);

      if (path == NULL)
        {
          g_printerr (_ ("--model needs a local folder\n"));
          return EXIT_FAILURE;
        }
      if (!g_application_register (app, NULL, &error))
        {
          g_printerr ("%s\n", error->message);
          return EXIT_FAILURE;
        }
      g_action_group_activate_action (G_ACTION_GROUP (app), "load-model",
                                      g_variant_new_string (path));
    }

  return -1;
}

static void
rm_application_dispose (GObject *object)
{
  RmApplication *self = (RmApplication *) object;

  g_clear_object (&self->settings);
  g_clear_pointer (&self->model_dir, g_free);

  G_OBJECT_CLASS (rm_application_parent_class)->dispose (object);
}

static void
rm_application_class_init (RmApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = rm_application_dispose;
  app_class->startup = rm_application_startup;
  app_class->activate = rm_application_activate;
  app_class->open = rm_application_open;
  app_class->handle_local_options = rm_application_handle_local_options;

  rm_ui_ensure_resources ();
}

static void
rm_application_init (RmApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "version", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_NONE, _ ("Print the version and exit"), NULL);
  g_application_add_main_option (
      G_APPLICATION (self), "model", 'm', G_OPTION_FLAG_NONE, G_OPTION_ARG_FILENAME,
      _ ("Run queries with the model in DIR (instead of the preferences’)"), _ ("DIR"));
  g_application_set_option_context_parameter_string (G_APPLICATION (self),
                                                     _ ("[PROJECT.refmask, IMAGE or FOLDER…]"));
}

RmApplication *
rm_application_new (GApplicationFlags flags)
{
  return g_object_new (RM_TYPE_APPLICATION, "application-id", RM_APPLICATION_ID, "flags",
                       flags | G_APPLICATION_HANDLES_OPEN, "resource-base-path", RM_RESOURCE_PATH,
                       NULL);
}

/* The application's settings (org.refmask.Studio); valid after startup. */
GSettings *
rm_application_get_settings (RmApplication *self)
{
  g_return_val_if_fail (RM_IS_APPLICATION (self), NULL);

  return self->settings;
}

/* The first main window, if there is one. */
RmWindow *
rm_application_get_window (RmApplication *self)
{
  g_return_val_if_fail (RM_IS_APPLICATION (self), NULL);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l != NULL; l = l->next)
    if (RM_IS_WINDOW (l->data))
      return l->data;

  return NULL;
}

/* The model folder given with --model (or app.load-model), or NULL: then the "model-dir"
 * setting applies. */
const char *
rm_application_get_model_dir (RmApplication *self)
{
  g_return_val_if_fail (RM_IS_APPLICATION (self), NULL);

  return self->model_dir;
}
