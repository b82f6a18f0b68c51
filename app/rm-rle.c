/* SPDX-License-Identifier: GPL-3.0-or-later
 * COCO RLE, following pycocotools' maskApi.c step by step so every string, area and
 * bbox comes out identical. */
#include "rm-rle.h"

#include <string.h>

G_DEFINE_QUARK (rm - rle - error - quark, rm_rle_error)

RmRle *
rm_rle_new (guint32 h, guint32 w, const guint32 *cnts, gsize m)
{
  RmRle *rle = g_new0 (RmRle, 1);
  rle->h = h;
  rle->w = w;
  rle->m = m;
  rle->cnts = g_new (guint32, MAX (m, 1));
  if (m > 0)
    memcpy (rle->cnts, cnts, m * sizeof (guint32));
  return rle;
}

RmRle *
rm_rle_copy (const RmRle *rle)
{
  return rm_rle_new (rle->h, rle->w, rle->cnts, rle->m);
}

void
rm_rle_free (RmRle *rle)
{
  if (rle == NULL)
    return;
  g_free (rle->cnts);
  g_free (rle);
}

static gboolean
check_size (guint32 h, guint32 w, GError **error)
{
  if ((guint64) h * w > G_MAXUINT32)
    {
      g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_SIZE,
                   "mask of %u x %u pixels is too large for COCO RLE (32-bit counts)", w, h);
      return FALSE;
    }
  return TRUE;
}

gboolean
rm_rle_validate (const RmRle *rle, GError **error)
{
  guint64 sum = 0;

  if (!check_size (rle->h, rle->w, error))
    return FALSE;
  for (gsize i = 0; i < rle->m; i++)
    sum += rle->cnts[i];
  if (sum != (guint64) rle->h * rle->w)
    {
      g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                   "RLE counts add up to %" G_GUINT64_FORMAT
                   " pixels, the size %u x %u has %" G_GUINT64_FORMAT,
                   sum, rle->w, rle->h, (guint64) rle->h * rle->w);
      return FALSE;
    }
  return TRUE;
}

RmRle *
rm_rle_encode (const guint8 *mask, guint32 h, guint32 w, gsize stride)
{
  gsize a = (gsize) h * w;
  g_autofree guint32 *cnts = g_new (guint32, a + 1);
  gsize k = 0;
  guint32 c = 0;
  gboolean p = FALSE;

  /* Column-major walk over a row-major buffer: runs switch whenever the value changes. */
  for (guint32 x = 0; x < w; x++)
    for (guint32 y = 0; y < h; y++)
      {
        gboolean v = mask[(gsize) y * stride + x] != 0;
        if (v != p)
          {
            cnts[k++] = c;
            c = 0;
            p = v;
          }
        c++;
      }
  cnts[k++] = c;
  return rm_rle_new (h, w, cnts, k);
}

void
rm_rle_decode (const RmRle *rle, guint8 *mask, gsize stride, guint8 on)
{
  guint32 h = rle->h;
  guint64 pos = 0;

  for (guint32 y = 0; y < h; y++)
    memset (mask + (gsize) y * stride, 0, rle->w);
  if (h == 0)
    return;
  for (gsize i = 0; i < rle->m; i++)
    {
      guint64 len = rle->cnts[i];
      if (i % 2 == 1)
        {
          /* Split the run of ones at column boundaries. */
          guint64 p = pos, left = len;
          while (left > 0)
            {
              guint32 x = (guint32) (p / h), y = (guint32) (p % h);
              guint64 n = MIN (left, (guint64) (h - y));
              for (guint64 r = 0; r < n; r++)
                mask[(gsize) (y + r) * stride + x] = on;
              p += n;
              left -= n;
            }
        }
      pos += len;
    }
}

gchar *
rm_rle_to_string (const RmRle *rle)
{
  GString *s = g_string_sized_new (rle->m * 2 + 1);

  for (gsize i = 0; i < rle->m; i++)
    {
      gint64 x = rle->cnts[i];
      gboolean more = TRUE;
      if (i > 2)
        x -= rle->cnts[i - 2];
      while (more)
        {
          char c = (char) (x & 0x1f);
          x >>= 5; /* arithmetic shift: negative deltas keep their sign */
          more = (c & 0x10) ? x != -1 : x != 0;
          if (more)
            c |= 0x20;
          g_string_append_c (s, (char) (c + 48));
        }
    }
  return g_string_free (s, FALSE);
}

static void normalize (RmRle *rle);

