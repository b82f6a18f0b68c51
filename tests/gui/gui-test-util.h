/* SPDX-License-Identifier: GPL-3.0-or-later
 * Helpers the GUI tests share (gui-test-util.c).
 */
#pragma once

#include <gtk/gtk.h>

#include "rm-application.h"
#include "rm-candidate.h"
#include "rm-project.h"
#include "rm-window-private.h"

/* Iterates the main loop until done (data) or `seconds` pass; says what it waited for. */
gboolean gui_wait_for (gboolean (*done) (gpointer), gpointer data, const char *what, int seconds);
gboolean wake_up (gpointer data);
void on_after_paint (GdkFrameClock *clock, gboolean *painted);
gboolean is_true (gpointer data);
gboolean is_null (gpointer data);
void wait_for_frame (GtkWidget *widget);
/* Predicates for gui_wait_for () on an RmWindow: it is mapped, laid out, not busy and shows an
 * image; its model loaded or failed; a project is open with no write pending; no query runs. */
gboolean window_idle (gpointer data);
gboolean model_settled (gpointer data);
gboolean project_open (gpointer data);
gboolean query_finished (gpointer data);
/* The first visible toplevel of @type (borrowed), or NULL. */
GtkWindow *find_toplevel (GType type);
gboolean action_enabled (RmWindow *window, const char *name);
void activate (RmWindow *window, const char *action, GVariant *parameter);
guint8 *copy_mask (RmCandidate *candidate);
gboolean mask_equals (RmCandidate *candidate, const guint8 *expected);
void save_window (gpointer window, const char *name);
char *make_model_dir (const char *scratch_dir);
/* A new temporary folder refmask-@name-XXXXXX for a test program's files. */
char *gui_test_scratch_dir (const char *name);
/* The studio for a test program: registered (not unique) and held, as if running, so that
 * destroying its windows does not make it quit. gui_test_app_free () lets it go. */
RmApplication *gui_test_app_new (void);
void gui_test_app_free (RmApplication *app);

/* The rectangle (x, y, width, height) of the k-th annotation add_rect_annotations () makes on an
 * image of @width x @height pixels. */
void rect_annotation_box (guint k, guint32 width, guint32 height, guint32 box[4]);
/* Adds @n annotations of the image @image_id (@width x @height) with @status to @project, the
 * k-th a filled rect_annotation_box (k); in one transaction. */
void add_rect_annotations (RmProject *project, gint64 image_id, guint32 width, guint32 height,
                           guint n, RmStoreStatus status);

/* Holds a query's worker at the engine's first stage after "decode" (for up to 20 s) until the
 * test sets `release`: a query that is surely still running, to cancel. Pass query_hold_hook and
 * a zeroed QueryHold to rm_segmenter_set_test_hook (). */
typedef struct
{
  gint reached;             /* the worker is held */
  gint release;             /* set by the test: let it go */
  gint calls_after_release; /* stages the engine ran after the release */
} QueryHold;
void query_hold_hook (const char *stage, double fraction, gpointer user_data);
gboolean query_hold_reached (gpointer data);
