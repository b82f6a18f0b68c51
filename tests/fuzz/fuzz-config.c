/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: config.json parsing and validation, then everything derived from an accepted
 * configuration (the Hiera block layout and the expected state-dict keys).
 * Seeds: corpus-config/.
 */
#include "rm-config.h"
#include "rm-model-keys.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
count_key (void *user, const char *key, int ndim, const int64_t *shape)
{
  g_assert (key != NULL && ndim >= 1 && ndim <= 4);
  for (int i = 0; i < ndim; i++)
    g_assert (shape[i] >= 1);
  (*(size_t *) user)++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) size, NULL))
    return 0;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return 0;
  RmModelConfig cfg;
  g_autoptr (GError) error = NULL;
  if (!rm_model_config_from_json_object (&cfg, json_node_get_object (root), &error))
    {
      g_assert (error != NULL && error->message[0] != '\0');
      return 0;
    }
  int n = rm_hiera_n_blocks (&cfg);
  g_assert (n > 0 && n <= RM_MAX_HIERA_BLOCKS);
  for (int i = 0; i < n; i++)
    {
      RmHieraBlockInfo b;
      rm_hiera_block_info (&cfg, i, &b);
      g_assert (b.dim_out % b.heads == 0);
    }
  size_t keys = 0;
  rm_model_foreach_key (&cfg, count_key, &keys);
  g_assert (keys > 0);
  g_autofree char *json = rm_model_config_to_json (&cfg);
  g_assert (json != NULL);
  return 0;
}