RmRle *
rm_rle_from_string (const char *counts, guint32 h, guint32 w, GError **error)
{
  return rm_rle_from_string_len (counts, strlen (counts), h, w, error);
}

RmRle *
rm_rle_from_string_len (const char *counts, gsize len, guint32 h, guint32 w, GError **error)
{
  gsize m = 0, p = 0;
  g_autofree guint32 *cnts = NULL;
  guint64 total = (guint64) h * w, sum = 0;

  if (!check_size (h, w, error))
    return NULL;
  cnts = g_new (guint32, len + 1);
  while (p < len)
    {
      gint64 x = 0;
      guint k = 0;
      gboolean more = TRUE;
      while (more)
        {
          int c;
          if (p >= len)
            {
              g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                           "RLE string ends inside a number");
              return NULL;
            }
          c = (unsigned char) counts[p] - 48;
          if (c < 0 || c > 0x3f)
            {
              g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                           "RLE string has an invalid character at offset %" G_GSIZE_FORMAT, p);
              return NULL;
            }
          if (k >= 7) /* 35 bits are more than any 32-bit count or delta needs */
            {
              g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                           "RLE string has an over-long number at offset %" G_GSIZE_FORMAT, p);
              return NULL;
            }
          x |= (gint64) (c & 0x1f) << (5 * k);
          more = (c & 0x20) != 0;
          p++;
          k++;
          if (!more && (c & 0x10))
            x -= (gint64) 1 << (5 * k); /* sign extension, as -1 << 5k in maskApi.c */
        }
      if (m > 2)
        x += cnts[m - 2];
      if (x < 0 || x > G_MAXUINT32)
        {
          g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                       "RLE string decodes to an impossible run length");
          return NULL;
        }
      sum += (guint64) x;
      if (sum > total)
        break; /* reported below */
      cnts[m++] = (guint32) x;
    }
  if (sum != total)
    {
      g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_INVALID,
                   "RLE runs cover %s%" G_GUINT64_FORMAT
                   " pixels, the %u x %u mask has %" G_GUINT64_FORMAT,
                   sum > total ? "more than " : "", MIN (sum, total), w, h, total);
      return NULL;
    }
  {
    RmRle *rle = rm_rle_new (h, w, cnts, m);
    normalize (rle);
    return rle;
  }
}

RmRle *
rm_rle_from_bytes (GBytes *counts, guint32 h, guint32 w, GError **error)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (counts, &len);

  return rm_rle_from_string_len (data, len, h, w, error);
}

RmRle *
rm_rle_from_counts (guint32 h, guint32 w, const guint32 *cnts, gsize m, GError **error)
{
  g_autoptr (RmRle) rle = rm_rle_new (h, w, cnts, m);

  if (!rm_rle_validate (rle, error))
    return NULL;
  normalize (rle);
  return g_steal_pointer (&rle);
}

guint64
rm_rle_area (const RmRle *rle)
{
  guint64 a = 0;
  for (gsize j = 1; j < rle->m; j += 2)
    a += rle->cnts[j];
  return a;
}

void
rm_rle_to_bbox (const RmRle *rle, double bbox[4])
{
  /* Unsigned 32-bit arithmetic on purpose: identical to maskApi.c's rleToBbox, including
   * the rule that a run of ones crossing a column boundary spans the full height. */
  guint32 h = rle->h, w = rle->w, xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  gsize m = (rle->m / 2) * 2;

  if (m == 0 || h == 0)
    {
      bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
      return;
    }
  for (gsize j = 0; j < m; j++)
    {
      guint32 t, x, y;
      cc += rle->cnts[j];
      t = cc - (guint32) (j % 2);
      y = t % h;
      x = (t - y) / h;
      if (j % 2 == 0)
        xp = x;
      else if (xp < x)
        {
          ys = 0;
          ye = h - 1;
        }
      xs = MIN (xs, x);
      xe = MAX (xe, x);
      ys = MIN (ys, y);
      ye = MAX (ye, y);
    }
  bbox[0] = xs;
  bbox[2] = (guint32) (xe - xs + 1);
  bbox[1] = ys;
  bbox[3] = (guint32) (ye - ys + 1);
}

