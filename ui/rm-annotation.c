/* rm-annotation.c: one annotation of an image (a mask with its referring expression)
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What a project stores for an annotation, and nothing of how it is edited: the image, the
 * expression, the status (candidate, accepted, rejected), the source (the model, the model
 * then corrected by hand, or drawn by hand), the mask, its area and bounding box, the model's
 * prior when there is one, which model made it, and when. The id is 0 until a store gives it
 * one. Every field is a property with notification, so a store can save on "notify".
 *
 * The mask is kept as the store keeps it: COCO compressed RLE (rm-rle.h), a few kB where the
 * decoded mask of a large tile is megabytes, so a project of hundreds of annotations opens
 * without decoding any. Area and bounding box come from the runs. The pixels (width x height
 * bytes, 0 or 1) are decoded when something asks for them (rm_annotation_get_mask (): the
 * canvas, the mask editor) and kept until rm_annotation_drop_mask (): the window drops them
 * when another image is selected, so only the current image's masks are held decoded. A new
 * mask is encoded at once; the RLE is an immutable GBytes, so the undo history and the store's
 * writer share it instead of copying pixels.
 */

#include "rm-annotation.h"

#include <glib/gi18n.h>
#include <string.h>

/* How many masks were decoded, by all annotations (rm_annotation_get_n_decodes ()). */
static guint n_decodes;

struct _RmAnnotation
{
  GObject parent_instance;

  gint64 id;
  GFile *image;
  char *expression;
  RmAnnotationStatus status;
  RmAnnotationSource source;
  int width;
  int height;
  GBytes *rle;  /* COCO compressed counts (rm_rle_to_string (), no NUL); never NULL once built */
  GBytes *mask; /* the decoded pixels, or NULL: not decoded (or empty) */
  gint64 area;
  int bbox[4];
  GBytes *prior; /* prior_size x prior_size floats, or NULL */
  int prior_size;
  char *model;
  GDateTime *created;
  GDateTime *modified;
};

G_DEFINE_FINAL_TYPE (RmAnnotation, rm_annotation, G_TYPE_OBJECT)

static const GEnumValue status_values[] = {
  { RM_ANNOTATION_STATUS_CANDIDATE, "RM_ANNOTATION_STATUS_CANDIDATE", "candidate" },
  { RM_ANNOTATION_STATUS_ACCEPTED, "RM_ANNOTATION_STATUS_ACCEPTED", "accepted" },
  { RM_ANNOTATION_STATUS_REJECTED, "RM_ANNOTATION_STATUS_REJECTED", "rejected" },
  { 0, NULL, NULL },
};

static const GEnumValue source_values[] = {
  { RM_ANNOTATION_SOURCE_MODEL, "RM_ANNOTATION_SOURCE_MODEL", "model" },
  { RM_ANNOTATION_SOURCE_MODEL_CORRECTED, "RM_ANNOTATION_SOURCE_MODEL_CORRECTED",
    "model-corrected" },
  { RM_ANNOTATION_SOURCE_MANUAL, "RM_ANNOTATION_SOURCE_MANUAL", "manual" },
  { RM_ANNOTATION_SOURCE_IMPORTED, "RM_ANNOTATION_SOURCE_IMPORTED", "imported" },
  { 0, NULL, NULL },
};

GType
rm_annotation_status_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("RmAnnotationStatus", status_values));

  return type;
}

GType
rm_annotation_source_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("RmAnnotationSource", source_values));

  return type;
}

static const char *
enum_to_string (const GEnumValue *values, int value)
{
  for (const GEnumValue *v = values; v->value_nick != NULL; v++)
    if (v->value == value)
      return v->value_nick;

  return NULL;
}

static gboolean
enum_from_string (const GEnumValue *values, const char *nick, int *value)
{
  for (const GEnumValue *v = values; nick != NULL && v->value_nick != NULL; v++)
    if (g_str_equal (v->value_nick, nick))
      {
        *value = v->value;
        return TRUE;
      }

  return FALSE;
}

