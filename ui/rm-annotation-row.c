/* rm-annotation-row.c: a row of the annotations panel
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The expression, then the status, the source and the area; a dot in the status's colour.
 */

#include "rm-annotation-row.h"
#include "rm-annotation.h"

#include <glib/gi18n.h>

struct _RmAnnotationRow
{
  GtkWidget parent_instance;

  RmAnnotation *annotation;
  GSignalGroup *annotation_signals;

  GtkLabel *status_dot;
  GtkLabel *expression_label;
  GtkLabel *detail_label;
};

G_DEFINE_FINAL_TYPE (RmAnnotationRow, rm_annotation_row, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ANNOTATION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *const status_classes[] = { "candidate", "accepted", "rejected" };

static void
update (RmAnnotationRow *self)
{
  RmAnnotation *annotation = self->annotation;
  RmAnnotationStatus status;
  g_autofree char *area = NULL;
  g_autofree char *detail = NULL;
  const char *expression;

  for (guint i = 0; i < G_N_ELEMENTS (status_classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->status_dot), status_classes[i]);

  if (annotation == NULL)
    {
      gtk_label_set_label (self->expression_label, "");
      gtk_label_set_label (self->detail_label, "");
      return;
    }

  status = rm_annotation_get_status (annotation);
  if ((guint) status < G_N_ELEMENTS (status_classes))
    gtk_widget_add_css_class (GTK_WIDGET (self->status_dot), status_classes[status]);

  expression = rm_annotation_get_expression (annotation);
  gtk_label_set_label (self->expression_label,
                       expression[0] != '\0' ? expression : _ ("(no expression)"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self), expression);

  area = rm_annotation_format_area (rm_annotation_get_area (annotation));
  /* Translators: status · source · area of an annotation, e.g. “Accepted · Model · 1,234 px” */
  detail = g_strdup_printf (_ ("%s · %s · %s"), rm_annotation_status_get_label (status),
                            rm_annotation_source_get_label (rm_annotation_get_source (annotation)),
                            area);
  gtk_label_set_label (self->detail_label, detail);
}

static void
rm_annotation_row_dispose (GObject *object)
{
  RmAnnotationRow *self = (RmAnnotationRow *) object;
  GtkWidget *child;

  g_signal_group_set_target (self->annotation_signals, NULL);
  g_clear_object (&self->annotation_signals);
  g_clear_object (&self->annotation);
  gtk_widget_dispose_template (GTK_WIDGET (self), RM_TYPE_ANNOTATION_ROW);
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))) != NULL)
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (rm_annotation_row_parent_class)->dispose (object);
}

static void
rm_annotation_row_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmAnnotationRow *self = RM_ANNOTATION_ROW (object);

  switch (prop_id)
    {
    case PROP_ANNOTATION:
      g_value_set_object (value, self->annotation);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_annotation_row_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  RmAnnotationRow *self = RM_ANNOTATION_ROW (object);

  switch (prop_id)
    {
    case PROP_ANNOTATION:
      rm_annotation_row_set_annotation (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_annotation_row_class_init (RmAnnotationRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = rm_annotation_row_dispose;
  object_class->get_property = rm_annotation_row_get_property;
  object_class->set_property = rm_annotation_row_set_property;

  properties[PROP_ANNOTATION] =
      g_param_spec_object ("annotation", NULL, NULL, RM_TYPE_ANNOTATION,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-annotation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, status_dot);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, expression_label);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, detail_label);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "rmannotationrow");
}

static void
rm_annotation_row_init (RmAnnotationRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->annotation_signals = g_signal_group_new (RM_TYPE_ANNOTATION);
  g_signal_group_connect_swapped (self->annotation_signals, "notify", G_CALLBACK (update), self);
  update (self);
}

GtkWidget *
rm_annotation_row_new (void)
{
  return g_object_new (RM_TYPE_ANNOTATION_ROW, NULL);
}

RmAnnotation *
rm_annotation_row_get_annotation (RmAnnotationRow *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION_ROW (self), NULL);

  return self->annotation;
}

void
rm_annotation_row_set_annotation (RmAnnotationRow *self, RmAnnotation *annotation)
{
  g_return_if_fail (RM_IS_ANNOTATION_ROW (self));
  g_return_if_fail (annotation == NULL || RM_IS_ANNOTATION (annotation));

  if (!g_set_object (&self->annotation, annotation))
    return;

  g_signal_group_set_target (self->annotation_signals, annotation);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ANNOTATION]);
}
