/* rm-review-queue.c: the candidate annotations to review, in image order
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Reviewing steps through the annotations that were candidates when the review started (a batch
 * labelling's results, corrected candidates that were left): ordered by their image's place in
 * the sidebar, then as they were made, so the reviewer moves through the images once. The queue
 * is a snapshot: an annotation that is accepted or rejected stays in it (the counter "3 of 17"
 * does not jump, and Previous goes back to it), and candidates made later join at the end.
 * After a decision the review moves on to the next annotation still to decide.
 *
 * No widgets here: tested without a display (tests/gui/test-edit.c).
 */

#include "rm-review-queue.h"

#include <glib/gi18n.h>

struct _RmReviewQueue
{
  GObject parent_instance;

  GPtrArray *items; /* of RmAnnotation */
  guint position;   /* GTK_INVALID_LIST_POSITION when empty */
};

G_DEFINE_FINAL_TYPE (RmReviewQueue, rm_review_queue, G_TYPE_OBJECT)

#define INVALID_POSITION G_MAXUINT

enum
{
  PROP_0,
  PROP_POSITION,
  PROP_N_ITEMS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
set_position (RmReviewQueue *self, guint position)
{
  if (self->position == position)
    return;
  self->position = position;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POSITION]);
}

static void
rm_review_queue_finalize (GObject *object)
{
  RmReviewQueue *self = (RmReviewQueue *) object;

  g_clear_pointer (&self->items, g_ptr_array_unref);

  G_OBJECT_CLASS (rm_review_queue_parent_class)->finalize (object);
}

static void
rm_review_queue_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmReviewQueue *self = RM_REVIEW_QUEUE (object);

  switch (prop_id)
    {
    case PROP_POSITION:
      g_value_set_uint (value, self->position);
      break;
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_review_queue_class_init (RmReviewQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = rm_review_queue_finalize;
  object_class->get_property = rm_review_queue_get_property;

  /* The annotation under review (G_MAXUINT: none). */
  properties[PROP_POSITION] =
      g_param_spec_uint ("position", NULL, NULL, 0, G_MAXUINT, INVALID_POSITION, flags);
  properties[PROP_N_ITEMS] = g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rm_review_queue_init (RmReviewQueue *self)
{
  self->items = g_ptr_array_new_with_free_func (g_object_unref);
  self->position = INVALID_POSITION;
}

RmReviewQueue *
rm_review_queue_new (void)
{
  return g_object_new (RM_TYPE_REVIEW_QUEUE, NULL);
}

typedef struct
{
  RmAnnotation *annotation;
  guint image_rank;
  guint order;
} Entry;

static int
compare_entries (gconstpointer a, gconstpointer b)
{
  const Entry *x = a, *y = b;

  if (x->image_rank != y->image_rank)
    return x->image_rank < y->image_rank ? -1 : 1;

  return x->order < y->order ? -1 : x->order > y->order;
}

/* The queue becomes the candidates among @annotations (a GListModel of RmAnnotation), ordered by
 * the place of their image in @images (those of other images last), then by their place in
 * @annotations; the first is current. */
void
rm_review_queue_reset (RmReviewQueue *self, GListModel *annotations, GFile *const *images,
                       guint n_images)
{
  g_autoptr (GHashTable) ranks = NULL;
  g_autoptr (GArray) entries = NULL;
  guint n;

  g_return_if_fail (RM_IS_REVIEW_QUEUE (self));
  g_return_if_fail (G_IS_LIST_MODEL (annotations));
  g_return_if_fail (images != NULL || n_images == 0);

  ranks = g_hash_table_new (g_file_hash, (GEqualFunc) g_file_equal);
  for (guint i = 0; i < n_images; i++)
    if (!g_hash_table_contains (ranks, images[i]))
      g_hash_table_insert (ranks, images[i], GUINT_TO_POINTER (i + 1));

  entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  n = g_list_model_get_n_items (annotations);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (RmAnnotation) annotation = g_list_model_get_item (annotations, i);
      GFile *image = rm_annotation_get_image (annotation);
      gpointer rank = image != NULL ? g_hash_table_lookup (ranks, image) : NULL;
      Entry entry = { annotation, rank != NULL ? GPOINTER_TO_UINT (rank) : G_MAXUINT, i };

      if (rm_annotation_get_status (annotation) == RM_ANNOTATION_STATUS_CANDIDATE)
        g_array_append_val (entries, entry);
    }
  g_array_sort (entries, compare_entries);

  g_object_freeze_notify (G_OBJECT (self));
  g_ptr_array_set_size (self->items, 0);
  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (self->items, g_object_ref (g_array_index (entries, Entry, i).annotation));
  /* a new queue starts again at its first annotation, even at the same position */
  self->position = INVALID_POSITION - 1;
  set_position (self, self->items->len > 0 ? 0 : INVALID_POSITION);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  g_object_thaw_notify (G_OBJECT (self));
}

/* Adds @annotation at the end (a candidate made during the review). FALSE if it is queued. */
gboolean
rm_review_queue_append (RmReviewQueue *self, RmAnnotation *annotation)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);
  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), FALSE);

  if (g_ptr_array_find (self->items, annotation, NULL))
    return FALSE;
  g_ptr_array_add (self->items, g_object_ref (annotation));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);

  return TRUE;
}