/* The stable name of @status, for storage. */
const char *
rm_annotation_status_to_string (RmAnnotationStatus status)
{
  return enum_to_string (status_values, (int) status);
}

gboolean
rm_annotation_status_from_string (const char *nick, RmAnnotationStatus *status)
{
  int value;

  if (!enum_from_string (status_values, nick, &value))
    return FALSE;
  *status = (RmAnnotationStatus) value;

  return TRUE;
}

/* The name of @status for the user. */
const char *
rm_annotation_status_get_label (RmAnnotationStatus status)
{
  switch (status)
    {
    case RM_ANNOTATION_STATUS_CANDIDATE:
      /* Translators: the status of an annotation the user has not reviewed yet */
      return _ ("Candidate");
    case RM_ANNOTATION_STATUS_ACCEPTED:
      return _ ("Accepted");
    case RM_ANNOTATION_STATUS_REJECTED:
      return _ ("Rejected");
    default:
      return "";
    }
}

const char *
rm_annotation_source_to_string (RmAnnotationSource source)
{
  return enum_to_string (source_values, (int) source);
}

gboolean
rm_annotation_source_from_string (const char *nick, RmAnnotationSource *source)
{
  int value;

  if (!enum_from_string (source_values, nick, &value))
    return FALSE;
  *source = (RmAnnotationSource) value;

  return TRUE;
}

const char *
rm_annotation_source_get_label (RmAnnotationSource source)
{
  switch (source)
    {
    case RM_ANNOTATION_SOURCE_MODEL:
      /* Translators: where an annotation's mask came from */
      return _ ("Model");
    case RM_ANNOTATION_SOURCE_MODEL_CORRECTED:
      /* Translators: where an annotation's mask came from */
      return _ ("Model, then corrected");
    case RM_ANNOTATION_SOURCE_MANUAL:
      /* Translators: where an annotation's mask came from */
      return _ ("Drawn by hand");
    case RM_ANNOTATION_SOURCE_IMPORTED:
      /* Translators: where an annotation's mask came from: a dataset */
      return _ ("Imported");
    default:
      return "";
    }
}

/* An area in pixels for the user, with the locale's digit grouping. */
char *
rm_annotation_format_area (gint64 area)
{
  g_autofree char *number = g_strdup_printf ("%'" G_GINT64_FORMAT, area);

  /* Translators: an area in pixels; %s is the number */
  return g_strdup_printf (_ ("%s px"), number);
}

