/* rm-history.c: one undo history for the window: the candidate's mask edits and the changes made
 * to annotations (expression, status, mask, deletion, addition)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Ctrl+Z undoes the last thing the user did, whether that was a brush stroke on the candidate or
 * a status change in the annotations panel, so both kinds of step are kept in one list, in the
 * order they were made:
 *
 *   - a candidate step stands for one step of that candidate's own mask history
 *     (rm-mask-editor.c keeps the pixels); undoing it undoes the candidate's last edit. When the
 *     candidate goes (accepted, rejected, replaced), its steps are forgotten.
 *   - an annotation change keeps the annotation's expression, status, source and mask before
 *     and after, and applies one or the other. Masks are kept compressed (the annotation's RLE,
 *     a shared immutable GBytes), so a step costs a few kB at most and decodes nothing.
 *   - a deletion keeps the annotation and where it was in the list; undoing it puts it back.
 *   - an addition (a candidate accepted or rejected) keeps the annotation and the candidate it
 *     came from; undoing it takes the annotation out and gives the candidate back, as it was,
 *     so an accept by mistake costs nothing; redoing it finishes the candidate again.
 *
 * A new step forgets what could be redone. At most RM_HISTORY_DEFAULT_MAX_STEPS steps are kept.
 * "removed" and "restored" tell when an annotation leaves or joins the list through the history
 * (a deletion, its undo and its redo); "can-undo" and "can-redo" are notified.
 *
 * No widgets here: tested without a display (tests/gui/test-edit.c).
 */

#include "rm-history.h"

typedef enum
{
  OP_CANDIDATE,
  OP_CHANGE,
  OP_DELETE,
  OP_ADD,
} OpKind;

typedef struct
{
  char *expression;
  RmAnnotationStatus status;
  RmAnnotationSource source;
  GBytes *rle; /* rm_annotation_get_rle () */
} State;

typedef struct
{
  OpKind kind;
  RmCandidate *candidate;   /* OP_CANDIDATE; OP_ADD: where the annotation came from, or NULL */
  RmAnnotation *annotation; /* OP_CHANGE, OP_DELETE, OP_ADD */
  State before;             /* OP_CHANGE */
  State after;
  guint position; /* OP_DELETE, OP_ADD: where it was in the list when last taken out */
} Op;

struct _RmHistory
{
  GObject parent_instance;

  GListStore *annotations;
  GPtrArray *undo; /* of Op *, oldest first */
  GPtrArray *redo; /* of Op *, the next to redo last */
  guint max_steps;

  gboolean can_undo; /* as last notified */
  gboolean can_redo;
};

G_DEFINE_FINAL_TYPE (RmHistory, rm_history, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  REMOVED,
  RESTORED,
  CANDIDATE_RETURNED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
state_clear (State *state)
{
  g_clear_pointer (&state->expression, g_free);
  g_clear_pointer (&state->rle, g_bytes_unref);
}

static void
state_read (State *state, RmAnnotation *annotation)
{
  state->expression = g_strdup (rm_annotation_get_expression (annotation));
  state->status = rm_annotation_get_status (annotation);
  state->source = rm_annotation_get_source (annotation);
  state->rle = g_bytes_ref (rm_annotation_get_rle (annotation));
}

static gboolean
state_equal (const State *a, const State *b)
{
  return g_strcmp0 (a->expression, b->expression) == 0 && a->status == b->status &&
         a->source == b->source && g_bytes_equal (a->rle, b->rle);
}

/* Sets what differs, so that only real changes are notified. */
static void
state_apply (const State *state, RmAnnotation *annotation)
{
  g_object_freeze_notify (G_OBJECT (annotation));
  if (g_strcmp0 (state->expression, rm_annotation_get_expression (annotation)) != 0)
    rm_annotation_set_expression (annotation, state->expression);
  if (state->status != rm_annotation_get_status (annotation))
    rm_annotation_set_status (annotation, state->status);
  if (state->source != rm_annotation_get_source (annotation))
    rm_annotation_set_source (annotation, state->source);
  rm_annotation_set_rle (annotation, state->rle); /* does nothing when it is the same */
  g_object_thaw_notify (G_OBJECT (annotation));
}

static void
op_free (gpointer data)
{
  Op *op = data;

  g_clear_object (&op->candidate);
  g_clear_object (&op->annotation);
  state_clear (&op->before);
  state_clear (&op->after);
  g_free (op);
}

static void
update (RmHistory *self)
{
  gboolean can_undo = self->undo->len > 0;
  gboolean can_redo = self->redo->len > 0;

  if (can_undo != self->can_undo)
    {
      self->can_undo = can_undo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_UNDO]);
    }
  if (can_redo != self->can_redo)
    {
      self->can_redo = can_redo;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAN_REDO]);
    }
}

