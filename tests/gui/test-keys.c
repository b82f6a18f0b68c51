/* test-keys.c: the studio driven by real key presses, under Xvfb
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The other window tests activate GActions directly, so a broken accelerator, a key binding of
 * the canvas or the query bar's own key handling would go unnoticed there. Here every step is a
 * key press sent through the X server with the XTest extension, on a connection of our own (as
 * xdotool would), to the window that has the X input focus; GDK reads it back like any keyboard
 * input, and the outcome is checked on the widgets and in the project file, read with SQLite.
 * There is no window manager under Xvfb: the test gives the focus itself (XSetInputFocus), as a
 * window manager would on a click or when a window is mapped.
 *
 * The project is made with `refmask project create/import` from three images of
 * REFMASK_SHARED_DIR/data/dubai-aerial, the model folder from the golden set (make_model_dir).
 * Keeps refmask-studio-keys.png in this build folder.
 */

#include <gtk/gtk.h>

#include "gui-test-util.h"
#include <X11/XKBlib.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <gdk/x11/gdkx.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "rm-application.h"
#include "rm-batch-dialog.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-finetune-dialog.h"
#include "rm-image-item.h"
#include "rm-preferences-window.h"
#include "rm-project-session.h"
#include "rm-segmenter.h"
#include "rm-window-private.h"

static RmApplication *app;
static Display *xdisplay; /* the test's own X connection: the "keyboard" */
static char *scratch_dir;
static char *model_dir;    /* made from the golden set */
static char *project_path; /* the test's project: three dubai-aerial images (make_project) */

/* ---- waiting ------------------------------------------------------------------------------ */

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, const char *what)
{
  return gui_wait_for (done, data, what, 60);
}

static gboolean
window_active (gpointer data)
{
  return gtk_window_is_active (data);
}

static gboolean
has_candidate (gpointer data)
{
  return rm_window_get_candidate (data) != NULL && !rm_window_get_query_running (data);
}

/* ---- the keyboard ----------------------------------------------------------------------- */

/* The keycode that types @keysym on the server's keymap, and whether it needs Shift there. */
static KeyCode
lookup_key (KeySym keysym, gboolean *shift)
{
  KeyCode code = XKeysymToKeycode (xdisplay, keysym);

  if (code == 0)
    g_error ("the X keymap has no key for %s", XKeysymToString (keysym));
  if (XkbKeycodeToKeysym (xdisplay, code, 0, 0) == keysym)
    *shift = FALSE;
  else if (XkbKeycodeToKeysym (xdisplay, code, 0, 1) == keysym)
    *shift = TRUE;
  else
    g_error ("%s is neither level of its key", XKeysymToString (keysym));

  return code;
}

static void
fake_key (KeySym keysym, gboolean press)
{
  gboolean shift;

  XTestFakeKeyEvent (xdisplay, lookup_key (keysym, &shift), press, CurrentTime);
}

/* Presses and releases @accelerator (gtk_accelerator_parse () syntax, as the application
 * registers them, e.g. "<Control><Shift>z", "<Control>question", "Delete"), holding the
 * modifiers it names plus Shift where the key's symbol is on the shifted level. Returns once the
 * X server has taken the events; the main loop must then run for GTK to see them. */
static void
press (const char *accelerator)
{
  static const struct
  {
    GdkModifierType mask;
    KeySym keysym;
  } modifiers[] = {
    { GDK_CONTROL_MASK, XK_Control_L },
    { GDK_ALT_MASK, XK_Alt_L },
    { GDK_SHIFT_MASK, XK_Shift_L },
  };
  guint keyval = 0;
  GdkModifierType mods = 0;
  gboolean shift;
  KeyCode code;

  g_assert_true (gtk_accelerator_parse (accelerator, &keyval, &mods));
  code = lookup_key (keyval, &shift);
  if (shift)
    mods |= GDK_SHIFT_MASK;
  for (guint i = 0; i < G_N_ELEMENTS (modifiers); i++)
    if (mods & modifiers[i].mask)
      fake_key (modifiers[i].keysym, TRUE);
  XTestFakeKeyEvent (xdisplay, code, True, CurrentTime);
  XTestFakeKeyEvent (xdisplay, code, False, CurrentTime);
  for (guint i = G_N_ELEMENTS (modifiers); i-- > 0;)
    if (mods & modifiers[i].mask)
      fake_key (modifiers[i].keysym, FALSE);
  XSync (xdisplay, False);
}

