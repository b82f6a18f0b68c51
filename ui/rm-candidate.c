/* rm-candidate.c: the model's answer to a query, being reviewed and corrected
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The candidate owns the mask being edited (an RmMaskEditor, with its undo history) and the
 * model's prior. Every change emits "mask-changed" with the changed rectangle, so the canvas
 * remakes only the overlay tiles there; "area", "can-undo", "can-redo" and "corrected" are
 * notified, and "edited" tells that an edit became a new step of the undo history (the window
 * keeps one history of mask edits and annotation changes). Accepting or rejecting turns it into
 * an RmAnnotation. A candidate can also be made from an annotation (its origin), to correct the
 * annotation's mask: reviewing a batch labelling's results does that.
 */

#include "rm-candidate.h"
#include "rm-mask-overlay.h"

struct _RmCandidate
{
  GObject parent_instance;

  GFile *image;
  char *expression;
  char *model;
  RmAnnotation *origin; /* the annotation being corrected, or NULL */
  RmMaskEditor *editor;
  float *prior;
  int prior_size;
  GdkTexture *prior_texture;

  /* what was last notified */
  gint64 area;
  gboolean can_undo;
  gboolean can_redo;
  gboolean corrected;
};

G_DEFINE_FINAL_TYPE (RmCandidate, rm_candidate, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_AREA,
  PROP_CAN_UNDO,
  PROP_CAN_REDO,
  PROP_CORRECTED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  MASK_CHANGED,
  EDITED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* After every edit: tell what changed. */
static void
changed (RmCandidate *self)
{
  RmMaskRect rect;
  gint64 area = rm_mask_editor_get_area (self->editor);
  gboolean can_undo = rm_mask_editor_can_undo (self->editor);
  gboolean can_redo = rm_mask_editor_can_redo (self->editor);
  gboolean corrected = rm_mask_editor_is_modified (self->editor);

  g_object_freeze_notify (G_OBJECT (self));
  if (rm_mask_editor_take_dirty (self->editor, &rect))
    g_signal_emit (self, signals[MASK_CHANGED], 0, rect.x, rect.y, rect.width, rect.height);
  if (area != self->area)
    {
      self->area = area;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AREA]);
    }
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
  if (corrected != self->corrected)
    {
      self->corrected = corrected;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CORRECTED]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
rm_candidate_finalize (GObject *object)
{
  RmCandidate *self = (RmCandidate *) object;

  g_clear_object (&self->image);
  g_clear_object (&self->origin);
  g_clear_pointer (&self->expression, g_free);
  g_clear_pointer (&self->model, g_free);
  g_clear_pointer (&self->editor, rm_mask_editor_free);
  g_clear_pointer (&self->prior, g_free);
  g_clear_object (&self->prior_texture);

  G_OBJECT_CLASS (rm_candidate_parent_class)->finalize (object);
}

