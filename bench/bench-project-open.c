/* bench-project-open.c: how long opening a project takes in the studio, and what it costs in
 * memory
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs the studio's own open path (RmProjectSession's load, the store read in a worker thread,
 * RmAnnotation objects handed to the main thread) without a display, and prints the wall time,
 * the resident memory before and after (VmRSS) and its peak (VmHWM), next to what the masks
 * would take decoded (width x height bytes each) and what they take compressed, and how many
 * masks the open decoded. Then it does what the canvas does when an image is selected: decodes
 * the masks of the image with the most annotations, and then drops them as the window does when
 * another image is selected. Usage: bench-project-open FILE.refmask
 */

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "rm-annotation.h"
#include "rm-project-session.h"

/* A "VmRSS:"-style field of /proc/self/status, in KiB (0 when unknown). */
static guint64
proc_status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0;
  line = strstr (status, field);
  if (line == NULL)
    return 0;

  return g_ascii_strtoull (line + strlen (field), NULL, 10);
}

static void
on_loaded (GObject *object, GAsyncResult *result, gpointer user_data)
{
  RmProjectContents **contents = user_data;
  g_autoptr (GError) error = NULL;

  *contents = rm_project_session_load_finish (RM_PROJECT_SESSION (object), result, &error);
  if (*contents == NULL)
    g_printerr ("bench-project-open: %s\n", error->message);
}

static void
on_closed (GObject *object, GAsyncResult *result, gpointer user_data)
{
  gboolean *closed = user_data;

  rm_project_session_close_finish (RM_PROJECT_SESSION (object), result, NULL);
  *closed = TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (RmProjectSession) session = NULL;
  g_autoptr (RmProjectContents) contents = NULL;
  guint64 rss_before, rss_after, peak, decoded = 0, compressed = 0;
  guint decodes_before = rm_annotation_get_n_decodes (), n_image = 0;
  GFile *busiest = NULL;
  g_autoptr (GHashTable) per_image = g_hash_table_new (g_file_hash, (GEqualFunc) g_file_equal);
  gint64 start, end;
  gboolean done = FALSE, closed = FALSE;

  if (argc != 2)
    {
      g_printerr ("Usage: %s FILE.refmask\n", argv[0]);
      return 2;
    }

  rss_before = proc_status_kib ("VmRSS:");
  session = rm_project_session_new (argv[1]);
  start = g_get_monotonic_time ();
  rm_project_session_load_async (session, FALSE, NULL, on_loaded, &contents);
  /* the callback sets contents (or prints the error); "busy" ends with the job */
  while (!done)
    {
      g_main_context_iteration (NULL, TRUE);
      done = contents != NULL || !rm_project_session_get_busy (session);
    }
  end = g_get_monotonic_time ();
  if (contents == NULL)
    return 1;
  rss_after = proc_status_kib ("VmRSS:");
  peak = proc_status_kib ("VmHWM:");

  for (guint i = 0; i < contents->annotations->len; i++)
    {
      RmAnnotation *a = contents->annotations->pdata[i];

      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (per_image, rm_annotation_get_image (a)));

      decoded += (guint64) rm_annotation_get_width (a) * rm_annotation_get_height (a);
      compressed += g_bytes_get_size (rm_annotation_get_rle (a));
      g_hash_table_insert (per_image, rm_annotation_get_image (a), GUINT_TO_POINTER (n + 1));
      if (busiest == NULL || n + 1 > n_image)
        {
          busiest = rm_annotation_get_image (a);
          n_image = n + 1;
        }
    }

  g_print ("project:       %s\n", argv[1]);
  g_print ("images:        %u\n", contents->images->len);
  g_print ("annotations:   %u\n", contents->annotations->len);
  g_print ("open time:     %.3f s\n", (end - start) / 1e6);
  g_print ("RSS before:    %.1f MiB\n", rss_before / 1024.0);
  g_print ("RSS after:     %.1f MiB (+%.1f MiB)\n", rss_after / 1024.0,
           ((double) rss_after - (double) rss_before) / 1024.0);
  g_print ("RSS peak:      %.1f MiB\n", peak / 1024.0);
  g_print ("masks:         %.1f MiB compressed (%.1f MiB decoded); %u decoded by the open\n",
           compressed / (1024.0 * 1024.0), decoded / (1024.0 * 1024.0),
           rm_annotation_get_n_decodes () - decodes_before);

  if (busiest != NULL)
    {
      g_autofree char *name = g_file_get_basename (busiest);
      guint64 pixels = 0;

      start = g_get_monotonic_time ();
      for (guint i = 0; i < contents->annotations->len; i++)
        {
          RmAnnotation *a = contents->annotations->pdata[i];

          if (g_file_equal (rm_annotation_get_image (a), busiest) && rm_annotation_get_mask (a))
            pixels += (guint64) rm_annotation_get_width (a) * rm_annotation_get_height (a);
        }
      end = g_get_monotonic_time ();
      g_print ("select image:  %s: %u masks decoded (%.1f MiB) in %.3f s, RSS %.1f MiB\n", name,
               n_image, pixels / (1024.0 * 1024.0), (end - start) / 1e6,
               proc_status_kib ("VmRSS:") / 1024.0);
      for (guint i = 0; i < contents->annotations->len; i++)
        rm_annotation_drop_mask (contents->annotations->pdata[i]);
      g_print ("next image:    its masks dropped, RSS %.1f MiB\n",
               proc_status_kib ("VmRSS:") / 1024.0);
    }

  rm_project_session_close_async (session, on_closed, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);

  return 0;
}