/* Takes @annotation out (it was deleted). The one after it becomes current if it was. */
gboolean
rm_review_queue_remove (RmReviewQueue *self, RmAnnotation *annotation)
{
  guint index;

  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  if (annotation == NULL || !g_ptr_array_find (self->items, annotation, &index))
    return FALSE;

  g_object_freeze_notify (G_OBJECT (self));
  g_ptr_array_remove_index (self->items, index);
  if (self->items->len == 0)
    set_position (self, INVALID_POSITION);
  else if (index < self->position)
    set_position (self, self->position - 1);
  else if (index == self->position)
    {
      /* the same number now names the next one: tell that the current one changed */
      self->position = MIN (index, self->items->len - 1);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POSITION]);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  g_object_thaw_notify (G_OBJECT (self));

  return TRUE;
}

void
rm_review_queue_clear (RmReviewQueue *self)
{
  g_return_if_fail (RM_IS_REVIEW_QUEUE (self));

  g_object_freeze_notify (G_OBJECT (self));
  g_ptr_array_set_size (self->items, 0);
  set_position (self, INVALID_POSITION);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  g_object_thaw_notify (G_OBJECT (self));
}

guint
rm_review_queue_get_n_items (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), 0);

  return self->items->len;
}

/* The annotation at @position (borrowed), or NULL. */
RmAnnotation *
rm_review_queue_get_item (RmReviewQueue *self, guint position)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), NULL);

  return position < self->items->len ? g_ptr_array_index (self->items, position) : NULL;
}

/* Where the review is (G_MAXUINT: nowhere, the queue is empty). */
guint
rm_review_queue_get_position (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), INVALID_POSITION);

  return self->position;
}

/* The annotation under review (borrowed), or NULL. */
RmAnnotation *
rm_review_queue_get_current (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), NULL);

  return rm_review_queue_get_item (self, self->position);
}

gboolean
rm_review_queue_set_position (RmReviewQueue *self, guint position)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  if (position >= self->items->len)
    return FALSE;
  set_position (self, position);

  return TRUE;
}

/* Moves to @annotation; FALSE if it is not queued. */
gboolean
rm_review_queue_set_current (RmReviewQueue *self, RmAnnotation *annotation)
{
  guint index;

  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  if (annotation == NULL || !g_ptr_array_find (self->items, annotation, &index))
    return FALSE;
  set_position (self, index);

  return TRUE;
}

/* Moves to the next annotation; FALSE at the end. */
gboolean
rm_review_queue_next (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  return self->position + 1 < self->items->len &&
         rm_review_queue_set_position (self, self->position + 1);
}

/* Moves to the previous annotation; FALSE at the start. */
gboolean
rm_review_queue_previous (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  return self->position != INVALID_POSITION && self->position > 0 &&
         rm_review_queue_set_position (self, self->position - 1);
}

static gboolean
is_pending (RmReviewQueue *self, guint i)
{
  return rm_annotation_get_status (g_ptr_array_index (self->items, i)) ==
         RM_ANNOTATION_STATUS_CANDIDATE;
}

/* Moves to the next annotation still to decide (a candidate) after the current one, going
 * round to the start. FALSE if none is left (the position stays). */
gboolean
rm_review_queue_next_pending (RmReviewQueue *self)
{
  guint n, start;

  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), FALSE);

  n = self->items->len;
  start = self->position == INVALID_POSITION ? n - 1 : self->position;
  for (guint k = 1; k <= n; k++)
    {
      guint i = (start + k) % n;

      if (is_pending (self, i))
        {
          set_position (self, i);
          return TRUE;
        }
    }

  return FALSE;
}

/* How many queued annotations are still candidates. */
guint
rm_review_queue_get_n_pending (RmReviewQueue *self)
{
  guint n = 0;

  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), 0);

  for (guint i = 0; i < self->items->len; i++)
    n += is_pending (self, i);

  return n;
}

/* "3 of 17", or NULL when the queue is empty. */
char *
rm_review_queue_format_counter (RmReviewQueue *self)
{
  g_return_val_if_fail (RM_IS_REVIEW_QUEUE (self), NULL);

  if (self->position == INVALID_POSITION)
    return NULL;

  /* Translators: where the review is: the annotation's number, then how many there are */
  return g_strdup_printf (_ ("%u of %u"), self->position + 1, self->items->len);
}