/* A new step: what could be redone is forgotten; the oldest steps go beyond the limit. */
static void
push (RmHistory *self, Op *op)
{
  g_ptr_array_set_size (self->redo, 0);
  g_ptr_array_add (self->undo, op);
  if (self->undo->len > self->max_steps)
    g_ptr_array_remove_range (self->undo, 0, self->undo->len - self->max_steps);
  update (self);
}

static gboolean
find (RmHistory *self, RmAnnotation *annotation, guint *position)
{
  return g_list_store_find (self->annotations, annotation, position);
}

/* Applies @op forwards (redo) or backwards (undo). FALSE if it could not be (a candidate step
 * its candidate no longer has): the caller drops it. */
static gboolean
op_apply (RmHistory *self, Op *op, gboolean forwards)
{
  guint position;

  switch (op->kind)
    {
    case OP_CANDIDATE:
      return forwards ? rm_candidate_redo (op->candidate) : rm_candidate_undo (op->candidate);

    case OP_CHANGE:
      state_apply (forwards ? &op->after : &op->before, op->annotation);
      return TRUE;

    case OP_DELETE:
    case OP_ADD:
      /* a deletion takes the annotation out going forwards, an addition going backwards */
      if ((op->kind == OP_DELETE) == forwards)
        {
          if (!find (self, op->annotation, &position))
            return FALSE;
          op->position = position;
          g_list_store_remove (self->annotations, position);
          g_signal_emit (self, signals[REMOVED], 0, op->annotation);
          if (op->kind == OP_ADD && op->candidate != NULL)
            g_signal_emit (self, signals[CANDIDATE_RETURNED], 0, op->candidate, TRUE);
        }
      else
        {
          if (find (self, op->annotation, &position))
            return FALSE;
          if (op->kind == OP_ADD && op->candidate != NULL)
            g_signal_emit (self, signals[CANDIDATE_RETURNED], 0, op->candidate, FALSE);
          position =
              MIN (op->position, g_list_model_get_n_items (G_LIST_MODEL (self->annotations)));
          g_list_store_insert (self->annotations, position, op->annotation);
          g_signal_emit (self, signals[RESTORED], 0, op->annotation);
        }
      return TRUE;

    default:
      g_assert_not_reached ();
    }
}

/* ---- GObject ----------------------------------------------------------------------------- */

static void
rm_history_dispose (GObject *object)
{
  RmHistory *self = (RmHistory *) object;

  if (self->undo != NULL)
    g_ptr_array_set_size (self->undo, 0);
  if (self->redo != NULL)
    g_ptr_array_set_size (self->redo, 0);
  g_clear_object (&self->annotations);

  G_OBJECT_CLASS (rm_history_parent_class)->dispose (object);
}

static void
rm_history_finalize (GObject *object)
{
  RmHistory *self = (RmHistory *) object;

  g_clear_pointer (&self->undo, g_ptr_array_unref);
  g_clear_pointer (&self->redo, g_ptr_array_unref);

  G_OBJECT_CLASS (rm_history_parent_class)->finalize (object);
}

