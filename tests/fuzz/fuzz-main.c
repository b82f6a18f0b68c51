/* SPDX-License-Identifier: GPL-3.0-or-later
 * Stand-alone driver for the fuzz targets, for builds without libFuzzer (gcc, CI):
 *
 *   fuzz-xxx [-t SECONDS] [-s SEED] FILE_OR_DIR...
 *
 * runs every file once, then, for SECONDS (default 0), random mutations of them (bit flips,
 * byte overwrites with boundary values, insertions, deletions, truncations, splices).
 * Deterministic for a seed. Under a sanitizer, the input that crashed is written to
 * ./crash-fuzz-main. Exit 0 when nothing crashed.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
void __sanitizer_set_death_callback (void (*callback) (void)) __attribute__ ((weak));

static GByteArray *current;

static void
dump_current (void)
{
  if (current && g_file_set_contents ("crash-fuzz-main", (const char *) current->data,
                                      (gssize) current->len, NULL))
    fprintf (stderr, "fuzz-main: input written to ./crash-fuzz-main\n");
}

static void
add_path (GPtrArray *corpus, const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir && (name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          add_path (corpus, child);
        }
      return;
    }
  char *data;
  gsize len;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &data, &len, &error))
    {
      fprintf (stderr, "fuzz-main: %s\n", error->message);
      exit (2);
    }
  g_ptr_array_add (corpus, g_bytes_new_take (data, len));
}

static void
run (const guint8 *data, gsize len)
{
  g_byte_array_set_size (current, 0);
  g_byte_array_append (current, data, (guint) len);
  /* A private heap copy of exactly len bytes, so ASan sees reads past the end. */
  g_autofree guint8 *copy = g_memdup2 (data, len);
  LLVMFuzzerTestOneInput (copy, len);
}

/* b is a GArray of bytes (GByteArray has no insertion). */
static void
mutate (GArray *b, GRand *rng, GPtrArray *corpus)
{
  static const guint8 special[] = {
    0, 1, 0x7f, 0x80, 0xff, '{', '}', '[', ']', '"', ',', ':', '9'
  };
  int n = g_rand_int_range (rng, 1, 5);
  for (int k = 0; k < n; k++)
    {
      guint len = b->len;
      guint8 *p = (guint8 *) b->data;
      guint pos = len ? (guint) g_rand_int_range (rng, 0, (gint32) len) : 0;
      switch (g_rand_int_range (rng, 0, 7))
        {
        case 0: /* flip a bit */
          if (len)
            p[pos] ^= (guint8) (1u << g_rand_int_range (rng, 0, 8));
          break;
        case 1: /* overwrite with a boundary value */
          if (len)
            p[pos] = special[g_rand_int_range (rng, 0, sizeof special)];
          break;
        case 2: /* insert random bytes */
          {
            guint8 ins[8];
            guint m = (guint) g_rand_int_range (rng, 1, 9);
            for (guint i = 0; i < m; i++)
              ins[i] = (guint8) g_rand_int (rng);
            g_array_insert_vals (b, pos, ins, m);
          }
          break;
        case 3: /* delete a range */
          if (len)
            {
              guint m = (guint) g_rand_int_range (rng, 1, 17); /* not inside MIN: evaluated twice */
              g_array_remove_range (b, pos, MIN (len - pos, m));
            }
          break;
        case 4: /* truncate */
          g_array_set_size (b, pos);
          break;
        case 5: /* overwrite 1, 2, 4 or 8 bytes with a little- or big-endian extreme */
          {
            guint w = 1u << g_rand_int_range (rng, 0, 4);
            guint64 v = g_rand_boolean (rng) ? G_MAXUINT64 >> g_rand_int_range (rng, 0, 64)
                                             : (guint64) g_rand_int_range (rng, 0, 65537);
            for (guint i = 0; i < w && pos + i < len; i++)
              p[pos + i] = (guint8) (v >> (8 * (g_rand_boolean (rng) ? i : w - 1 - i)));
          }
          break;
        default: /* splice in part of another corpus entry */
          {
            GBytes *other = corpus->pdata[g_rand_int_range (rng, 0, (gint32) corpus->len)];
            gsize olen;
            const guint8 *od = g_bytes_get_data (other, &olen);
            if (olen)
              {
                guint from = (guint) g_rand_int_range (rng, 0, (gint32) olen);
                guint m = (guint) g_rand_int_range (rng, 1, 65);
                g_array_insert_vals (b, pos, od + from, MIN ((guint) (olen - from), m));
              }
          }
          break;
        }
    }
}

int
main (int argc, char **argv)
{
  double seconds = 0;
  guint32 seed = 1;
  g_autoptr (GPtrArray) corpus = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  current = g_byte_array_new ();
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback (dump_current);

  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "-t") == 0 && i + 1 < argc)
        seconds = g_ascii_strtod (argv[++i], NULL);
      else if (strcmp (argv[i], "-s") == 0 && i + 1 < argc)
        seed = (guint32) g_ascii_strtoull (argv[++i], NULL, 10);
      else
        add_path (corpus, argv[i]);
    }
  if (corpus->len == 0)
    g_ptr_array_add (corpus, g_bytes_new_static ("", 0));

  for (guint i = 0; i < corpus->len; i++)
    {
      gsize len;
      const guint8 *d = g_bytes_get_data (corpus->pdata[i], &len);
      run (d, len);
    }

  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  g_autoptr (GArray) buf = g_array_new (FALSE, FALSE, 1);
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  guint64 runs = corpus->len;
  while (g_get_monotonic_time () < end)
    {
      gsize len;
      const guint8 *d =
          g_bytes_get_data (corpus->pdata[g_rand_int_range (rng, 0, (gint32) corpus->len)], &len);
      g_array_set_size (buf, 0);
      g_array_append_vals (buf, d, (guint) len);
      mutate (buf, rng, corpus);
      run ((const guint8 *) buf->data, buf->len);
      runs++;
    }
  fprintf (stderr, "fuzz-main: %" G_GUINT64_FORMAT " runs, seed %u, no crash\n", runs, seed);
  g_byte_array_unref (current);
  return 0;
}
