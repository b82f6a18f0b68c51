/* SPDX-License-Identifier: GPL-3.0-or-later
 * Fuzz target: COCO RLE strings, polygon rasterisation and contour extraction (rm-rle.h,
 * rm-polygon.h), with their invariants: a parsed RLE covers exactly h * w pixels and
 * re-encodes to itself; extracted pixel-edge contours rasterise back to the exact mask.
 * Input: byte 0 picks the mode, bytes 1-2 the size (1..48 x 1..48), the rest is the payload.
 * Seeds: corpus-rle/.
 */
#include "rm-polygon.h"
#include "rm-rle.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_mask (const RmRle *r)
{
  gsize n = (gsize) r->h * r->w;
  g_autofree guint8 *mask = g_malloc (n + 1), *acc = g_malloc0 (n + 1), *tmp = g_malloc (n + 1);
  g_autoptr (RmRle) again = NULL;
  g_autoptr (RmContours) cs = NULL;
  double bb[4];

  g_assert (rm_rle_validate (r, NULL));
  g_assert (rm_rle_area (r) <= n);
  rm_rle_to_bbox (r, bb);
  g_assert (bb[0] + bb[2] <= r->w && bb[1] + bb[3] <= r->h);
  rm_rle_decode (r, mask, r->w, 1);
  again = rm_rle_encode (mask, r->h, r->w, r->w);
  g_assert (rm_rle_equal (again, r));
  cs = rm_polygon_extract (mask, r->h, r->w, r->w, 0);
  for (gsize i = 0; i < cs->n; i++)
    {
      g_autoptr (RmRle) pr =
          rm_polygon_to_rle (cs->contours[i].xy, cs->contours[i].n * 2, r->h, r->w, NULL);
      g_assert (pr != NULL);
      rm_rle_decode (pr, tmp, r->w, 1);
      for (gsize k = 0; k < n; k++)
        acc[k] ^= tmp[k];
    }
  g_assert (memcmp (acc, mask, n) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint32 h, w;
  const uint8_t *payload;
  gsize plen;

  if (size < 3)
    return 0;
  h = 1 + data[1] % 48;
  w = 1 + data[2] % 48;
  payload = data + 3;
  plen = size - 3;
  switch (data[0] % 3)
    {
    case 0: /* a compressed counts string */
      {
        g_autofree char *s = g_strndup ((const char *) payload, plen);
        g_autoptr (RmRle) r = rm_rle_from_string (s, h, w, NULL);
        if (r != NULL)
          {
            g_autofree char *back = rm_rle_to_string (r);
            g_autoptr (RmRle) r2 = rm_rle_from_string (back, h, w, NULL);
            g_assert (r2 != NULL && rm_rle_equal (r, r2));
            check_mask (r);
          }
        break;
      }
    case 1: /* polygons: pairs of bytes as coordinates in [-8, 56), parts split at 0xff */
      {
        g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
        g_autoptr (GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));
        g_autoptr (GArray) cur = g_array_new (FALSE, FALSE, sizeof (double));
        g_autoptr (RmRle) r = NULL;
        for (gsize i = 0; i <= plen; i++)
          {
            if (i == plen || payload[i] == 0xff)
              {
                gsize n = cur->len;
                double *xy = g_new0 (double, n + 1);
                if (n > 0)
                  memcpy (xy, cur->data, n * sizeof (double));
                g_ptr_array_add (parts, xy);
                g_array_append_val (lens, n);
                g_array_set_size (cur, 0);
                continue;
              }
            {
              double v = payload[i] / 4.0 - 8.0;
              g_array_append_val (cur, v);
            }
          }
        r = rm_polygons_to_rle ((const double *const *) parts->pdata,
                                (const gsize *) (void *) lens->data, parts->len, h, w, NULL);
        if (r != NULL)
          check_mask (r);
        break;
      }
    default: /* a mask from the payload bits, merged with its complement */
      {
        gsize n = (gsize) h * w;
        g_autofree guint8 *m = g_malloc0 (n), *inv = g_malloc0 (n);
        g_autoptr (RmRle) a = NULL, b = NULL, u = NULL, x = NULL;
        RmRle *pair[2];
        for (gsize k = 0; k < n && k / 8 < plen; k++)
          m[k] = (payload[k / 8] >> (k % 8)) & 1;
        for (gsize k = 0; k < n; k++)
          inv[k] = !m[k];
        a = rm_rle_encode (m, h, w, w);
        b = rm_rle_encode (inv, h, w, w);
        check_mask (a);
        pair[0] = a;
        pair[1] = b;
        u = rm_rle_merge (pair, 2, FALSE, NULL);
        x = rm_rle_merge (pair, 2, TRUE, NULL);
        g_assert (u != NULL && x != NULL);
        g_assert (rm_rle_area (u) == n && rm_rle_area (x) == 0);
        break;
      }
    }
  return 0;
}
