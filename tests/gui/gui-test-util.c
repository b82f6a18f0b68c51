/* SPDX-License-Identifier: GPL-3.0-or-later
 * Helpers the GUI tests share: waiting on the main loop, frames, actions, masks, screenshots,
 * projects full of annotations.
 */
#include "gui-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

gboolean
gui_wait_for (gboolean (*done) (gpointer), gpointer data, const char *what, int seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  guint wake = g_timeout_add (10, wake_up, NULL);
  gboolean ok;

  while (!(ok = done (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
  if (!ok)
    g_test_message ("timed out waiting for %s", what);

  return ok;
}

gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
on_after_paint (GdkFrameClock *clock, gboolean *painted)
{
  *painted = TRUE;
}

gboolean
is_true (gpointer data)
{
  return *(gboolean *) data;
}

gboolean
is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* Redraws @widget and waits until the frame is painted. */
void
wait_for_frame (GtkWidget *widget)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);
  gboolean painted = FALSE;
  gulong id;

  id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &painted);
  gtk_widget_queue_draw (widget);
  g_assert_true (gui_wait_for (is_true, &painted, "a frame", 60));
  g_signal_handler_disconnect (clock, id);
}

gboolean
window_idle (gpointer data)
{
  RmWindow *window = data;
  RmCanvas *canvas = rm_window_get_canvas (window);

  return !rm_window_get_busy (window) && gtk_widget_get_width (GTK_WIDGET (canvas)) > 0 &&
         !rm_canvas_is_animating (canvas) && gtk_widget_get_mapped (GTK_WIDGET (window)) &&
         rm_canvas_get_image (canvas) != NULL;
}

gboolean
model_settled (gpointer data)
{
  RmSegmenterState state = rm_segmenter_get_state (rm_window_get_segmenter (data));

  return state == RM_SEGMENTER_STATE_READY || state == RM_SEGMENTER_STATE_FAILED;
}

gboolean
project_open (gpointer data)
{
  RmWindow *window = data;

  return !rm_window_get_project_loading (window) && rm_window_get_project (window) != NULL &&
         !rm_project_session_get_busy (rm_window_get_project (window));
}

GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GtkWindow) window = g_list_model_get_item (toplevels, i);

      /* GTK keeps its toplevels alive: the borrowed pointer stays valid */
      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return window;
    }

  return NULL;
}

gboolean
query_finished (gpointer data)
{
  return !rm_window_get_query_running (data);
}

/* Whether a button bound to @name would be sensitive, which is what the user sees. */
gboolean
action_enabled (RmWindow *window, const char *name)
{
  GtkWidget *probe = gtk_button_new ();
  gboolean enabled;

  gtk_actionable_set_action_name (GTK_ACTIONABLE (probe), name);
  gtk_box_append (GTK_BOX (window->zoom_box), probe);
  enabled = gtk_widget_get_sensitive (probe);
  gtk_box_remove (GTK_BOX (window->zoom_box), probe);

  return enabled;
}

void
activate (RmWindow *window, const char *action, GVariant *parameter)
{
  g_assert_true (gtk_widget_activate_action_variant (GTK_WIDGET (window), action, parameter));
}

guint8 *
copy_mask (RmCandidate *candidate)
{
  return g_memdup2 (rm_candidate_get_mask (candidate), (gsize) rm_candidate_get_width (candidate) *
                                                           rm_candidate_get_height (candidate));
}

gboolean
mask_equals (RmCandidate *candidate, const guint8 *expected)
{
  return memcmp (rm_candidate_get_mask (candidate), expected,
                 (gsize) rm_candidate_get_width (candidate) *
                     rm_candidate_get_height (candidate)) == 0;
}

void
save_window (gpointer window, const char *name)
{
  g_autoptr (GdkPaintable) paintable = gtk_widget_paintable_new (GTK_WIDGET (window));
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  GtkSnapshot *snapshot = gtk_snapshot_new ();
  int width = gtk_widget_get_width (GTK_WIDGET (window));
  int height = gtk_widget_get_height (GTK_WIDGET (window));

  gdk_paintable_snapshot (paintable, snapshot, width, height);
  node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  path = g_test_build_filename (G_TEST_BUILT, name, NULL);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s (%d x %d)", path, width, height);
}