static void
rm_history_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmHistory *self = RM_HISTORY (object);

  switch (prop_id)
    {
    case PROP_CAN_UNDO:
      g_value_set_boolean (value, self->can_undo);
      break;
    case PROP_CAN_REDO:
      g_value_set_boolean (value, self->can_redo);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_history_class_init (RmHistoryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = rm_history_dispose;
  object_class->finalize = rm_history_finalize;
  object_class->get_property = rm_history_get_property;

  properties[PROP_CAN_UNDO] = g_param_spec_boolean ("can-undo", NULL, NULL, FALSE, flags);
  properties[PROP_CAN_REDO] = g_param_spec_boolean ("can-redo", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* removed (annotation): a deletion, the redo of one or the undo of an addition took it out of
   * the list. */
  signals[REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                   NULL, NULL, G_TYPE_NONE, 1, RM_TYPE_ANNOTATION);
  /* restored (annotation): undoing its deletion (or redoing its addition) put it back in the
   * list. */
  signals[RESTORED] = g_signal_new ("restored", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                    NULL, NULL, NULL, G_TYPE_NONE, 1, RM_TYPE_ANNOTATION);
  /* candidate-returned (candidate, returned): undoing an addition gives back the candidate the
   * annotation was made from (TRUE: show it again, after "removed"); redoing it finishes the
   * candidate again (FALSE: let it go, before "restored"). */
  signals[CANDIDATE_RETURNED] =
      g_signal_new ("candidate-returned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 2, RM_TYPE_CANDIDATE, G_TYPE_BOOLEAN);
}

static void
rm_history_init (RmHistory *self)
{
  self->undo = g_ptr_array_new_with_free_func (op_free);
  self->redo = g_ptr_array_new_with_free_func (op_free);
  self->max_steps = RM_HISTORY_DEFAULT_MAX_STEPS;
}

/* A history of changes to the annotations in @annotations (a store of RmAnnotation). */
RmHistory *
rm_history_new (GListStore *annotations)
{
  RmHistory *self;

  g_return_val_if_fail (G_IS_LIST_STORE (annotations), NULL);

  self = g_object_new (RM_TYPE_HISTORY, NULL);
  self->annotations = g_object_ref (annotations);

  return self;
}

/* ---- recording --------------------------------------------------------------------------- */

/* Changes @annotation's status, source and mask (@rle: compressed, as rm_annotation_get_rle ()
 * and rm_annotation_encode_mask () give it; NULL: unchanged) as one step. FALSE if nothing
 * changed. */
gboolean
rm_history_update (RmHistory *self, RmAnnotation *annotation, RmAnnotationStatus status,
                   RmAnnotationSource source, GBytes *rle)
{
  Op *op;

  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), FALSE);

  op = g_new0 (Op, 1);
  op->kind = OP_CHANGE;
  op->annotation = g_object_ref (annotation);
  state_read (&op->before, annotation);
  state_read (&op->after, annotation);
  op->after.status = status;
  op->after.source = source;
  if (rle != NULL)
    {
      g_clear_pointer (&op->after.rle, g_bytes_unref);
      op->after.rle = g_bytes_ref (rle);
    }
  if (state_equal (&op->before, &op->after))
    {
      op_free (op);
      return FALSE;
    }

  state_apply (&op->after, annotation);
  push (self, op);

  return TRUE;
}

/* Sets @annotation's status as one step. FALSE if it had that status. */
gboolean
rm_history_set_status (RmHistory *self, RmAnnotation *annotation, RmAnnotationStatus status)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), FALSE);

  return rm_history_update (self, annotation, status, rm_annotation_get_source (annotation), NULL);
}

/* Sets @annotation's expression (stripped; an empty one is refused) as one step. FALSE if
 * nothing changed. */
gboolean
rm_history_set_expression (RmHistory *self, RmAnnotation *annotation, const char *expression)
{
  g_autofree char *stripped = NULL;
  Op *op;

  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), FALSE);
  g_return_val_if_fail (expression != NULL, FALSE);

  stripped = g_strstrip (g_strdup (expression));
  if (stripped[0] == '\0' || g_str_equal (stripped, rm_annotation_get_expression (annotation)))
    return FALSE;

  op = g_new0 (Op, 1);
  op->kind = OP_CHANGE;
  op->annotation = g_object_ref (annotation);
  state_read (&op->before, annotation);
  state_read (&op->after, annotation);
  g_free (op->after.expression);
  op->after.expression = g_steal_pointer (&stripped);
  state_apply (&op->after, annotation);
  push (self, op);

  return TRUE;
}

/* Takes @annotation out of the list as one step ("removed" is emitted). FALSE if it is not in
 * the list. */
gboolean
rm_history_delete (RmHistory *self, RmAnnotation *annotation)
{
  Op *op;

  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);
  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), FALSE);

  op = g_new0 (Op, 1);
  op->kind = OP_DELETE;
  op->annotation = g_object_ref (annotation);
  if (!op_apply (self, op, TRUE))
    {
      op_free (op);
      return FALSE;
    }
  push (self, op);

  return TRUE;
}

