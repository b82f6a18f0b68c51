/* rm-types.h: forward declarations of the Refmask Studio UI types
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define RM_APPLICATION_ID "org.refmask.Studio"
#define RM_RESOURCE_PATH  "/org/refmask/Studio"

typedef struct _RmAnnotation RmAnnotation;
typedef struct _RmAnnotationRow RmAnnotationRow;
typedef struct _RmApplication RmApplication;
typedef struct _RmCandidate RmCandidate;
typedef struct _RmCanvas RmCanvas;
typedef struct _RmImageItem RmImageItem;
typedef struct _RmImagePyramid RmImagePyramid;
typedef struct _RmImageRow RmImageRow;
typedef struct _RmModelVersion RmModelVersion;
typedef struct _RmPreferencesWindow RmPreferencesWindow;
typedef struct _RmSegmenter RmSegmenter;
typedef struct _RmView RmView;
typedef struct _RmWindow RmWindow;

void rm_ui_ensure_resources (void);

G_END_DECLS