/* A model folder in `scratch` made from the golden set by `refmask model-init` (REFMASK_EXE,
 * REFMASK_SHARED_DIR), or NULL when either is missing. */
char *
make_model_dir (const char *scratch_dir)
{
  const char *exe = g_getenv ("REFMASK_EXE");
  const char *shared = g_getenv ("REFMASK_SHARED_DIR");
  g_autofree char *golden = NULL;
  g_autofree char *config = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *tokenizer = NULL;
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (exe == NULL || shared == NULL)
    return NULL;
  golden = g_build_filename (shared, "golden", NULL);
  config = g_build_filename (golden, "manifest.json", NULL);
  weights = g_build_filename (golden, "weights.safetensors", NULL);
  tokenizer = g_build_filename (golden, "tiny.spm", NULL);
  if (!g_file_test (config, G_FILE_TEST_EXISTS) || !g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE))
    return NULL;

  out = g_build_filename (scratch_dir, "model", NULL);
  {
    const char *argv[] = { exe,           "model-init", "--config", config, "--weights", weights,
                           "--tokenizer", tokenizer,    "--out",    out,    NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                 NULL, NULL, &status, &error));
  }
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  return g_steal_pointer (&out);
}

char *
gui_test_scratch_dir (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *template = g_strdup_printf ("refmask-%s-XXXXXX", name);
  char *dir = g_dir_make_tmp (template, &error);

  g_assert_no_error (error);
  return dir;
}

RmApplication *
gui_test_app_new (void)
{
  g_autoptr (GError) error = NULL;
  RmApplication *app = rm_application_new (G_APPLICATION_NON_UNIQUE);

  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));
  return app;
}

void
gui_test_app_free (RmApplication *app)
{
  g_application_release (G_APPLICATION (app));
  g_object_unref (app);
}

void
rect_annotation_box (guint k, guint32 width, guint32 height, guint32 box[4])
{
  /* different places and sizes, inside the image, some touching its top or left edge */
  box[2] = MAX (width / 3 - (k % 5) * (width / 20), 1);
  box[3] = MAX (height / 4 + (k % 3) * (height / 10), 1);
  box[0] = (k * 37) % (width - box[2] + 1);
  box[1] = (k * 53) % (height - box[3] + 1);
}

void
add_rect_annotations (RmProject *project, gint64 image_id, guint32 width, guint32 height, guint n,
                      RmStoreStatus status)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (rm_project_begin (project, &error));
  for (guint k = 0; k < n; k++)
    {
      g_autoptr (RmStoreAnnotation) a = rm_store_annotation_new ();
      g_autofree guint32 *cnts = NULL;
      guint32 box[4];
      gsize m = 0;

      /* the runs of a rectangle, column-major, written directly: no w x h buffer per mask */
      rect_annotation_box (k, width, height, box);
      cnts = g_new (guint32, 2 * box[2] + 2);
      cnts[m++] = box[0] * height + box[1];
      for (guint32 x = 0; x < box[2]; x++)
        {
          if (x > 0)
            cnts[m++] = height - box[3];
          cnts[m++] = box[3];
        }
      cnts[m++] = (width - box[0] - box[2]) * height + (height - box[1] - box[3]);
      a->mask = rm_rle_from_counts (height, width, cnts, m, &error);
      g_assert_no_error (error);
      a->image_id = image_id;
      a->expression = g_strdup_printf ("rectangle %u", k);
      a->source = RM_SOURCE_IMPORTED;
      a->status = status;
      g_assert_true (rm_project_add_annotation (project, a, &error));
      g_assert_no_error (error);
    }
  g_assert_true (rm_project_commit (project, &error));
}

void
query_hold_hook (const char *stage, double fraction, gpointer user_data)
{
  QueryHold *hold = user_data;
  gint64 deadline;

  if (g_str_equal (stage, "decode"))
    return;
  if (g_atomic_int_get (&hold->release))
    {
      g_atomic_int_inc (&hold->calls_after_release); /* the engine went on */
      return;
    }
  g_atomic_int_set (&hold->reached, 1);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!g_atomic_int_get (&hold->release) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

gboolean
query_hold_reached (gpointer data)
{
  return g_atomic_int_get (&((QueryHold *) data)->reached) != 0;
}