/* Types @text (ASCII) key by key. */
static void
type_text (const char *text)
{
  for (const char *c = text; *c != '\0'; c++)
    {
      g_autofree char *name = g_strdup (gdk_keyval_name (gdk_unicode_to_keyval ((guchar) *c)));

      press (name);
    }
}

/* Presses @accelerator and runs the main loop until @done (data) holds. */
static void
press_until (const char *accelerator, gboolean (*done) (gpointer), gpointer data, const char *what)
{
  g_test_message ("key %s: waiting for %s", accelerator, what);
  press (accelerator);
  if (!wait_for (done, data, what))
    g_error ("after %s: no %s", accelerator, what);
}

/* Gives @window the X input focus, as a window manager would, and waits until GTK knows. */
static void
focus_window (GtkWindow *window)
{
  GdkSurface *surface;

  g_assert_true (wait_for ((gboolean (*) (gpointer)) gtk_widget_get_mapped, window, "the map"));
  surface = gtk_native_get_surface (GTK_NATIVE (window));
  gdk_display_sync (gdk_surface_get_display (surface)); /* the map has reached the server */
  XSetInputFocus (xdisplay, gdk_x11_surface_get_xid (surface), RevertToPointerRoot, CurrentTime);
  XSync (xdisplay, False);
  g_assert_true (wait_for (window_active, window, "the focus"));
}

/* A left click at (@fx, @fy), fractions of @widget's size, through the X server. */
static void
click_at (GtkWidget *widget, float fx, float fy)
{
  GtkNative *native = gtk_widget_get_native (widget);
  GdkSurface *surface = gtk_native_get_surface (native);
  graphene_point_t point;
  double sx, sy;
  int root_x, root_y;
  Window child;

  g_assert_true (gtk_widget_get_mapped (widget));
  g_assert_cmpint (gtk_widget_get_width (widget), >, 0);
  g_assert_true (
      gtk_widget_compute_point (widget, GTK_WIDGET (native),
                                &GRAPHENE_POINT_INIT (gtk_widget_get_width (widget) * fx,
                                                      gtk_widget_get_height (widget) * fy),
                                &point));
  gtk_native_get_surface_transform (native, &sx, &sy);
  XTranslateCoordinates (xdisplay, gdk_x11_surface_get_xid (surface), DefaultRootWindow (xdisplay),
                         (int) (point.x + sx), (int) (point.y + sy), &root_x, &root_y, &child);
  XTestFakeMotionEvent (xdisplay, -1, root_x, root_y, CurrentTime);
  XTestFakeButtonEvent (xdisplay, 1, True, CurrentTime);
  XTestFakeButtonEvent (xdisplay, 1, False, CurrentTime);
  XSync (xdisplay, False);
}

/* A left click in the middle of @widget. */
static void
click (GtkWidget *widget)
{
  click_at (widget, 0.5f, 0.5f);
}

/* ---- the project file, read as another program would ------------------------------------ */