enum
{
  PROP_0,
  PROP_ID,
  PROP_IMAGE,
  PROP_EXPRESSION,
  PROP_STATUS,
  PROP_SOURCE,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_MASK,
  PROP_AREA,
  PROP_MODEL,
  PROP_CREATED,
  PROP_MODIFIED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
touch (RmAnnotation *self)
{
  g_clear_pointer (&self->modified, g_date_time_unref);
  self->modified = g_date_time_new_now_utc ();
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
}

/* Area and bounding box from the runs: no pixel is decoded for them. */
static void
measure (RmAnnotation *self, const RmRle *rle)
{
  double bbox[4];

  self->area = (gint64) rm_rle_area (rle);
  rm_rle_to_bbox (rle, bbox);
  for (guint i = 0; i < 4; i++)
    self->bbox[i] = (int) bbox[i];
}

static GBytes *
rle_to_bytes (const RmRle *rle)
{
  char *text = rm_rle_to_string (rle);

  return g_bytes_new_take (text, strlen (text));
}

/* Takes @rle (the compressed form of @parsed) as the mask; the decoded pixels go. */
static void
replace_rle (RmAnnotation *self, GBytes *rle, const RmRle *parsed)
{
  g_clear_pointer (&self->rle, g_bytes_unref);
  self->rle = rle;
  g_clear_pointer (&self->mask, g_bytes_unref);
  measure (self, parsed);
}

/* An empty mask of this annotation's size: one run of zeros. */
static RmRle *
new_empty_rle (RmAnnotation *self)
{
  guint32 all = (guint32) self->width * (guint32) self->height;

  return rm_rle_new ((guint32) self->height, (guint32) self->width, &all, 1);
}

/* After construction, an annotation without a mask has an empty one. */
static void
rm_annotation_constructed (GObject *object)
{
  RmAnnotation *self = (RmAnnotation *) object;

  G_OBJECT_CLASS (rm_annotation_parent_class)->constructed (object);

  if (self->rle == NULL && self->width > 0 && self->height > 0)
    {
      g_autoptr (RmRle) empty = new_empty_rle (self);

      replace_rle (self, rle_to_bytes (empty), empty);
    }
}

static void
rm_annotation_finalize (GObject *object)
{
  RmAnnotation *self = (RmAnnotation *) object;

  g_clear_object (&self->image);
  g_clear_pointer (&self->expression, g_free);
  g_clear_pointer (&self->rle, g_bytes_unref);
  g_clear_pointer (&self->mask, g_bytes_unref);
  g_clear_pointer (&self->prior, g_bytes_unref);
  g_clear_pointer (&self->model, g_free);
  g_clear_pointer (&self->created, g_date_time_unref);
  g_clear_pointer (&self->modified, g_date_time_unref);

  G_OBJECT_CLASS (rm_annotation_parent_class)->finalize (object);
}

static void
rm_annotation_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  RmAnnotation *self = RM_ANNOTATION (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_int64 (value, self->id);
      break;
    case PROP_IMAGE:
      g_value_set_object (value, self->image);
      break;
    case PROP_EXPRESSION:
      g_value_set_string (value, self->expression);
      break;
    case PROP_STATUS:
      g_value_set_enum (value, self->status);
      break;
    case PROP_SOURCE:
      g_value_set_enum (value, self->source);
      break;
    case PROP_WIDTH:
      g_value_set_int (value, self->width);
      break;
    case PROP_HEIGHT:
      g_value_set_int (value, self->height);
      break;
    case PROP_MASK:
      g_value_set_boxed (value, rm_annotation_get_mask (self));
      break;
    case PROP_AREA:
      g_value_set_int64 (value, self->area);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_CREATED:
      g_value_set_boxed (value, self->created);
      break;
    case PROP_MODIFIED:
      g_value_set_boxed (value, self->modified);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_annotation_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  RmAnnotation *self = RM_ANNOTATION (object);

  switch (prop_id)
    {
    case PROP_ID:
      rm_annotation_set_id (self, g_value_get_int64 (value));
      break;
    case PROP_IMAGE:
      self->image = g_value_dup_object (value);
      break;
    case PROP_EXPRESSION:
      rm_annotation_set_expression (self, g_value_get_string (value));
      break;
    case PROP_STATUS:
      rm_annotation_set_status (self, g_value_get_enum (value));
      break;
    case PROP_SOURCE:
      rm_annotation_set_source (self, g_value_get_enum (value));
      break;
    case PROP_WIDTH:
      self->width = g_value_get_int (value);
      break;
    case PROP_HEIGHT:
      self->height = g_value_get_int (value);
      break;
    case PROP_MASK:
      rm_annotation_set_mask (self, g_value_get_boxed (value));
      break;
    case PROP_MODEL:
      rm_annotation_set_model (self, g_value_get_string (value));
      break;
    case PROP_CREATED:
      rm_annotation_set_created (self, g_value_get_boxed (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
rm_annotation_class_init (RmAnnotationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  const GParamFlags construct = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->constructed = rm_annotation_constructed;
  object_class->finalize = rm_annotation_finalize;
  object_class->get_property = rm_annotation_get_property;
  object_class->set_property = rm_annotation_set_property;

  /* Construct-only sizes come first: the mask is checked against them. */
  properties[PROP_WIDTH] = g_param_spec_int ("width", NULL, NULL, 0, G_MAXINT, 0, construct);
  properties[PROP_HEIGHT] = g_param_spec_int ("height", NULL, NULL, 0, G_MAXINT, 0, construct);
  properties[PROP_IMAGE] = g_param_spec_object ("image", NULL, NULL, G_TYPE_FILE, construct);
  properties[PROP_ID] = g_param_spec_int64 ("id", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_EXPRESSION] = g_param_spec_string ("expression", NULL, NULL, "", rw);
  properties[PROP_STATUS] = g_param_spec_enum ("status", NULL, NULL, RM_TYPE_ANNOTATION_STATUS,
                                               RM_ANNOTATION_STATUS_CANDIDATE, rw);
  properties[PROP_SOURCE] = g_param_spec_enum ("source", NULL, NULL, RM_TYPE_ANNOTATION_SOURCE,
                                               RM_ANNOTATION_SOURCE_MODEL, rw);
  /* The decoded pixels (reading it decodes them); "notify::mask" says the mask changed. */
  properties[PROP_MASK] = g_param_spec_boxed ("mask", NULL, NULL, G_TYPE_BYTES, rw);
  properties[PROP_AREA] = g_param_spec_int64 ("area", NULL, NULL, 0, G_MAXINT64, 0, ro);
  properties[PROP_MODEL] = g_param_spec_string ("model", NULL, NULL, NULL, rw);
  properties[PROP_CREATED] = g_param_spec_boxed ("created", NULL, NULL, G_TYPE_DATE_TIME, rw);
  properties[PROP_MODIFIED] = g_param_spec_boxed ("modified", NULL, NULL, G_TYPE_DATE_TIME, ro);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
rm_annotation_init (RmAnnotation *self)
{
  self->expression = g_strdup ("");
  self->created = g_date_time_new_now_utc ();
  self->modified = g_date_time_ref (self->created);
}

/* An annotation of @image (width x height pixels) with @mask (width * height bytes, 0 or 1;
 * NULL: empty), which is encoded (the annotation keeps no reference to it). */
RmAnnotation *
rm_annotation_new (GFile *image, const char *expression, int width, int height, GBytes *mask,
                   RmAnnotationStatus status, RmAnnotationSource source)
{
  g_return_val_if_fail (image == NULL || G_IS_FILE (image), NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (mask == NULL || g_bytes_get_size (mask) == (gsize) width * height, NULL);

  return g_object_new (RM_TYPE_ANNOTATION, "width", width, "height", height, "image", image,
                       "expression", expression != NULL ? expression : "", "mask", mask, "status",
                       status, "source", source, NULL);
}

/* An annotation whose mask is @rle (a valid RLE: see rm_rle_validate ()), at its size, as a
 * store loads one: nothing is decoded. */
RmAnnotation *
rm_annotation_new_from_rle (GFile *image, const char *expression, const RmRle *rle,
                            RmAnnotationStatus status, RmAnnotationSource source)
{
  RmAnnotation *self;

  g_return_val_if_fail (image == NULL || G_IS_FILE (image), NULL);
  g_return_val_if_fail (rle != NULL && rle->w > 0 && rle->h > 0, NULL);
  g_return_val_if_fail (rle->w <= G_MAXINT && rle->h <= G_MAXINT, NULL);

  self = g_object_new (RM_TYPE_ANNOTATION, "width", (int) rle->w, "height", (int) rle->h, "image",
                       image, "expression", expression != NULL ? expression : "", "status", status,
                       "source", source, NULL);
  replace_rle (self, rle_to_bytes (rle), rle);

  return self;
}

/* The compressed form (see rm_annotation_get_rle ()) of @mask: @width x @height bytes, nonzero
 * foreground, row-major. */
GBytes *
rm_annotation_encode_mask (const guint8 *mask, int width, int height)
{
  g_autoptr (RmRle) rle = NULL;

  g_return_val_if_fail (mask != NULL && width > 0 && height > 0, NULL);

  rle = rm_rle_encode (mask, (guint32) height, (guint32) width, (gsize) width);

  return rle_to_bytes (rle);
}

/* The store's id; 0 until stored. */
gint64
rm_annotation_get_id (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), 0);

  return self->id;
}

void
rm_annotation_set_id (RmAnnotation *self, gint64 id)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (self->id == id)
    return;
  self->id = id;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
}

GFile *
rm_annotation_get_image (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->image;
}

const char *
rm_annotation_get_expression (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->expression;
}

void
rm_annotation_set_expression (RmAnnotation *self, const char *expression)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (expression == NULL)
    expression = "";
  if (g_strcmp0 (self->expression, expression) == 0)
    return;
  g_free (self->expression);
  self->expression = g_strdup (expression);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXPRESSION]);
  touch (self);
}

RmAnnotationStatus
rm_annotation_get_status (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), RM_ANNOTATION_STATUS_CANDIDATE);

  return self->status;
}