static void
rm_candidate_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmCandidate *self = RM_CANDIDATE (object);

  switch (prop_id)
    {
    case PROP_AREA:
      g_value_set_int64 (value, self->area);
      break;
    case PROP_CAN_UNDO:
      g_value_set_boolean (value, self->can_undo);
      break;
    case PROP_CAN_REDO:
      g_value_set_boolean (value, self->can_redo);
      break;
    case PROP_CORRECTED:
      g_value_set_boolean (value, self->corrected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_candidate_class_init (RmCandidateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = rm_candidate_finalize;
  object_class->get_property = rm_candidate_get_property;

  properties[PROP_AREA] = g_param_spec_int64 ("area", NULL, NULL, 0, G_MAXINT64, 0, flags);
  properties[PROP_CAN_UNDO] = g_param_spec_boolean ("can-undo", NULL, NULL, FALSE, flags);
  properties[PROP_CAN_REDO] = g_param_spec_boolean ("can-redo", NULL, NULL, FALSE, flags);
  properties[PROP_CORRECTED] = g_param_spec_boolean ("corrected", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* mask-changed (x, y, width, height): pixels in that rectangle may have changed. */
  signals[MASK_CHANGED] =
      g_signal_new ("mask-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 4, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT, G_TYPE_INT);
  /* edited: an edit (a stroke, a hole fill, a polygon) was recorded as one undo step; not
   * emitted for undo and redo. */
  signals[EDITED] = g_signal_new ("edited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                  NULL, NULL, G_TYPE_NONE, 0);
}

static void
rm_candidate_init (RmCandidate *self)
{
}

/* A candidate for @expression on @image from the engine's @result (copied). */
RmCandidate *
rm_candidate_new (GFile *image, const char *expression, const RmSegmentResult *result)
{
  RmCandidate *self;

  g_return_val_if_fail (G_IS_FILE (image), NULL);
  g_return_val_if_fail (expression != NULL, NULL);
  g_return_val_if_fail (result != NULL && result->mask != NULL, NULL);
  g_return_val_if_fail (result->width > 0 && result->height > 0, NULL);

  self = g_object_new (RM_TYPE_CANDIDATE, NULL);
  self->image = g_object_ref (image);
  self->expression = g_strdup (expression);
  self->editor = rm_mask_editor_new (result->width, result->height, result->mask);
  self->area = rm_mask_editor_get_area (self->editor);
  if (result->prior != NULL && result->prior_size > 0)
    {
      self->prior_size = result->prior_size;
      self->prior =
          g_memdup2 (result->prior, sizeof (float) * result->prior_size * result->prior_size);
    }

  return self;
}

/* A candidate to correct @annotation's mask (a copy, decoded here if it was not; an empty mask
 * gives an empty candidate to paint on), with its expression, prior and model. The annotation
 * is the candidate's origin: accepting the candidate updates it instead of adding another. NULL
 * if the annotation has no image. */
RmCandidate *
rm_candidate_new_for_annotation (RmAnnotation *annotation)
{
  RmCandidate *self;
  GBytes *mask;
  GBytes *prior;
  int prior_size = 0;

  g_return_val_if_fail (RM_IS_ANNOTATION (annotation), NULL);

  if (rm_annotation_get_width (annotation) <= 0 || rm_annotation_get_height (annotation) <= 0 ||
      rm_annotation_get_image (annotation) == NULL)
    return NULL;
  mask = rm_annotation_get_mask (annotation); /* NULL: empty */

  self = g_object_new (RM_TYPE_CANDIDATE, NULL);
  self->image = g_object_ref (rm_annotation_get_image (annotation));
  self->expression = g_strdup (rm_annotation_get_expression (annotation));
  self->model = g_strdup (rm_annotation_get_model (annotation));
  self->origin = g_object_ref (annotation);
  self->editor = rm_mask_editor_new (rm_annotation_get_width (annotation),
                                     rm_annotation_get_height (annotation),
                                     mask != NULL ? g_bytes_get_data (mask, NULL) : NULL);
  self->area = rm_mask_editor_get_area (self->editor);
  prior = rm_annotation_get_prior (annotation, &prior_size);
  if (prior != NULL && prior_size > 0 &&
      g_bytes_get_size (prior) == sizeof (float) * prior_size * prior_size)
    {
      self->prior_size = prior_size;
      self->prior = g_memdup2 (g_bytes_get_data (prior, NULL), g_bytes_get_size (prior));
    }

  return self;
}

/* The annotation this candidate corrects, or NULL for a query's answer. */
RmAnnotation *
rm_candidate_get_origin (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return self->origin;
}

GFile *
rm_candidate_get_image (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return self->image;
}

const char *
rm_candidate_get_expression (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return self->expression;
}

int
rm_candidate_get_width (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), 0);

  return rm_mask_editor_get_width (self->editor);
}

int
rm_candidate_get_height (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), 0);

  return rm_mask_editor_get_height (self->editor);
}

/* width x height bytes, 0 or 1. */
const guint8 *
rm_candidate_get_mask (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return rm_mask_editor_get_data (self->editor);
}

gint64
rm_candidate_get_area (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), 0);

  return rm_mask_editor_get_area (self->editor);
}

/* The model's prior, size x size probabilities; NULL if the result had none. */
const float *
rm_candidate_get_prior (RmCandidate *self, int *size)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  if (size != NULL)
    *size = self->prior_size;

  return self->prior;
}

/* The prior as a heatmap texture (size x size texels, made once), or NULL. */
GdkTexture *
rm_candidate_get_prior_texture (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  if (self->prior_texture == NULL && self->prior != NULL)
    self->prior_texture = rm_heatmap_texture_new (self->prior, self->prior_size, self->prior_size);

  return self->prior_texture;
}

