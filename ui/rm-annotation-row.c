/* rm-annotation-row.c: a row of the annotations panel
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The expression, then the status, the source and the area; a dot in the status's colour, and
 * a menu: the status (accepted, candidate, rejected), edit the expression, delete. The
 * expression is edited in place: an entry takes the label's place while editing (Enter or leaving
 * keeps the text, Escape does not), so a click on the row only selects it. The row changes
 * nothing itself: it emits "status-requested",
 * "expression-edited" and "delete-requested", and the window records each change in its undo
 * history.
 */

#include "rm-annotation-row.h"

#include <glib/gi18n.h>

struct _RmAnnotationRow
{
  GtkWidget parent_instance;

  RmAnnotation *annotation;
  GSignalGroup *annotation_signals;

  gboolean editing;

  GtkLabel *status_dot;
  GtkStack *expression_stack;
  GtkLabel *expression_label;
  GtkEntry *expression_entry;
  GtkLabel *detail_label;
  GtkMenuButton *menu_button;
};

G_DEFINE_FINAL_TYPE (RmAnnotationRow, rm_annotation_row, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ANNOTATION,
  PROP_STATUS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  STATUS_REQUESTED,
  EXPRESSION_EDITED,
  DELETE_REQUESTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

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
on_annotation_notify (RmAnnotationRow *self, GParamSpec *pspec)
{
  update (self);
  if (g_str_equal (pspec->name, "status"))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

static void
on_entry_activate (RmAnnotationRow *self)
{
  g_autofree char *text = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->expression_entry)));

  rm_annotation_row_finish_editing (self, text);
}

static gboolean
on_entry_key_pressed (RmAnnotationRow *self, guint keyval, guint keycode, GdkModifierType state)
{
  if (keyval != GDK_KEY_Escape || !self->editing)
    return FALSE;
  rm_annotation_row_finish_editing (self, NULL);

  return TRUE;
}

/* Leaving the entry keeps what was typed, as a label that is edited in place would. */
static void
on_entry_focus_leave (RmAnnotationRow *self)
{
  g_autofree char *text = NULL;

  if (!self->editing)
    return;
  text = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->expression_entry)));
  rm_annotation_row_finish_editing (self, text);
}

static void
status_action_set (RmAnnotationRow *self, const char *nick)
{
  RmAnnotationStatus status;

  if (self->annotation == NULL || !rm_annotation_status_from_string (nick, &status))
    return;
  if (status != rm_annotation_get_status (self->annotation))
    g_signal_emit (self, signals[STATUS_REQUESTED], 0, (int) status);
}

static void
row_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  RmAnnotationRow *self = RM_ANNOTATION_ROW (widget);

  if (self->annotation == NULL)
    return;
  if (g_str_equal (action_name, "row.edit-expression"))
    rm_annotation_row_start_editing (self);
  else if (g_str_equal (action_name, "row.delete"))
    g_signal_emit (self, signals[DELETE_REQUESTED], 0);
  else
    g_assert_not_reached ();
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
    case PROP_STATUS:
      g_value_set_string (
          value, self->annotation != NULL
                     ? rm_annotation_status_to_string (rm_annotation_get_status (self->annotation))
                     : "candidate");
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
    case PROP_STATUS:
      status_action_set (self, g_value_get_string (value));
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
  /* The annotation's status nick, for the row.status menu items; setting it only asks
   * ("status-requested"). */
  properties[PROP_STATUS] =
      g_param_spec_string ("status", NULL, NULL, "candidate",
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* status-requested (status): the user chose @status (an RmAnnotationStatus) in the menu. */
  signals[STATUS_REQUESTED] =
      g_signal_new ("status-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  /* expression-edited (expression): the user edited the expression in place (not empty, not the
   * same); the row shows the annotation's expression again until it changes. */
  signals[EXPRESSION_EDITED] =
      g_signal_new ("expression-edited", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* delete-requested: the user chose Delete in the menu. */
  signals[DELETE_REQUESTED] = g_signal_new ("delete-requested", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  rm_ui_ensure_resources ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               RM_RESOURCE_PATH "/rm-annotation-row.ui");
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, status_dot);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, expression_stack);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, expression_label);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, expression_entry);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, RmAnnotationRow, menu_button);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_activate);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_key_pressed);
  gtk_widget_class_bind_template_callback (widget_class, on_entry_focus_leave);

  gtk_widget_class_install_property_action (widget_class, "row.status", "status");
  gtk_widget_class_install_action (widget_class, "row.edit-expression", NULL, row_action);
  gtk_widget_class_install_action (widget_class, "row.delete", NULL, row_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "rmannotationrow");
}

static void
rm_annotation_row_init (RmAnnotationRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->annotation_signals = g_signal_group_new (RM_TYPE_ANNOTATION);
  g_signal_group_connect_swapped (self->annotation_signals, "notify",
                                  G_CALLBACK (on_annotation_notify), self);
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

  if (self->annotation == annotation)
    return;

  if (self->editing)
    rm_annotation_row_finish_editing (self, NULL);
  g_set_object (&self->annotation, annotation);
  g_signal_group_set_target (self->annotation_signals, annotation);
  update (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ANNOTATION]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

/* Starts editing the expression in place: Enter keeps it, Escape does not. */
void
rm_annotation_row_start_editing (RmAnnotationRow *self)
{
  g_return_if_fail (RM_IS_ANNOTATION_ROW (self));

  if (self->annotation == NULL || self->editing)
    return;

  self->editing = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->expression_entry),
                         rm_annotation_get_expression (self->annotation));
  gtk_stack_set_visible_child_name (self->expression_stack, "entry");
  gtk_widget_grab_focus (GTK_WIDGET (self->expression_entry));
  gtk_editable_select_region (GTK_EDITABLE (self->expression_entry), 0, -1);
}

gboolean
rm_annotation_row_get_editing (RmAnnotationRow *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION_ROW (self), FALSE);

  return self->editing;
}

/* Ends an edit with @text (as if typed and confirmed; NULL: abandoned): "expression-edited" is
 * emitted when it is a new, non-empty expression. The keyboard focus goes back to the list, so
 * Ctrl+Z is the window's again. */
void
rm_annotation_row_finish_editing (RmAnnotationRow *self, const char *text)
{
  g_autofree char *expression = NULL;
  GtkRoot *root;
  GtkWidget *focus;
  GtkWidget *item;

  g_return_if_fail (RM_IS_ANNOTATION_ROW (self));

  if (!self->editing)
    return;
  self->editing = FALSE; /* before the focus moves: leaving the entry comes back here */

  root = gtk_widget_get_root (GTK_WIDGET (self));
  focus = root != NULL ? gtk_root_get_focus (root) : NULL;
  item = gtk_widget_get_parent (GTK_WIDGET (self));
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->expression_entry)) &&
      item != NULL)
    gtk_widget_grab_focus (item);
  gtk_stack_set_visible_child_name (self->expression_stack, "label");

  if (self->annotation == NULL || text == NULL)
    return;
  expression = g_strstrip (g_strdup (text));
  if (expression[0] != '\0' &&
      !g_str_equal (expression, rm_annotation_get_expression (self->annotation)))
    g_signal_emit (self, signals[EXPRESSION_EDITED], 0, expression);
}