void
rm_annotation_set_status (RmAnnotation *self, RmAnnotationStatus status)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (self->status == status)
    return;
  self->status = status;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
  touch (self);
}

RmAnnotationSource
rm_annotation_get_source (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), RM_ANNOTATION_SOURCE_MODEL);

  return self->source;
}

void
rm_annotation_set_source (RmAnnotation *self, RmAnnotationSource source)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (self->source == source)
    return;
  self->source = source;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOURCE]);
  touch (self);
}

int
rm_annotation_get_width (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), 0);

  return self->width;
}

int
rm_annotation_get_height (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), 0);

  return self->height;
}

/* The mask's pixels: width x height bytes, 0 or 1, row-major; NULL when empty. Decoded on the
 * first call and kept (the same GBytes) until the mask changes or rm_annotation_drop_mask ();
 * take a reference to keep it longer. */
GBytes *
rm_annotation_get_mask (RmAnnotation *self)
{
  g_autoptr (RmRle) rle = NULL;
  gsize size;
  guint8 *pixels;

  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  if (self->mask != NULL || self->area == 0)
    return self->mask;

  rle = rm_annotation_dup_rle (self);
  size = (gsize) self->width * self->height;
  pixels = g_malloc (size);
  rm_rle_decode (rle, pixels, (gsize) self->width, 1);
  self->mask = g_bytes_new_take (pixels, size);
  g_atomic_int_inc (&n_decodes);

  return self->mask;
}