/* One text value of @sql on the project file (NULL when there is no row); "" for NULL. */
static char *
query_db (const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  char *value = NULL;

  g_assert_cmpint (sqlite3_open_v2 (project_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup (sqlite3_column_type (stmt, 0) == SQLITE_NULL
                          ? ""
                          : (const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);

  return value;
}

/* The annotations as "status:expression|…", by expression (an undone deletion gets a new id). */
static char *
stored_annotations (void)
{
  g_autofree char *rows =
      query_db ("SELECT coalesce(group_concat(status || ':' || expression, '|'), '') FROM "
                "(SELECT status, expression FROM annotations ORDER BY expression)");

  return g_steal_pointer (&rows);
}

typedef struct
{
  RmWindow *window;
  const char *expected;
} StoredCheck;

/* The window has written everything, and the file holds what is expected. */
static gboolean
stored_equals (gpointer data)
{
  StoredCheck *check = data;
  g_autofree char *rows = NULL;

  if (rm_project_session_get_busy (rm_window_get_project (check->window)))
    return FALSE;
  rows = stored_annotations ();

  return g_str_equal (rows, check->expected);
}

/* Waits until the session has written everything and the file holds @expected. The session may
 * be writing something else at any moment (the view is saved after a pause), so the file is read
 * only when it is idle. */
static void
wait_for_stored (RmWindow *window, const char *after, const char *expected)
{
  StoredCheck check = { window, expected };
  g_autofree char *what = g_strdup_printf ("the annotations “%s” in the file", expected);

  if (!wait_for (stored_equals, &check, what))
    {
      g_autofree char *rows = stored_annotations ();
      GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (window));
      g_error ("after %s (the focus on %s) the file holds “%s”, not “%s”", after,
               focus != NULL ? G_OBJECT_TYPE_NAME (focus) : "nothing", rows, expected);
    }
}

static void
press_until_stored (RmWindow *window, const char *accelerator, const char *expected)
{
  g_test_message ("key %s: waiting for the annotations “%s” in the file", accelerator, expected);
  press (accelerator);
  wait_for_stored (window, accelerator, expected);
  /* A person's next key comes after the window has shown the change. Until then GTK may still
   * point the focus at a list row that was just removed (Shift+Delete), outside the window, and
   * a key sent that early would not reach the window's accelerators. */
  wait_for_frame (GTK_WIDGET (window));
}

/* `refmask ARGS…` (REFMASK_EXE), which must succeed. */
static void
run_refmask (const char *const *args)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  g_strv_builder_add (builder, g_getenv ("REFMASK_EXE"));
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);
  g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static const char *image_names[] = { "tile1_part001.jpg", "tile2_part001.jpg",
                                     "tile3_part001.jpg" };

static char *
shared_image (const char *name)
{
  return g_build_filename (g_getenv ("REFMASK_SHARED_DIR"), "data", "dubai-aerial", "images", name,
                           NULL);
}

/* A new project, @name.refmask, of three dubai-aerial images copied into a folder of its own,
 * made with the command line as a user would; each test starts from an empty one. */
static char *
make_project (const char *name)
{
  g_autofree char *folder = g_build_filename (scratch_dir, name, NULL);
  g_autofree char *images = g_build_filename (folder, "images", NULL);
  g_autofree char *file = g_strconcat (name, ".refmask", NULL);
  char *path = g_build_filename (folder, file, NULL);

  g_assert_cmpint (g_mkdir_with_parents (images, 0700), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (image_names); i++)
    {
      g_autofree char *from = shared_image (image_names[i]);
      g_autofree char *to = g_build_filename (images, image_names[i], NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;

      g_assert_true (g_file_get_contents (from, &contents, &length, NULL));
      g_assert_true (g_file_set_contents (to, contents, (gssize) length, NULL));
    }
  run_refmask ((const char *[]){ "project", "create", path, NULL });
  run_refmask ((const char *[]){ "project", "import", "--quiet", path, images, NULL });

  return path;
}

/* ---- the window ------------------------------------------------------------------------- */

/* A window on a new project @name, with the model loaded and the focus. */
static RmWindow *
open_window (const char *name)
{
  g_autoptr (GFile) file = NULL;
  RmWindow *window = rm_window_new (app);

  g_free (project_path);
  project_path = make_project (name);
  file = g_file_new_for_path (project_path);
  gtk_window_set_default_size (GTK_WINDOW (window), 1200, 760);
  gtk_window_present (GTK_WINDOW (window));
  rm_window_open_project (window, file);
  g_assert_true (wait_for (project_open, window, "the project"));
  g_assert_true (wait_for (window_idle, window, "the first image"));
  rm_window_load_model (window, model_dir);
  g_assert_true (wait_for (model_settled, window, "the model"));
  g_assert_true (window->model_loaded);
  focus_window (GTK_WINDOW (window));

  return window;
}

static gboolean
have_model (void)
{
  g_autofree char *image = shared_image (image_names[0]);

  if (model_dir == NULL || !g_file_test (image, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no golden set, dubai-aerial images or refmask binary");
      return FALSE;
    }

  return TRUE;
}

/* Whether the keyboard focus is @widget or inside it (an entry's focus is its GtkText). */
static gboolean
focus_within (RmWindow *window, gpointer widget)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (window));

  return focus != NULL && (focus == widget || gtk_widget_is_ancestor (focus, widget));
}

static gboolean
query_bar_focused (gpointer data)
{
  RmWindow *window = data;

  return focus_within (window, window->query_entry);
}

static gboolean
canvas_focused (gpointer data)
{
  RmWindow *window = data;

  return focus_within (window, window->canvas);
}

typedef struct
{
  RmWindow *window;
  const char *text;
} TextCheck;

static gboolean
query_text_is (gpointer data)
{
  TextCheck *check = data;

  return g_str_equal (gtk_editable_get_text (GTK_EDITABLE (check->window->query_entry)),
                      check->text);
}

static void
wait_for_query_text (RmWindow *window, const char *keys, const char *shown)
{
  TextCheck check = { window, shown };

  if (!wait_for (query_text_is, &check, "the query bar's text"))
    g_error ("after %s the query bar shows “%s”, not “%s”", keys,
             gtk_editable_get_text (GTK_EDITABLE (window->query_entry)), shown);
}

/* The query bar shows a beginning of the text, shorter. */
static gboolean
query_text_shortened (gpointer data)
{
  TextCheck *check = data;
  const char *text = gtk_editable_get_text (GTK_EDITABLE (check->window->query_entry));

  return strlen (text) < strlen (check->text) && g_str_has_prefix (check->text, text);
}

/* Types @text into the focused query bar and waits until it shows @shown. */
static void
type_query (RmWindow *window, const char *text, const char *shown)
{
  type_text (text);
  wait_for_query_text (window, text, shown);
}

/* Presses @accelerator and waits until the query bar shows @shown. */
static void
press_until_query_text (RmWindow *window, const char *accelerator, const char *shown)
{
  g_test_message ("key %s: waiting for “%s” in the query bar", accelerator, shown);
  press (accelerator);
  wait_for_query_text (window, accelerator, shown);
}

typedef struct
{
  RmWindow *window;
  guint position;
} SelectionCheck;

/* @position is selected and shown, and the project file names it as the last image. */
static gboolean
image_selected (gpointer data)
{
  SelectionCheck *check = data;
  g_autoptr (RmImageItem) item = NULL;
  g_autofree char *name = NULL;
  g_autofree char *saved = NULL;

  if (rm_window_get_selected (check->window) != check->position || !window_idle (check->window) ||
      rm_project_session_get_busy (rm_window_get_project (check->window)))
    return FALSE;
  item = g_list_model_get_item (rm_window_get_images (check->window), check->position);
  name = g_file_get_basename (rm_image_item_get_file (item));
  saved = query_db ("SELECT value FROM settings WHERE key = '" RM_PROJECT_SETTING_LAST_IMAGE "'");

  return saved != NULL && g_str_has_suffix (saved, name);
}

static void
press_until_selected (RmWindow *window, const char *accelerator, guint position)
{
  SelectionCheck check = { window, position };

  press_until (accelerator, image_selected, &check, "the image selected and saved");
}

typedef struct
{
  RmCanvas *canvas;
  double zoom;
  int sign; /* +1: the zoom is above `zoom`, -1: below, 0: equal; 2: best fit */
} ZoomCheck;

static gboolean
zoom_is (gpointer data)
{
  ZoomCheck *check = data;
  double zoom = rm_canvas_get_zoom (check->canvas);

  if (rm_canvas_is_animating (check->canvas))
    return FALSE;
  switch (check->sign)
    {
    case 1:
      return zoom > check->zoom * (1 + 1e-6) && !rm_canvas_get_fit (check->canvas);
    case -1:
      return zoom < check->zoom * (1 - 1e-6);
    case 0:
      return fabs (zoom - check->zoom) < 1e-9 && !rm_canvas_get_fit (check->canvas);
    default:
      return rm_canvas_get_fit (check->canvas);
    }
}

/* Presses @accelerator and waits for the zoom to be above, below or at `zoom`, or at best fit. */
static void
press_until_zoom (RmWindow *window, const char *accelerator, int sign, double zoom)
{
  ZoomCheck check = { rm_window_get_canvas (window), zoom, sign };

  press_until (accelerator, zoom_is, &check, "the zoom");
  g_test_message ("zoom %.4f", rm_canvas_get_zoom (check.canvas));
}

/* The session's annotation with @expression. */
static RmAnnotation *
find_annotation (RmWindow *window, const char *expression)
{
  GListModel *annotations = rm_window_get_annotations (window);

  for (guint i = 0; i < g_list_model_get_n_items (annotations); i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);

      if (g_str_equal (rm_annotation_get_expression (annotation), expression))
        return annotation; /* the window's list holds it */
    }
  g_error ("no annotation “%s”", expression);
}

