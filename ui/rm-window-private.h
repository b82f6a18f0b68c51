/* rm-window-private.h: what rm-window.c shares with rm-window-actions.c and rm-window-model.c
 *
 * Copyright 2025 The Refmask developers
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "rm-annotation.h"
#include "rm-candidate.h"
#include "rm-canvas.h"
#include "rm-history.h"
#include "rm-model-version.h"
#include "rm-review-queue.h"
#include "rm-segmenter.h"
#include "rm-window-project.h"
#include "rm-window.h"

G_BEGIN_DECLS

#define RM_WINDOW_MAX_RECENT 10

struct _RmWindow
{
  GtkApplicationWindow parent_instance;

  GSettings *settings;
  GListStore *images;
  GtkSingleSelection *selection;
  GHashTable *known_files; /* GFile set: no image is listed twice */
  GCancellable *scan_cancellable;
  guint n_scans;
  GCancellable *load_cancellable;
  guint message_timeout_id;
  gboolean loading_image;
  gboolean model_loaded; /* the query bar is on when a model is loaded */

  /* the model and queries (rm-window-model.c) */
  RmSegmenter *segmenter;
  GCancellable *model_cancellable;
  GCancellable *query_cancellable; /* while a query runs */
  gboolean query_cancelling;
  char *query_expression;
  GFile *query_image;
  GMenu *recent_menu;

  /* the candidate and the annotations */
  RmCandidate *candidate;
  GListStore *annotations;       /* every RmAnnotation of this session */
  GtkCustomFilter *image_filter; /* … of the selected image */
  GtkFilterListModel *image_annotations;
  char *tool; /* "pan", "brush", "eraser", "polygon", "polygon-erase" */

  /* the annotations panel, the undo history and the review (rm-window-annotations.c) */
  GtkSingleSelection *annotation_selection;
  GHashTable *annotation_rows; /* RmAnnotation -> its bound RmAnnotationRow */
  RmHistory *history;
  RmReviewQueue *review;
  gboolean reviewing;

  /* model versions (rm-window-model.c) */
  GListStore *model_versions; /* of RmModelVersion, in the order they were loaded or made */
  GMenu *version_menu;

  /* the batch labelling and fine-tune dialogs, while open (weak pointers) */
  GtkWindow *batch_dialog;
  GtkWindow *finetune_dialog;

  /* the project file (rm-window-project.c) */
  RmWindowProject *project;

  /* template children */
  GtkLabel *title_label;
  GtkLabel *subtitle_label;
  GtkListView *image_list;
  GtkLabel *image_count_label;
  GtkStack *content_stack;
  RmCanvas *canvas;
  GtkWidget *zoom_box;
  GtkLabel *zoom_label;
  GtkSpinner *spinner;
  GtkRevealer *message_revealer;
  GtkLabel *message_label;
  GtkEntry *query_entry;
  GtkLabel *query_status_label;
  GtkRevealer *model_banner;
  GtkLabel *model_banner_label;
  GtkMenuButton *recent_button;
  GtkWidget *segment_button;
  GtkWidget *cancel_button;
  GtkWidget *edit_bar;
  GtkLabel *candidate_label;
  GtkProgressBar *query_progress;
  GtkAdjustment *brush_adjustment;
  GtkListView *annotation_list;
  GtkLabel *annotation_count_label;
  GtkStack *annotation_stack;
  GtkRevealer *review_bar;
  GtkLabel *review_counter_label;
  GtkLabel *review_label;
  GtkMenuButton *model_button;
  GtkWidget *review_button;
};

void _rm_window_class_actions_init (GtkWidgetClass *widget_class);
void _rm_window_actions_update (RmWindow *self);
void _rm_window_show_message (RmWindow *self, const char *message);

void _rm_window_model_init (RmWindow *self);
void _rm_window_model_dispose (RmWindow *self);
void _rm_window_start_query (RmWindow *self);
void _rm_window_cancel_query (RmWindow *self);
void _rm_window_image_changed (RmWindow *self);
void _rm_window_finish_candidate (RmWindow *self, RmAnnotationStatus status);
void _rm_window_set_candidate (RmWindow *self, RmCandidate *candidate);
void _rm_window_use_recent (RmWindow *self, const char *expression);
void _rm_window_reload_model (RmWindow *self);
void _rm_window_emit_annotation_added (RmWindow *self, RmAnnotation *annotation);
void _rm_window_emit_annotation_removed (RmWindow *self, RmAnnotation *annotation);
void _rm_window_notify_model_version (RmWindow *self);

void _rm_window_annotations_init (RmWindow *self);
void _rm_window_annotations_dispose (RmWindow *self);
void _rm_window_annotations_update (RmWindow *self);
RmAnnotation *_rm_window_get_selected_annotation (RmWindow *self);
void _rm_window_decide (RmWindow *self, RmAnnotationStatus status);
void _rm_window_review_after_decision (RmWindow *self, RmAnnotation *annotation);
void _rm_window_undo (RmWindow *self, gboolean redo);
void _rm_window_delete_annotation (RmWindow *self);
void _rm_window_edit_expression (RmWindow *self);
void _rm_window_edit_annotation (RmWindow *self);
void _rm_window_review_start (RmWindow *self);
void _rm_window_review_step (RmWindow *self, gboolean forwards);
void _rm_window_review_stop (RmWindow *self);
void _rm_window_candidate_replaced (RmWindow *self, RmCandidate *old, RmCandidate *candidate);
void _rm_window_annotation_added (RmWindow *self, RmAnnotation *annotation);
void _rm_window_drop_candidate (RmWindow *self);
const char *_rm_window_get_rollback_dir (RmWindow *self);
void _rm_window_annotation_row_setup (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                      RmWindow *self);
void _rm_window_annotation_row_bind (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                     RmWindow *self);
void _rm_window_annotation_row_unbind (GtkSignalListItemFactory *factory, GtkListItem *list_item,
                                       RmWindow *self);
void _rm_window_annotation_activate (RmWindow *self, guint position);

G_END_DECLS