/* Records that @annotation, made from @candidate (NULL: from nothing to give back), was just
 * added at the end of the list, as one step. */
void
rm_history_record_add (RmHistory *self, RmAnnotation *annotation, RmCandidate *candidate)
{
  Op *op;

  g_return_if_fail (RM_IS_HISTORY (self));
  g_return_if_fail (RM_IS_ANNOTATION (annotation));
  g_return_if_fail (candidate == NULL || RM_IS_CANDIDATE (candidate));
  g_return_if_fail (find (self, annotation, NULL));

  op = g_new0 (Op, 1);
  op->kind = OP_ADD;
  op->annotation = g_object_ref (annotation);
  op->candidate = candidate != NULL ? g_object_ref (candidate) : NULL;
  push (self, op);
}

/* Records that @candidate made a new step of its own mask history (its "edited" signal). */
void
rm_history_record_candidate_step (RmHistory *self, RmCandidate *candidate)
{
  Op *op;

  g_return_if_fail (RM_IS_HISTORY (self));
  g_return_if_fail (RM_IS_CANDIDATE (candidate));

  op = g_new0 (Op, 1);
  op->kind = OP_CANDIDATE;
  op->candidate = g_object_ref (candidate);
  push (self, op);
}

static void
forget_in (GPtrArray *ops, RmCandidate *candidate)
{
  for (guint i = ops->len; i > 0; i--)
    {
      Op *op = g_ptr_array_index (ops, i - 1);

      if (op->kind == OP_CANDIDATE && op->candidate == candidate)
        g_ptr_array_remove_index (ops, i - 1);
    }
}

/* Forgets @candidate's steps: it is no longer edited. */
void
rm_history_forget_candidate (RmHistory *self, RmCandidate *candidate)
{
  g_return_if_fail (RM_IS_HISTORY (self));

  if (candidate == NULL)
    return;
  forget_in (self->undo, candidate);
  forget_in (self->redo, candidate);
  update (self);
}

/* ---- undo and redo ----------------------------------------------------------------------- */

gboolean
rm_history_can_undo (RmHistory *self)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);

  return self->undo->len > 0;
}

gboolean
rm_history_can_redo (RmHistory *self)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);

  return self->redo->len > 0;
}

static gboolean
step (RmHistory *self, GPtrArray *from, GPtrArray *to, gboolean forwards, RmAnnotation **touched)
{
  gboolean done = FALSE;

  if (touched != NULL)
    *touched = NULL;

  while (!done && from->len > 0)
    {
      Op *op = g_ptr_array_steal_index (from, from->len - 1);

      if (op_apply (self, op, forwards))
        {
          if (touched != NULL)
            *touched = op->annotation;
          g_ptr_array_add (to, op);
          done = TRUE;
        }
      else
        op_free (op); /* out of date: try the one before */
    }
  update (self);

  return done;
}

/* Undoes the last step. @touched (borrowed, may be NULL) is the annotation it changed, or NULL
 * for a candidate step. FALSE if there was nothing to undo. */
gboolean
rm_history_undo (RmHistory *self, RmAnnotation **touched)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);

  return step (self, self->undo, self->redo, FALSE, touched);
}

/* Redoes the last undone step; see rm_history_undo (). */
gboolean
rm_history_redo (RmHistory *self, RmAnnotation **touched)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), FALSE);

  return step (self, self->redo, self->undo, TRUE, touched);
}

guint
rm_history_get_n_undo (RmHistory *self)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), 0);

  return self->undo->len;
}

guint
rm_history_get_n_redo (RmHistory *self)
{
  g_return_val_if_fail (RM_IS_HISTORY (self), 0);

  return self->redo->len;
}

/* Keeps at most @max_steps steps to undo (at least 1). */
void
rm_history_set_max_steps (RmHistory *self, guint max_steps)
{
  g_return_if_fail (RM_IS_HISTORY (self));

  self->max_steps = MAX (max_steps, 1);
  if (self->undo->len > self->max_steps)
    g_ptr_array_remove_range (self->undo, 0, self->undo->len - self->max_steps);
  update (self);
}

void
rm_history_clear (RmHistory *self)
{
  g_return_if_fail (RM_IS_HISTORY (self));

  g_ptr_array_set_size (self->undo, 0);
  g_ptr_array_set_size (self->redo, 0);
  update (self);
}