static RmWindow *key_window; /* the window of test_annotate, for the predicates below */

static gboolean
annotation_selected (gpointer data)
{
  return _rm_window_get_selected_annotation (key_window) == data;
}

/* Ctrl+L, the expression, Enter: a candidate. */
static void
run_query_by_keys (RmWindow *window, const char *expression)
{
  press_until ("<Control>l", query_bar_focused, window, "the query bar focused");
  press ("<Control>a"); /* the last expression is replaced */
  type_query (window, expression, expression);
  press_until ("Return", has_candidate, window, "the candidate");
}

/* ---- shortcuts window -------------------------------------------------------------------- */

/* Records each GtkShortcutsShortcut's action and accelerator under @widget. */
static void
collect_shortcuts (GtkWidget *widget, GHashTable *shown)
{
  if (GTK_IS_SHORTCUTS_SHORTCUT (widget))
    {
      g_autofree char *action = NULL;
      g_autofree char *accelerator = NULL;

      g_object_get (widget, "action-name", &action, "accelerator", &accelerator, NULL);
      if (action != NULL)
        g_hash_table_insert (shown, g_steal_pointer (&action), g_steal_pointer (&accelerator));
      return;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_shortcuts (child, shown);
}

/* Every action that has an accelerator is in the shortcuts window, showing all of its
 * accelerators (test-workflow checks that no accelerator is given twice); a binding added
 * without telling the user fails here. */
static void
test_shortcuts_window (void)
{
  g_autoptr (GHashTable) shown = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_auto (GStrv) actions = gtk_application_list_action_descriptions (GTK_APPLICATION (app));
  RmWindow *window = rm_window_new (app);
  GtkWindow *dialog;
  guint n = 0;

  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "app.shortcuts", NULL));
  dialog = find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW);
  g_assert_nonnull (dialog);
  collect_shortcuts (GTK_WIDGET (dialog), shown);

  for (guint i = 0; actions[i] != NULL; i++)
    {
      g_auto (GStrv) accels =
          gtk_application_get_accels_for_action (GTK_APPLICATION (app), actions[i]);
      g_autofree char *joined = g_strjoinv (" ", accels);
      const char *accelerator = g_hash_table_lookup (shown, actions[i]);

      if (accels[0] == NULL)
        continue;
      g_test_message ("%s: %s; shown: %s", actions[i], joined, accelerator);
      if (accelerator == NULL)
        g_error ("%s (%s) is not in the shortcuts window", actions[i], joined);
      g_assert_cmpstr (accelerator, ==, joined);
      n++;
    }
  g_assert_cmpuint (n, >=, 30);

  gtk_window_destroy (dialog);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* ---- annotating by keys ------------------------------------------------------------------ */

