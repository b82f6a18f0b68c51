/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-eval.h"

#include <string.h>

gboolean
rm_eval_sample (RmSession *session, const RmSample *s, RmMetrics *model_res, RmMetrics *orig_res,
                RmSampleScore *score, RmAbortCallback abort, void *abort_user, GError **error)
{
  g_autoptr (RmImage) image = rm_image_load (s->image_path, NULL, error);
  if (image == NULL)
    return FALSE;
  int gw = 0, gh = 0;
  g_autofree uint8_t *gt = rm_sample_load_mask (s, &gw, &gh, error);
  if (gt == NULL)
    return FALSE;
  RmSegmentParams params = rm_segment_default_params ();
  params.want_prior_image = FALSE;
  params.abort = abort;
  params.abort_user = abort_user;
  const char *texts[] = { s->expression };
  RmSegmentResult **r = rm_session_segment (session, image, texts, 1, &params, error);
  if (r == NULL)
    return FALSE;
  int size = r[0]->model_size;
  /* Ground truth to the model resolution with PIL NEAREST, as the official dataset does. */
  g_autoptr (RmImage) gt_img = rm_image_new (gw, gh, 1);
  memcpy (gt_img->pixels, gt, (size_t) gw * gh);
  g_autoptr (RmImage) gt_small = rm_image_resize_nearest (gt_img, size, size);
  g_autofree uint8_t *pred = g_new (uint8_t, (size_t) size * size);
  for (size_t i = 0; i < (size_t) size * size; i++)
    pred[i] = r[0]->logits[i] > 0.5f;
  RmSampleScore sc = { .iou_original = -1, .ms = r[0]->ms_total };
  sc.iou = rm_metrics_add (model_res, pred, gt_small->pixels, (size_t) size * size);
  if (orig_res != NULL && gw == r[0]->width && gh == r[0]->height)
    sc.iou_original = rm_metrics_add (orig_res, r[0]->mask, gt, (size_t) gw * gh);
  if (score != NULL)
    *score = sc;
  rm_segment_results_free (r, 1);
  return TRUE;
}

gboolean
rm_eval_dataset (RmSession *session, const RmDataset *ds, int limit, RmMetrics *model_res,
                 RmMetrics *orig_res, RmEvalProgress progress, void *progress_user,
                 RmAbortCallback abort, void *abort_user, GError **error)
{
  guint n = ds->samples->len;
  if (limit > 0 && (guint) limit < n)
    n = (guint) limit;
  for (guint i = 0; i < n; i++)
    {
      if (!rm_eval_sample (session, g_ptr_array_index (ds->samples, i), model_res, orig_res, NULL,
                           abort, abort_user, error))
        return FALSE;
      if (progress != NULL)
        progress (progress_user, i + 1, n);
    }
  return TRUE;
}