/* Replaces the mask with @mask (width * height bytes, 0 or 1; NULL: empty), which is encoded
 * at once (the annotation keeps no reference to it). Nothing is notified when the mask is the
 * same. */
void
rm_annotation_set_mask (RmAnnotation *self, GBytes *mask)
{
  g_autoptr (GBytes) rle = NULL;

  g_return_if_fail (RM_IS_ANNOTATION (self));
  g_return_if_fail (mask == NULL || g_bytes_get_size (mask) == (gsize) self->width * self->height);

  if (mask != NULL && mask == self->mask)
    return;
  if (mask != NULL)
    rle = rm_annotation_encode_mask (g_bytes_get_data (mask, NULL), self->width, self->height);
  else
    {
      g_autoptr (RmRle) empty = new_empty_rle (self);

      rle = rle_to_bytes (empty);
    }
  rm_annotation_set_rle (self, rle);
}

/* The mask as COCO compressed counts (the `counts` string of pycocotools, without a NUL; size
 * height x width): what a store writes. Immutable; never NULL. */
GBytes *
rm_annotation_get_rle (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->rle;
}

/* Replaces the mask with @rle (compressed counts of this annotation's size, as
 * rm_annotation_get_rle () gives them; a reference is taken). Nothing is notified when the
 * mask is the same. */