static QueryHold hold;

static gboolean
query_cancelled (gpointer data)
{
  return !rm_window_get_query_running (data) && rm_window_get_candidate (data) == NULL;
}

static gboolean
query_held (gpointer data)
{
  return rm_window_get_query_running (data) && query_hold_reached (&hold);
}

static void
test_annotate (void)
{
  RmWindow *window;
  RmCanvas *canvas;
  double fit_zoom, zoom;

  if (!have_model ())
    return;

  window = key_window = open_window ("annotate");
  canvas = rm_window_get_canvas (window);
  g_assert_cmpuint (rm_window_get_selected (window), ==, 0);

  /* Page Down / Page Up: the next and previous image, remembered in the file */
  press_until_selected (window, "Page_Down", 1);
  press_until_selected (window, "Page_Up", 0);

  /* Ctrl+L, an expression, Enter: the model's candidate */
  run_query_by_keys (window, "the large building");
  g_assert_true (query_bar_focused (window)); /* the focus stays for the next query */

  /* Ctrl+Enter accepts it, even from the query bar: an accepted row in the file */
  press_until_stored (window, "<Control>Return", "accepted:the large building");
  g_assert_null (rm_window_get_candidate (window));

  /* In the query bar, Ctrl+Z and Ctrl+Shift+Z are the text's own: the typing is undone and
   * redone, the annotation stays. */
  {
    TextCheck typed = { window, "the large building" };

    /* GTK undoes typing a word at a time */
    press_until ("<Control>z", query_text_shortened, &typed, "the typing undone");
    press_until_query_text (window, "<Control><Shift>z", "the large building");
  }
  wait_for_stored (window, "undoing and redoing the typing", "accepted:the large building");

  /* a second candidate; Delete in the query bar deletes a character (Home, then Delete) … */
  run_query_by_keys (window, "the road");
  press ("Home");
  press_until_query_text (window, "Delete", "he road");
  g_assert_nonnull (rm_window_get_candidate (window));
  /* … and, after a click on the image, rejects the candidate */
  click (GTK_WIDGET (canvas));
  g_assert_true (wait_for (canvas_focused, window, "the canvas focused"));
  press_until_stored (window, "Delete", "accepted:the large building|rejected:the road");
  g_assert_null (rm_window_get_candidate (window));
  /* Ctrl+Z takes the reject back: the row leaves the file and the candidate is shown again;
   * Ctrl+Shift+Z rejects it again */
  press_until_stored (window, "<Control>z", "accepted:the large building");
  g_assert_true (wait_for (has_candidate, window, "the candidate back"));
  g_assert_cmpstr (rm_candidate_get_expression (rm_window_get_candidate (window)), ==, "the road");
  press_until_stored (window, "<Control><Shift>z", "accepted:the large building|rejected:the road");
  g_assert_null (rm_window_get_candidate (window));

  /* a click on its row selects the rejected one; Shift+Delete deletes it, Ctrl+Z puts it back,
   * Ctrl+Shift+Z and Ctrl+Y take it again */
  {
    const char *both = "accepted:the large building|rejected:the road";
    const char *left = "accepted:the large building";
    RmAnnotation *road = find_annotation (window, "the road");
    GtkWidget *row;

    /* the list lays out its new row in the next frame; the row is looked up after it, since
     * the list may bind another widget to the annotation */
    wait_for_frame (GTK_WIDGET (window));
    row = g_hash_table_lookup (window->annotation_rows, road);
    g_assert_nonnull (row);
    click (row);
    g_assert_true (wait_for (annotation_selected, road, "the row selected"));
    press_until_stored (window, "<Shift>Delete", left);
    press_until_stored (window, "<Control>z", both);
    press_until_stored (window, "<Control><Shift>z", left);
    press_until_stored (window, "<Control>z", both);
    press_until_stored (window, "<Control>y", left);
    press_until_stored (window, "<Control>z", both);
  }

  /* zoom: Ctrl+plus / Ctrl+minus / Ctrl+0 / Ctrl+1, and the same keys alone on the image */
  g_assert_true (rm_canvas_get_fit (canvas));
  fit_zoom = rm_canvas_get_zoom (canvas);
  press_until_zoom (window, "<Control>plus", 1, fit_zoom);
  zoom = rm_canvas_get_zoom (canvas);
  press_until_zoom (window, "<Control>minus", -1, zoom);
  press_until_zoom (window, "<Control>0", 2, 0);
  g_assert_cmpfloat (rm_canvas_get_zoom (canvas), ==, fit_zoom);
  press_until_zoom (window, "<Control>1", 0, 1.0);
  click (GTK_WIDGET (canvas)); /* the keys alone act only on the focused image */
  g_assert_true (wait_for (canvas_focused, window, "the canvas focused"));
  press_until_zoom (window, "0", 2, 0);
  press_until_zoom (window, "plus", 1, fit_zoom);
  zoom = rm_canvas_get_zoom (canvas);
  press_until_zoom (window, "minus", -1, zoom);
  press_until_zoom (window, "1", 0, 1.0);
  /* … but typed into the query bar, they are text */
  press_until ("<Control>l", query_bar_focused, window, "the query bar focused");
  press ("<Control>a");
  type_query (window, "0+", "0+");
  g_assert_cmpfloat (rm_canvas_get_zoom (canvas), ==, 1.0);
  press_until_zoom (window, "<Control>0", 2, 0);

  /* Esc cancels a running query (held at the engine's first stage, so that it surely runs) */
  hold = (QueryHold){ 0 };
  rm_segmenter_set_test_hook (query_hold_hook, &hold);
  press ("<Control>a");
  type_query (window, "the pool", "the pool");
  press_until ("Return", query_held, window, "the query held");
  press ("Escape");
  g_assert_true (wait_for (is_true, &window->query_cancelling, "the cancel"));
  g_atomic_int_set (&hold.release, 1);
  g_assert_true (wait_for (query_cancelled, window, "the cancelled query"));
  rm_segmenter_set_test_hook (NULL, NULL);
  g_assert_cmpint (g_atomic_int_get (&hold.calls_after_release), ==, 0);

  wait_for_frame (GTK_WIDGET (window));
  save_window (window, "refmask-studio-keys.png");

  /* Ctrl+W closes the window, and the project with it */
  {
    gpointer weak_window = window;

    g_object_add_weak_pointer (G_OBJECT (window), &weak_window);
    press_until ("<Control>w", is_null, &weak_window, "the window closed");
  }
}