/* The editor, for reading (edit through the candidate, which tells what changed). */
RmMaskEditor *
rm_candidate_get_editor (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return self->editor;
}

const char *
rm_candidate_get_model (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  return self->model;
}

/* Which model made it (recorded in the annotation). */
void
rm_candidate_set_model (RmCandidate *self, const char *model)
{
  g_return_if_fail (RM_IS_CANDIDATE (self));

  g_free (self->model);
  self->model = g_strdup (model);
}

void
rm_candidate_begin_stroke (RmCandidate *self, gboolean paint, double diameter, double x, double y)
{
  g_return_if_fail (RM_IS_CANDIDATE (self));

  rm_mask_editor_begin_stroke (self->editor, paint, diameter, x, y);
  changed (self);
}

void
rm_candidate_stroke_to (RmCandidate *self, double x, double y)
{
  g_return_if_fail (RM_IS_CANDIDATE (self));

  if (!rm_mask_editor_in_stroke (self->editor))
    return;
  rm_mask_editor_stroke_to (self->editor, x, y);
  changed (self);
}

gboolean
rm_candidate_end_stroke (RmCandidate *self)
{
  gboolean recorded;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  recorded = rm_mask_editor_end_stroke (self->editor);
  changed (self);
  if (recorded)
    g_signal_emit (self, signals[EDITED], 0);

  return recorded;
}

gboolean
rm_candidate_fill_holes (RmCandidate *self)
{
  gboolean filled;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  filled = rm_mask_editor_fill_holes (self->editor);
  changed (self);
  if (filled)
    g_signal_emit (self, signals[EDITED], 0);

  return filled;
}

/* Adds (@paint) or removes the inside of a polygon of @n_points points (x, y pairs in image
 * pixels): one undo step. FALSE if nothing changed. */
gboolean
rm_candidate_fill_polygon (RmCandidate *self, const double *xy, guint n_points, gboolean paint)
{
  gboolean filled;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  filled = rm_mask_editor_fill_polygon (self->editor, xy, n_points, paint);
  changed (self);
  if (filled)
    g_signal_emit (self, signals[EDITED], 0);

  return filled;
}

gboolean
rm_candidate_can_undo (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  return rm_mask_editor_can_undo (self->editor);
}

gboolean
rm_candidate_can_redo (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  return rm_mask_editor_can_redo (self->editor);
}

gboolean
rm_candidate_undo (RmCandidate *self)
{
  gboolean done;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  done = rm_mask_editor_undo (self->editor);
  changed (self);

  return done;
}

gboolean
rm_candidate_redo (RmCandidate *self)
{
  gboolean done;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  done = rm_mask_editor_redo (self->editor);
  changed (self);

  return done;
}

/* Whether the user changed the model's mask (an edit is applied). */
gboolean
rm_candidate_get_corrected (RmCandidate *self)
{
  g_return_val_if_fail (RM_IS_CANDIDATE (self), FALSE);

  return rm_mask_editor_is_modified (self->editor);
}

/* An annotation with the current mask, the expression, the prior, @status, and the source
 * "model" or "model, then corrected". */
RmAnnotation *
rm_candidate_to_annotation (RmCandidate *self, RmAnnotationStatus status)
{
  g_autoptr (GBytes) mask = NULL;
  RmAnnotation *annotation;
  int width, height;

  g_return_val_if_fail (RM_IS_CANDIDATE (self), NULL);

  width = rm_mask_editor_get_width (self->editor);
  height = rm_mask_editor_get_height (self->editor);
  mask = g_bytes_new (rm_mask_editor_get_data (self->editor), (gsize) width * height);
  annotation =
      rm_annotation_new (self->image, self->expression, width, height, mask, status,
                         rm_candidate_get_corrected (self) ? RM_ANNOTATION_SOURCE_MODEL_CORRECTED
                                                           : RM_ANNOTATION_SOURCE_MODEL);
  rm_annotation_set_model (annotation, self->model);
  if (self->prior != NULL)
    {
      g_autoptr (GBytes) prior =
          g_bytes_new (self->prior, sizeof (float) * self->prior_size * self->prior_size);

      rm_annotation_set_prior (annotation, prior, self->prior_size);
    }

  return annotation;
}