RmRle *
rm_rle_merge (RmRle *const *rles, gsize n, gboolean intersect, GError **error)
{
  guint32 h, w;
  g_autofree guint32 *cnts = NULL, *acc = NULL;
  gsize m;

  if (n == 0)
    return rm_rle_new (0, 0, NULL, 0);
  h = rles[0]->h;
  w = rles[0]->w;
  if (n == 1)
    return rm_rle_copy (rles[0]);
  for (gsize i = 1; i < n; i++)
    if (rles[i]->h != h || rles[i]->w != w)
      {
        g_set_error (error, RM_RLE_ERROR, RM_RLE_ERROR_SIZE,
                     "cannot merge masks of different sizes (%u x %u and %u x %u)", w, h,
                     rles[i]->w, rles[i]->h);
        return NULL;
      }

  /* The merged run count is bounded by the sum of the inputs' run counts. */
  {
    gsize cap = 1;
    for (gsize i = 0; i < n; i++)
      cap += rles[i]->m;
    cnts = g_new (guint32, cap);
    acc = g_new (guint32, cap);
  }
  m = rles[0]->m;
  if (m > 0)
    memcpy (cnts, rles[0]->cnts, m * sizeof (guint32));

  for (gsize i = 1; i < n; i++)
    {
      const RmRle *B = rles[i];
      gsize am = m, a = 1, b = 1;
      guint32 ca, cb, cc = 0, ct = 1;
      gboolean v = FALSE, va = FALSE, vb = FALSE;

      if (am == 0 || B->m == 0) /* only a 0-pixel mask has no runs */
        {
          m = 0;
          continue;
        }
      memcpy (acc, cnts, am * sizeof (guint32));
      ca = acc[0];
      cb = B->cnts[0];
      m = 0;
      while (ct > 0)
        {
          guint32 c = MIN (ca, cb);
          gboolean vp;
          cc += c;
          ct = 0;
          ca -= c;
          if (!ca && a < am)
            {
              ca = acc[a++];
              va = !va;
            }
          ct += ca;
          cb -= c;
          if (!cb && b < B->m)
            {
              cb = B->cnts[b++];
              vb = !vb;
            }
          ct += cb;
          vp = v;
          v = intersect ? (va && vb) : (va || vb);
          if (v != vp || ct == 0)
            {
              cnts[m++] = cc;
              cc = 0;
            }
        }
    }
  return rm_rle_new (h, w, cnts, m);
}

/* Walks runs, skipping zero-length runs between runs of the same value. */
typedef struct
{
  const RmRle *r;
  gsize i;
} RunIter;

static gboolean
run_next (RunIter *it, guint64 *len, gboolean *val)
{
  guint64 l = 0;
  gboolean v;

  while (it->i < it->r->m && it->r->cnts[it->i] == 0)
    it->i++;
  if (it->i >= it->r->m)
    return FALSE;
  v = it->i % 2 == 1;
  /* Absorb following runs of the same value (separated by zero-length runs). */
  while (it->i < it->r->m)
    {
      if (it->r->cnts[it->i] != 0 && (it->i % 2 == 1) != v)
        break;
      if (it->r->cnts[it->i] != 0 || (it->i % 2 == 1) == v)
        l += it->r->cnts[it->i];
      it->i++;
    }
  *len = l;
  *val = v;
  return TRUE;
}

gboolean
rm_rle_equal (const RmRle *a, const RmRle *b)
{
  RunIter ia = { a, 0 }, ib = { b, 0 };

  if (a->h != b->h || a->w != b->w)
    return FALSE;
  for (;;)
    {
      guint64 la, lb;
      gboolean va, vb, ha = run_next (&ia, &la, &va), hb = run_next (&ib, &lb, &vb);
      if (ha != hb)
        return FALSE;
      if (!ha)
        return TRUE;
      if (la != lb || va != vb)
        return FALSE;
    }
}

/* Canonical runs, as rm_rle_encode would give them: zero-length runs inside the sequence
 * are folded away. pycocotools never writes them, but a string may hold them, and its
 * toBbox then wraps around (a leading "00" gives a bbox of billions). */
static void
normalize (RmRle *rle)
{
  RunIter it = { rle, 0 };
  g_autofree guint32 *out = g_new (guint32, rle->m + 2);
  gsize k = 0;
  guint64 len;
  gboolean val, first = TRUE;

  while (run_next (&it, &len, &val))
    {
      if (first && val)
        out[k++] = 0; /* the runs start with zeros */
      first = FALSE;
      out[k++] = (guint32) len;
    }
  if (k == 0)
    out[k++] = 0; /* an empty canvas */
  if (k == rle->m && memcmp (out, rle->cnts, k * sizeof (guint32)) == 0)
    return;
  g_free (rle->cnts);
  rle->cnts = g_steal_pointer (&out);
  rle->m = k;
}
