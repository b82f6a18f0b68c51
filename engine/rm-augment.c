/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-augment.h"

#include <glib.h>
#include <string.h>

uint64_t
rm_rng_next (RmRng *rng)
{
  uint64_t z = (rng->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int64_t
rm_rng_range (RmRng *rng, int64_t lo, int64_t hi)
{
  uint64_t span = (uint64_t) (hi - lo) + 1;
  return lo + (int64_t) (rm_rng_next (rng) % span);
}

double
rm_rng_uniform (RmRng *rng)
{
  return (double) (rm_rng_next (rng) >> 11) / 9007199254740992.0;
}

typedef struct
{
  const char *a, *b;
} WordPair;

static const WordPair horizontal_pairs[] = {
  { "left", "right" },      { "leftmost", "rightmost" },      { "west", "east" },
  { "western", "eastern" }, { "westernmost", "easternmost" },
};
static const WordPair vertical_pairs[] = {
  { "top", "bottom" },          { "topmost", "bottommost" }, { "upper", "lower" },
  { "north", "south" },         { "northern", "southern" },  { "above", "below" },
  { "uppermost", "lowermost" },
};

/* The counterpart of word (compared case-insensitively), or NULL. */
static const char *
counterpart (const char *word, size_t len, bool horizontal)
{
  const WordPair *pairs = horizontal ? horizontal_pairs : vertical_pairs;
  size_t n = horizontal ? G_N_ELEMENTS (horizontal_pairs) : G_N_ELEMENTS (vertical_pairs);
  for (size_t i = 0; i < n; i++)
    {
      if (strlen (pairs[i].a) == len && g_ascii_strncasecmp (word, pairs[i].a, len) == 0)
        return pairs[i].b;
      if (strlen (pairs[i].b) == len && g_ascii_strncasecmp (word, pairs[i].b, len) == 0)
        return pairs[i].a;
    }
  return NULL;
}

static void
append_with_case (GString *out, const char *replacement, const char *original)
{
  for (size_t i = 0; replacement[i]; i++)
    {
      char c = replacement[i];
      /* Keep the original's capitalisation pattern: first letter, or all capitals. */
      bool upper = g_ascii_isupper (original[0]) && (i == 0 || g_ascii_isupper (original[1]));
      g_string_append_c (out, upper ? g_ascii_toupper (c) : c);
    }
}

static char *
mirror_words (const char *expression, bool horizontal, bool *changed)
{
  GString *out = g_string_new (NULL);
  *changed = false;
  const char *p = expression;
  while (*p)
    {
      if (!g_ascii_isalpha (*p))
        {
          g_string_append_c (out, *p++);
          continue;
        }
      const char *start = p;
      while (g_ascii_isalpha (*p))
        p++;
      const char *swap = counterpart (start, (size_t) (p - start), horizontal);
      if (swap != NULL)
        {
          append_with_case (out, swap, start);
          *changed = true;
        }
      else
        g_string_append_len (out, start, p - start);
    }
  return g_string_free (out, FALSE);
}

char *
rm_expression_mirror (const char *expression, bool horizontal)
{
  bool changed;
  return mirror_words (expression, horizontal, &changed);
}

bool
rm_expression_has_spatial_words (const char *expression, bool horizontal)
{
  bool changed;
  g_free (mirror_words (expression, horizontal, &changed));
  return changed;
}

static void
mirror_bytes (uint8_t *data, int width, int height, int channels, bool horizontal)
{
  size_t row = (size_t) width * channels;
  if (horizontal)
    for (int y = 0; y < height; y++)
      {
        uint8_t *r = data + y * row;
        for (int x = 0; x < width / 2; x++)
          for (int c = 0; c < channels; c++)
            {
              uint8_t t = r[x * channels + c];
              r[x * channels + c] = r[(width - 1 - x) * channels + c];
              r[(width - 1 - x) * channels + c] = t;
            }
      }
  else
    {
      uint8_t *tmp = g_malloc (row);
      for (int y = 0; y < height / 2; y++)
        {
          memcpy (tmp, data + y * row, row);
          memcpy (data + y * row, data + (height - 1 - y) * row, row);
          memcpy (data + (height - 1 - y) * row, tmp, row);
        }
      g_free (tmp);
    }
}

void
rm_image_mirror (RmImage *img, bool horizontal)
{
  mirror_bytes (img->pixels, img->width, img->height, img->channels, horizontal);
}

void
rm_mask_mirror (uint8_t *mask, int width, int height, bool horizontal)
{
  mirror_bytes (mask, width, height, 1, horizontal);
}

void
rm_augment_black_squares (RmImage *img, RmRng *rng, int n_min, int n_max, int size)
{
  int n = (int) rm_rng_range (rng, n_min, n_max);
  for (int i = 0; i < n; i++)
    {
      int x0 = (int) rm_rng_range (rng, 0, MAX (0, img->width - size));
      int y0 = (int) rm_rng_range (rng, 0, MAX (0, img->height - size));
      for (int y = y0; y < MIN (img->height, y0 + size); y++)
        memset (img->pixels + ((size_t) y * img->width + x0) * img->channels, 0,
                (size_t) MIN (size, img->width - x0) * img->channels);
    }
}