/* ---- dialogs and the image's own keys ----------------------------------------------------- */

static GType shown_type; /* for the two predicates below */

static gboolean
dialog_shown (gpointer data)
{
  GtkWindow *dialog = find_toplevel (shown_type);

  return dialog != NULL && gtk_widget_get_mapped (GTK_WIDGET (dialog));
}

static gboolean
dialog_gone (gpointer data)
{
  return find_toplevel (shown_type) == NULL;
}

/* @accelerator opens a dialog of @type on the main window; Escape, with the dialog focused (a
 * window manager would focus it), closes it; the main window gets the focus back. */
static void
check_dialog (RmWindow *window, const char *accelerator, GType type)
{
  shown_type = type;
  press_until (accelerator, dialog_shown, NULL, g_type_name (type));
  focus_window (find_toplevel (type));
  press_until ("Escape", dialog_gone, NULL, "the dialog closed");
  focus_window (GTK_WINDOW (window));
}

typedef struct
{
  RmWindow *window;
  const char *tool;
} ToolCheck;

static gboolean
tool_is (gpointer data)
{
  ToolCheck *check = data;
  g_autofree char *tool = NULL;

  g_object_get (check->window, "tool", &tool, NULL);

  return g_str_equal (tool, check->tool);
}

static void
press_until_tool (RmWindow *window, const char *accelerator, const char *tool)
{
  ToolCheck check = { window, tool };

  press_until (accelerator, tool_is, &check, tool);
}

