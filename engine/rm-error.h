/* SPDX-License-Identifier: GPL-3.0-or-later
 * The engine's GError domain. Every function that can fail on bad input (files, images,
 * text, weights) reports it as an RM_ERROR with one of these codes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RM_ERROR (rm_error_quark ())

typedef enum
{
  RM_ERROR_IO,             /* a file could not be opened, read, written or renamed */
  RM_ERROR_FORMAT,         /* malformed contents (bad header, corrupt image, bad JSON) */
  RM_ERROR_SHAPE,          /* a tensor's shape does not match what was expected */
  RM_ERROR_MISSING_KEY,    /* a required tensor / key is absent */
  RM_ERROR_UNEXPECTED_KEY, /* a tensor / key that should not be there */
  RM_ERROR_DTYPE,          /* unsupported or unexpected element type */
  RM_ERROR_INPUT,          /* invalid user input (text, parameters) */
  RM_ERROR_TOO_LARGE,      /* over a size limit (header, pixel budget, sequence length) */
  RM_ERROR_CANCELLED,      /* the operation was cancelled by the caller */
  RM_ERROR_UNSUPPORTED,    /* valid but not supported by this build */
  RM_ERROR_DEVICE,         /* the GPU failed: a kernel, a copy, out of device memory */
} RmError;

GQuark rm_error_quark (void);

G_END_DECLS
