/* rm-model-version.c: one version of the model in this session (a model folder, and where it came
 * from)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window lists the model folders it loaded in this session and the ones fine-tuning made,
 * in its model switcher; each is one of these. A fine-tuned version knows the folder it started
 * from (its parent: rolling back goes there), how many steps it trained and on how many
 * expressions, whether the run finished or was stopped (a checkpoint), and the validation
 * metrics before and after. Plain data: a project store can save and restore it.
 */

#include "rm-model-version.h"

#include <glib/gi18n.h>

struct _RmModelVersion
{
  GObject parent_instance;

  char *dir;
  char *name;
  char *parent_dir;
  GDateTime *created;
  gint64 steps;
  guint n_train;
  gboolean complete;
  gboolean have_validation;
  RmMetricsSummary before;
  RmMetricsSummary after;
};

G_DEFINE_FINAL_TYPE (RmModelVersion, rm_model_version, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_DIR,
  PROP_NAME,
  PROP_PARENT_DIR,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
rm_model_version_finalize (GObject *object)
{
  RmModelVersion *self = (RmModelVersion *) object;

  g_free (self->dir);
  g_free (self->name);
  g_free (self->parent_dir);
  g_clear_pointer (&self->created, g_date_time_unref);

  G_OBJECT_CLASS (rm_model_version_parent_class)->finalize (object);
}

static void
rm_model_version_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmModelVersion *self = RM_MODEL_VERSION (object);

  switch (prop_id)
    {
    case PROP_DIR:
      g_value_set_string (value, self->dir);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_PARENT_DIR:
      g_value_set_string (value, self->parent_dir);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_model_version_class_init (RmModelVersionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->finalize = rm_model_version_finalize;
  object_class->get_property = rm_model_version_get_property;

  properties[PROP_DIR] = g_param_spec_string ("dir", NULL, NULL, NULL, flags);
  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
  properties[PROP_PARENT_DIR] = g_param_spec_string ("parent-dir", NULL, NULL, NULL, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rm_model_version_init (RmModelVersion *self)
{
  self->created = g_date_time_new_now_utc ();
  self->complete = TRUE;
}

/* The model in @dir, shown as @name (NULL: the folder's name), made from the model in
 * @parent_dir (NULL: not made here). */
RmModelVersion *
rm_model_version_new (const char *dir, const char *name, const char *parent_dir)
{
  RmModelVersion *self;

  g_return_val_if_fail (dir != NULL, NULL);

  self = g_object_new (RM_TYPE_MODEL_VERSION, NULL);
  self->dir = g_strdup (dir);
  self->name = name != NULL ? g_strdup (name) : g_path_get_basename (dir);
  self->parent_dir = g_strdup (parent_dir);

  return self;
}

const char *
rm_model_version_get_dir (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), NULL);

  return self->dir;
}

const char *
rm_model_version_get_name (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), NULL);

  return self->name;
}

void
rm_model_version_set_name (RmModelVersion *self, const char *name)
{
  g_return_if_fail (RM_IS_MODEL_VERSION (self));
  g_return_if_fail (name != NULL);

  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/* The folder of the model it was fine-tuned from, or NULL. */
const char *
rm_model_version_get_parent_dir (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), NULL);

  return self->parent_dir;
}

GDateTime *
rm_model_version_get_created (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), NULL);

  return self->created;
}

/* How it was trained: @steps optimizer steps on @n_train expressions; @complete is FALSE for a
 * run that was stopped (the folder holds its checkpoint). */
void
rm_model_version_set_training (RmModelVersion *self, gint64 steps, guint n_train, gboolean complete)
{
  g_return_if_fail (RM_IS_MODEL_VERSION (self));

  self->steps = steps;
  self->n_train = n_train;
  self->complete = complete;
}

gint64
rm_model_version_get_steps (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), 0);

  return self->steps;
}

guint
rm_model_version_get_n_train (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), 0);

  return self->n_train;
}

gboolean
rm_model_version_get_complete (RmModelVersion *self)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), FALSE);

  return self->complete;
}

/* The validation metrics before and after its fine-tuning. */
void
rm_model_version_set_validation (RmModelVersion *self, const RmMetricsSummary *before,
                                 const RmMetricsSummary *after)
{
  g_return_if_fail (RM_IS_MODEL_VERSION (self));
  g_return_if_fail (before != NULL && after != NULL);

  self->before = *before;
  self->after = *after;
  self->have_validation = TRUE;
}

/* FALSE when it was not validated. */
gboolean
rm_model_version_get_validation (RmModelVersion *self, RmMetricsSummary *before,
                                 RmMetricsSummary *after)
{
  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), FALSE);

  if (self->have_validation)
    {
      if (before != NULL)
        *before = self->before;
      if (after != NULL)
        *after = self->after;
    }

  return self->have_validation;
}

/* One line for a tooltip: where it came from, its training and its validation. */
char *
rm_model_version_describe (RmModelVersion *self)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GFile) folder = NULL;
  g_autofree char *where = NULL;

  g_return_val_if_fail (RM_IS_MODEL_VERSION (self), NULL);

  folder = g_file_new_for_path (self->dir);
  where = g_file_get_parse_name (folder);
  g_string_append (text, where);
  if (self->parent_dir != NULL)
    {
      g_autofree char *steps = g_strdup_printf ("%" G_GINT64_FORMAT, self->steps);

      g_string_append (text, "\n");
      if (self->complete)
        /* Translators: a fine-tuned model: optimizer steps, then training expressions */
        g_string_append_printf (text, _ ("Fine-tuned: %s steps on %u expressions"), steps,
                                self->n_train);
      else
        /* Translators: a fine-tuning run that was stopped: the checkpoint after N steps */
        g_string_append_printf (text, _ ("Stopped after %s steps on %u expressions (checkpoint)"),
                                steps, self->n_train);
    }
  if (self->have_validation)
    {
      g_string_append (text, "\n");
      /* Translators: validation mIoU before → after fine-tuning, in percent */
      g_string_append_printf (text, _ ("Validation mIoU %.1f %% → %.1f %%"),
                              self->before.miou * 100, self->after.miou * 100);
    }

  return g_string_free (g_steal_pointer (&text), FALSE);
}