typedef struct
{
  RmCanvas *canvas;
  double than;
  int sign; /* +1: the brush is larger than `than`, -1: smaller */
} BrushCheck;

static gboolean
brush_changed (gpointer data)
{
  BrushCheck *check = data;
  double size = rm_canvas_get_brush_size (check->canvas);

  return check->sign > 0 ? size > check->than : size < check->than;
}

static gboolean
prior_shown (gpointer data)
{
  return rm_canvas_get_show_prior (data);
}

static gboolean
prior_hidden (gpointer data)
{
  return !rm_canvas_get_show_prior (data);
}

typedef struct
{
  RmCanvas *canvas;
  guint n;
} PolygonCheck;

static gboolean
polygon_has (gpointer data)
{
  PolygonCheck *check = data;

  return rm_canvas_get_polygon_n_points (check->canvas) == check->n;
}

static void
test_dialogs_and_tools (void)
{
  RmWindow *window;
  RmCanvas *canvas;

  if (!have_model ())
    return;

  window = key_window = open_window ("dialogs");
  canvas = rm_window_get_canvas (window);

  /* Ctrl+? (Ctrl+Shift+slash here), Ctrl+comma, F1, Ctrl+B, Ctrl+T: each dialog, and Escape */
  check_dialog (window, "<Control>question", GTK_TYPE_SHORTCUTS_WINDOW);
  check_dialog (window, "<Control>comma", RM_TYPE_PREFERENCES_WINDOW);
  check_dialog (window, "F1", GTK_TYPE_ABOUT_DIALOG);
  check_dialog (window, "<Control>b", RM_TYPE_BATCH_DIALOG);
  check_dialog (window, "<Control>t", RM_TYPE_FINETUNE_DIALOG);

  /* with a candidate and the image focused: the tools, the brush size, the prior */
  run_query_by_keys (window, "the large building");
  click (GTK_WIDGET (canvas)); /* with the pan tool: nothing painted */
  g_assert_true (wait_for (canvas_focused, window, "the canvas focused"));
  press_until_tool (window, "b", "brush");
  press_until_tool (window, "e", "eraser");
  press_until_tool (window, "p", "polygon");
  press_until_tool (window, "<Shift>p", "polygon-erase");
  press_until_tool (window, "h", "pan");
  {
    BrushCheck larger = { canvas, rm_canvas_get_brush_size (canvas), 1 };
    BrushCheck smaller;

    press_until ("bracketright", brush_changed, &larger, "a larger brush");
    smaller = (BrushCheck){ canvas, rm_canvas_get_brush_size (canvas), -1 };
    press_until ("bracketleft", brush_changed, &smaller, "a smaller brush");
  }
  g_assert_false (rm_canvas_get_show_prior (canvas));
  press_until ("<Control>p", prior_shown, canvas, "the prior shown");
  press_until ("<Control>p", prior_hidden, canvas, "the prior hidden");

  /* a polygon of three corners: BackSpace takes the last back, Escape drops it, the candidate
   * stays */
  press_until_tool (window, "p", "polygon");
  click_at (GTK_WIDGET (canvas), 0.3f, 0.3f);
  click_at (GTK_WIDGET (canvas), 0.6f, 0.3f);
  click_at (GTK_WIDGET (canvas), 0.6f, 0.6f);
  g_assert_true (wait_for (polygon_has, &(PolygonCheck){ canvas, 3 }, "three corners"));
  press_until ("BackSpace", polygon_has, &(PolygonCheck){ canvas, 2 }, "two corners");
  press_until ("Escape", polygon_has, &(PolygonCheck){ canvas, 0 }, "no polygon");
  g_assert_nonnull (rm_window_get_candidate (window));
  press_until_tool (window, "h", "pan");

  /* the candidate is rejected, and Ctrl+Q closes every window */
  press_until_stored (window, "Delete", "rejected:the large building");
  {
    gpointer weak_window = window;

    g_object_add_weak_pointer (G_OBJECT (window), &weak_window);
    press_until ("<Control>q", is_null, &weak_window, "the window closed");
  }
}

