/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-params.h"

#include <string.h>

/* args.py --lr_bifit_names (manifest.json config.optimizer.lr_bifit_names of the golden set). */
const char *const rm_lr_bifit_names_default[] = {
  "vlfusion_module",
  "reins",
  "vtfusion_module",
  "feat_ifi",
  "text_linear",
  "query_ifi",
  "mask_linear",
  "mask_product",
  "vmtoken",
  "ifi_layers",
  "sen_ifi",
  "mtfusion_module",
  "mask_text_fuser",
  "mask_dsp",
  "mask_iou_conv",
  "mask_iou_linear",
  "mmfusion_module",
  "objfusion_module",
  "mem_inter",
  "fmfusion_module",
  "mmfusion_layers",
  "matextfusion_module",
  "objfusion_layers",
  "vtlfusion_module",
  "vtlatten",
  "MLP_Adapter",
  "Space_Adapter",
  "highlinear1",
  "highlinear2",
  "multi_ifi1",
  "multi_ifi2",
  "multi_ifi3",
  "adapter",
  "text_linear4",
  "vlfusion_module4",
  "text_linear3",
  "vlfusion_module3",
  "text_linear2",
  "vlfusion_module2",
  "text_linear1",
  "vlfusion_module1",
  "text_in_linear",
  "local_conv",
  "mlp_local",
  "mlp_global",
  "fc_fusion",
  "lvfusion_module",
  "text_out_linear",
  NULL,
};

static bool
has_prefix (const char *s, const char *prefix)
{
  return strncmp (s, prefix, strlen (prefix)) == 0;
}

bool
rm_param_is_trainable (const char *key)
{
  static const char trunk[] = "visual_model.image_encoder.trunk.";
  if (has_prefix (key, "visual_model.image_encoder.neck."))
    return false;
  if (has_prefix (key, trunk))
    return strstr (key, ".MLP_Adapter.") != NULL || strstr (key, ".Space_Adapter.") != NULL;
  /* The one buffer of the state dict. */
  if (strcmp (key,
              "visual_model.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix") == 0)
    return false;
  return true;
}

int
rm_param_adamw_group (const char *key, const char *const *bifit_names)
{
  if (!rm_param_is_trainable (key))
    return -1;
  if (bifit_names == NULL)
    bifit_names = rm_lr_bifit_names_default;
  for (const char *const *k = bifit_names; *k != NULL; k++)
    if (strstr (key, *k) != NULL)
      return 1;
  return 0;
}