void
rm_annotation_set_rle (RmAnnotation *self, GBytes *rle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RmRle) parsed = NULL;

  g_return_if_fail (RM_IS_ANNOTATION (self));
  g_return_if_fail (rle != NULL);

  if (rle == self->rle || (self->rle != NULL && g_bytes_equal (rle, self->rle)))
    return;
  parsed = rm_rle_from_bytes (rle, (guint32) self->height, (guint32) self->width, &error);
  if (parsed == NULL)
    {
      g_critical ("%s: not a mask of %d x %d pixels: %s", G_STRFUNC, self->width, self->height,
                  error->message);
      return;
    }
  replace_rle (self, g_bytes_ref (rle), parsed);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MASK]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AREA]);
  touch (self);
}

/* The mask's runs, parsed (free with rm_rle_free ()): what the store's API takes. */
RmRle *
rm_annotation_dup_rle (RmAnnotation *self)
{
  RmRle *rle;

  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  /* set_rle () and the constructors only keep RLE that parses at this size */
  rle = rm_rle_from_bytes (self->rle, (guint32) self->height, (guint32) self->width, NULL);
  g_assert (rle != NULL);

  return rle;
}

/* Whether the pixels are decoded now (for tests and the window's memory policy). */
gboolean
rm_annotation_get_mask_decoded (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), FALSE);

  return self->mask != NULL;
}

/* Lets the decoded pixels go (they are decoded again when asked for); the mask is unchanged
 * and nothing is notified. */
void
rm_annotation_drop_mask (RmAnnotation *self)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  g_clear_pointer (&self->mask, g_bytes_unref);
}

/* How many times any annotation decoded its mask in this process: what tests measure to know
 * that opening a project decodes nothing. */
guint
rm_annotation_get_n_decodes (void)
{
  return (guint) g_atomic_int_get (&n_decodes);
}

/* Foreground pixels of the mask. */
gint64
rm_annotation_get_area (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), 0);

  return self->area;
}

/* The mask's bounding box in pixels (all 0 when empty), as COCO's bbox. */
void
rm_annotation_get_bbox (RmAnnotation *self, int *x, int *y, int *width, int *height)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (x != NULL)
    *x = self->bbox[0];
  if (y != NULL)
    *y = self->bbox[1];
  if (width != NULL)
    *width = self->bbox[2];
  if (height != NULL)
    *height = self->bbox[3];
}

/* The model's prior (size x size floats in [0, 1]) or NULL. */
GBytes *
rm_annotation_get_prior (RmAnnotation *self, int *size)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  if (size != NULL)
    *size = self->prior_size;

  return self->prior;
}

void
rm_annotation_set_prior (RmAnnotation *self, GBytes *prior, int size)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));
  g_return_if_fail (prior == NULL || g_bytes_get_size (prior) == sizeof (float) * size * size);

  g_clear_pointer (&self->prior, g_bytes_unref);
  self->prior = prior != NULL ? g_bytes_ref (prior) : NULL;
  self->prior_size = prior != NULL ? size : 0;
}

/* Which model made the mask (its folder, or a version name); NULL for a manual annotation. */
const char *
rm_annotation_get_model (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->model;
}

void
rm_annotation_set_model (RmAnnotation *self, const char *model)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (g_strcmp0 (self->model, model) == 0)
    return;
  g_free (self->model);
  self->model = g_strdup (model);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODEL]);
}

GDateTime *
rm_annotation_get_created (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->created;
}

/* For a store that loads an annotation: the time it was made. */
void
rm_annotation_set_created (RmAnnotation *self, GDateTime *created)
{
  g_return_if_fail (RM_IS_ANNOTATION (self));

  if (created == NULL || created == self->created)
    return;
  g_clear_pointer (&self->created, g_date_time_unref);
  self->created = g_date_time_ref (created);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CREATED]);
}

/* When the expression, status, source or mask last changed. */
GDateTime *
rm_annotation_get_modified (RmAnnotation *self)
{
  g_return_val_if_fail (RM_IS_ANNOTATION (self), NULL);

  return self->modified;
}