/* ---- setup ------------------------------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  int status;
  int event_base, error_base, major, minor;

  g_test_init (&argc, &argv, NULL);
  gtk_init ();
  if (!GDK_IS_X11_DISPLAY (gdk_display_get_default ()))
    {
      g_printerr ("test-keys needs an X11 display (GDK_BACKEND=x11, under Xvfb)\n");
      return 77;
    }
  xdisplay = XOpenDisplay (NULL);
  g_assert_nonnull (xdisplay);
  g_assert_true (XTestQueryExtension (xdisplay, &event_base, &error_base, &major, &minor));

  scratch_dir = gui_test_scratch_dir ("keys");
  model_dir = make_model_dir (scratch_dir);

  app = gui_test_app_new ();
  /* as in test-workflow: no blinking cursor (its timeout warns in an entry whose window lost the
   * focus), no transitions */
  g_object_set (gtk_settings_get_default (), "gtk-cursor-blink", FALSE, "gtk-enable-animations",
                FALSE, NULL);

  g_test_add_func ("/keys/shortcuts-window", test_shortcuts_window);
  g_test_add_func ("/keys/annotate", test_annotate);
  g_test_add_func ("/keys/dialogs-and-tools", test_dialogs_and_tools);

  status = g_test_run ();

  g_clear_pointer (&app, gui_test_app_free);
  XCloseDisplay (xdisplay);
  rm_remove_tree (scratch_dir);
  g_free (scratch_dir);
  g_free (model_dir);
  g_free (project_path);

  return status;
}
