/* SPDX-License-Identifier: GPL-3.0-or-later
 * Safetensors reader/writer: round trip, conversions, the golden inputs file, and rejection of
 * malformed headers with the right error code and the offending tensor named.
 */
#include "rm-error.h"
#include "rm-safetensors.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

/* A file image: 8-byte LE length, the JSON header, then data_len bytes 0, 1, 2, ... */
static GBytes *
make_file (const char *json, size_t data_len)
{
  size_t n = strlen (json);
  uint64_t len_le = GUINT64_TO_LE ((uint64_t) n);
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) &len_le, 8);
  g_byte_array_append (b, (const guint8 *) json, (guint) n);
  for (size_t i = 0; i < data_len; i++)
    {
      guint8 v = (guint8) i;
      g_byte_array_append (b, &v, 1);
    }
  return g_byte_array_free_to_bytes (b);
}

static void
expect_error (const char *json, size_t data_len, RmError code, const char *substring)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = make_file (json, data_len);
  gsize len;
  const void *data = g_bytes_get_data (bytes, &len);
  RmSafetensors *st = rm_safetensors_from_memory (data, len, &error);
  if (st)
    g_error ("accepted a bad header: %s", json);
  g_assert_error (error, RM_ERROR, (gint) code);
  if (substring && !strstr (error->message, substring))
    g_error ("message '%s' lacks '%s' (header %s)", error->message, substring, json);
}

static void
test_malformed (void)
{
  static const char big[8] = { 0, 0, 0, 0, 0, 0, 0, 0x7f };
  g_autoptr (GError) error = NULL;

  g_assert_null (rm_safetensors_from_memory ("abc", 3, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_null (rm_safetensors_from_memory (big, sizeof big, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_TOO_LARGE);
  g_clear_error (&error);
  {
    /* header length beyond the end of the file */
    g_autoptr (GBytes) bytes = make_file ("{}", 0);
    gsize len;
    const guint8 *data = g_bytes_get_data (bytes, &len);
    g_assert_null (rm_safetensors_from_memory (data, len - 1, &error));
    g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "truncated"));
  }

  expect_error ("{", 0, RM_ERROR_FORMAT, "JSON");
  expect_error ("[]", 0, RM_ERROR_FORMAT, "not a JSON object");
  expect_error ("{\"a\":[[[[[[[[[[1]]]]]]]]]]}", 0, RM_ERROR_FORMAT, "nests");
  expect_error ("}}}", 0, RM_ERROR_FORMAT, NULL);
  expect_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                2, RM_ERROR_FORMAT, "duplicate");
  expect_error ("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
                1, RM_ERROR_FORMAT, "duplicate");
  expect_error ("{\"w.x\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                RM_ERROR_DTYPE, "'w.x'");
  expect_error ("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,8]}}", 8, RM_ERROR_FORMAT,
                "'w'");
  expect_error ("{\"neg\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1,
                RM_ERROR_SHAPE, "'neg'");
  expect_error ("{\"flt\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1,
                RM_ERROR_SHAPE, "'flt'");
  expect_error ("{\"mis\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24,
                RM_ERROR_SHAPE, "'mis'");
  expect_error ("{\"ovf\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                "\"data_offsets\":[0,0]}}",
                0, RM_ERROR_SHAPE, "'ovf'");
  expect_error ("{\"nine\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                "\"data_offsets\":[0,1]}}",
                1, RM_ERROR_SHAPE, "'nine'");
  expect_error ("{\"rev\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,1]}}", 4,
                RM_ERROR_FORMAT, "'rev'");
  expect_error ("{\"trunc\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 3,
                RM_ERROR_FORMAT, "truncated");
  expect_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
                5, RM_ERROR_FORMAT, "'b' overlaps tensor 'a'");
  expect_error ("{\"off\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
                RM_ERROR_FORMAT, "'off'");
  expect_error ("{\"nooff\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, RM_ERROR_FORMAT, "'nooff'");
  expect_error ("{\"extra\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
                RM_ERROR_FORMAT, "'x'");
  expect_error ("{\"scalar\":1}", 0, RM_ERROR_FORMAT, "'scalar'");
  expect_error ("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                RM_ERROR_FORMAT, "empty name");
  expect_error ("{\"__metadata__\":{\"k\":1}}", 0, RM_ERROR_FORMAT, "'k'");
  expect_error ("{\"__metadata__\":[]}", 0, RM_ERROR_FORMAT, "__metadata__");
}

static void
test_accepts_edge_cases (void)
{
  g_autoptr (GError) error = NULL;
  /* Scalar, zero-sized tensors anywhere (even inside another's range), padding spaces,
   * unused bytes at the end, and a header length that misaligns the data (copied). */
  GString *json = g_string_new ("{\"__metadata__\":{\"format\":\"pt\"},"
                                "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[1,5]},"
                                "\"z\":{\"dtype\":\"I64\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
                                "\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} ");
  /* Make sure "s" lands on an odd address so the aligned-copy path is taken. */
  while ((8 + json->len + 1) % 4 != 1)
    g_string_append_c (json, ' ');
  g_autofree char *header = g_string_free (json, FALSE);
  g_autoptr (GBytes) bytes = make_file (header, 9);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  g_autoptr (RmSafetensors) st = rm_safetensors_from_memory (data, len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_safetensors_count (st), ==, 3);
  g_assert_cmpstr (rm_safetensors_nth (st, 0)->name, ==, "s");
  g_assert_cmpstr (rm_safetensors_nth (st, 1)->name, ==, "z");
  g_assert_cmpstr (rm_safetensors_nth (st, 2)->name, ==, "u");
  g_assert_cmpstr (rm_safetensors_get_metadata (st, "format"), ==, "pt");
  g_assert_null (rm_safetensors_get_metadata (st, "nope"));

  const RmStTensor *s = rm_safetensors_lookup (st, "s");
  g_assert_cmpint (s->ndim, ==, 0);
  g_assert_cmpuint (rm_st_tensor_numel (s), ==, 1);
  g_assert_cmpuint ((uintptr_t) s->data % 4, ==, 0);
  g_assert_true ((const guint8 *) s->data < data || (const guint8 *) s->data >= data + len);
  guint8 expect[4] = { 1, 2, 3, 4 };
  g_assert_cmpmem (s->data, 4, expect, 4);

  const RmStTensor *z = rm_safetensors_lookup (st, "z");
  g_assert_cmpuint (z->nbytes, ==, 0);
  g_assert_nonnull (z->data);
  g_autofree int64_t *zi = rm_st_tensor_to_int64 (z, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (zi);

  g_assert_null (rm_safetensors_lookup (st, "missing"));
  g_assert_null (rm_safetensors_get (st, "missing", &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_MISSING_KEY);
  g_assert_nonnull (strstr (error->message, "'missing'"));
}

static void
test_conversions (void)
{
  static const uint16_t f16[] = { 0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001,
                                  0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x3555 };
  static const float f16_expect[] = { 0.0f,       -0.0f,    1.0f,      -2.0f, 65504.0f,   0x1p-24f,
                                      0x3ffp-24f, INFINITY, -INFINITY, NAN,   0x1.554p-2f };
  static const uint16_t bf16[] = { 0x3f80, 0xc049, 0x0000, 0x7f80 };
  static const float bf16_expect[] = { 1.0f, -3.140625f, 0.0f, INFINITY };
  static const int64_t i64[] = { -5, 0, 1 << 20, INT64_C (1) << 40 };
  static const int32_t i32[] = { -7, 123456 };
  static const uint8_t u8[] = { 0, 255, 17 };
  static const uint8_t b8[] = { 0, 1, 2 };
  g_autoptr (GError) error = NULL;
  size_t n;

  RmStTensor t = { "f16", RM_ST_F16, 1, { G_N_ELEMENTS (f16) }, f16, sizeof f16 };
  g_autofree float *a = rm_st_tensor_to_float32 (&t, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (f16));
  for (size_t i = 0; i < n; i++)
    if (isnan (f16_expect[i]))
      g_assert_true (isnan (a[i]));
    else
      {
        g_assert_cmpfloat (a[i], ==, f16_expect[i]);
        g_assert_cmpint (signbit (a[i]) != 0, ==, signbit (f16_expect[i]) != 0);
      }

  t = (RmStTensor){ "bf16", RM_ST_BF16, 1, { G_N_ELEMENTS (bf16) }, bf16, sizeof bf16 };
  g_autofree float *b = rm_st_tensor_to_float32 (&t, &n, &error);
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (b[i], ==, bf16_expect[i]);

  t = (RmStTensor){ "i64", RM_ST_I64, 2, { 2, 2 }, i64, sizeof i64 };
  g_autofree float *c = rm_st_tensor_to_float32 (&t, &n, &error);
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpfloat (c[0], ==, -5.0f);
  g_assert_cmpfloat (c[3], ==, 0x1p40f);
  g_autofree int64_t *ci = rm_st_tensor_to_int64 (&t, &n, &error);
  g_assert_cmpmem (ci, n * 8, i64, sizeof i64);

  t = (RmStTensor){ "i32", RM_ST_I32, 1, { 2 }, i32, sizeof i32 };
  g_autofree int64_t *d = rm_st_tensor_to_int64 (&t, &n, &error);
  g_assert_cmpint (d[0], ==, -7);
  g_assert_cmpint (d[1], ==, 123456);

  t = (RmStTensor){ "u8", RM_ST_U8, 1, { 3 }, u8, sizeof u8 };
  g_autofree float *e = rm_st_tensor_to_float32 (&t, &n, &error);
  g_assert_cmpfloat (e[1], ==, 255.0f);
  g_autofree int64_t *ei = rm_st_tensor_to_int64 (&t, &n, &error);
  g_assert_cmpint (ei[2], ==, 17);

  t = (RmStTensor){ "b", RM_ST_BOOL, 1, { 3 }, b8, sizeof b8 };
  g_autofree float *f = rm_st_tensor_to_float32 (&t, &n, &error);
  g_assert_cmpfloat (f[2], ==, 1.0f);
  g_autofree int64_t *fi = rm_st_tensor_to_int64 (&t, &n, &error);
  g_assert_cmpint (fi[0], ==, 0);
  g_assert_cmpint (fi[2], ==, 1);
  g_assert_no_error (error);

  t = (RmStTensor){ "flt", RM_ST_F32, 1, { 1 }, f16_expect, sizeof (float) };
  g_assert_null (rm_st_tensor_to_int64 (&t, &n, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_DTYPE);
}

static void
test_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "t.safetensors", NULL);

  static const uint8_t u8[5] = { 1, 2, 3, 4, 5 };
  static const float f32[6] = { 0.5f, -1.0f, 2.25f, 3.0f, 1e-30f, -0.0f };
  static const int64_t i64[3] = { -1, 0, INT64_MAX };
  static const uint16_t f16[2] = { 0x3c00, 0xc000 };
  static const float scalar = 42.0f;
  /* U8 with an odd length first: the writer must still lay out the F32/I64 data aligned. */
  const RmStTensor in[] = {
    { "bytes", RM_ST_U8, 1, { 5 }, u8, sizeof u8 },
    { "weight \"quoted\" é", RM_ST_F32, 2, { 2, 3 }, f32, sizeof f32 },
    { "ids", RM_ST_I64, 1, { 3 }, i64, sizeof i64 },
    { "half", RM_ST_F16, 3, { 1, 1, 2 }, f16, sizeof f16 },
    { "scalar", RM_ST_F32, 0, { 0 }, &scalar, sizeof scalar },
    { "empty", RM_ST_F32, 2, { 0, 7 }, NULL, 0 },
  };
  const char *meta[] = { "format", "pt", "note", "ünïcode \"q\"", NULL };

  g_assert_true (rm_safetensors_write (path, G_N_ELEMENTS (in), in, meta, &error));
  g_assert_no_error (error);
  /* Overwriting an existing file goes through the same rename. */
  g_assert_true (rm_safetensors_write (path, G_N_ELEMENTS (in), in, meta, &error));
  g_assert_no_error (error);

  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_safetensors_count (st), ==, G_N_ELEMENTS (in));
  for (size_t i = 0; i < G_N_ELEMENTS (in); i++)
    {
      const RmStTensor *t = rm_safetensors_nth (st, i);
      g_assert_cmpstr (t->name, ==, in[i].name);
      g_assert_true (rm_safetensors_lookup (st, in[i].name) == t);
      g_assert_cmpint (t->dtype, ==, in[i].dtype);
      g_assert_cmpint (t->ndim, ==, in[i].ndim);
      for (int d = 0; d < t->ndim; d++)
        g_assert_cmpint (t->shape[d], ==, in[i].shape[d]);
      g_assert_cmpuint (t->nbytes, ==, in[i].nbytes);
      if (t->nbytes)
        g_assert_cmpmem (t->data, t->nbytes, in[i].data, in[i].nbytes);
      g_assert_cmpuint ((uintptr_t) t->data % rm_st_dtype_size (t->dtype), ==, 0);
    }
  g_assert_cmpstr (rm_safetensors_get_metadata (st, "note"), ==, "ünïcode \"q\"");

  /* No temporary file is left behind. */
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_dir_read_name (d), ==, "t.safetensors");
  g_assert_null (g_dir_read_name (d));

  /* A truncated copy is rejected when opened. */
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_autofree char *cut = g_build_filename (dir, "cut.safetensors", NULL);
  g_assert_true (g_file_set_contents (cut, contents, (gssize) len - 3, NULL));
  g_assert_null (rm_safetensors_open (cut, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "cut.safetensors"));
  g_clear_error (&error);
  rm_test_rmdir_recursive (dir);
}

static void
test_write_errors (void)
{
  g_autoptr (GError) error = NULL;
  static const float f[2] = { 1, 2 };
  g_autofree char *dir = rm_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "x.safetensors", NULL);

  RmStTensor dup[2] = { { "a", RM_ST_F32, 1, { 1 }, f, 4 }, { "a", RM_ST_F32, 1, { 1 }, f, 4 } };
  g_assert_false (rm_safetensors_write (path, 2, dup, NULL, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_INPUT);
  g_clear_error (&error);

  RmStTensor bad = { "b", RM_ST_F32, 1, { 3 }, f, sizeof f };
  g_assert_false (rm_safetensors_write (path, 1, &bad, NULL, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_SHAPE);
  g_clear_error (&error);

  g_autofree char *nodir = g_build_filename (dir, "no", "such", "x.safetensors", NULL);
  g_assert_false (rm_safetensors_write (nodir, 0, NULL, NULL, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_IO);
  g_clear_error (&error);

  g_assert_null (rm_safetensors_open (nodir, &error));
  g_assert_error (error, RM_ERROR, RM_ERROR_IO);
  g_clear_error (&error);

  /* An empty file set (no tensors, no metadata) is valid. */
  g_assert_true (rm_safetensors_write (path, 0, NULL, NULL, &error));
  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rm_safetensors_count (st), ==, 0);
  rm_test_rmdir_recursive (dir);
}

static void
test_golden_inputs (void)
{
  g_autofree char *path = rm_test_shared_file_or_skip ("golden/inputs.safetensors");
  if (!path)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (RmSafetensors) st = rm_safetensors_open (path, &error);
  g_assert_no_error (error);
  static const char *names[] = { "input.image_raw",     "input.target_raw", "input.sam_image",
                                 "input.beit_image",    "input.target",     "input.input_ids",
                                 "input.attention_mask" };
  g_assert_cmpuint (rm_safetensors_count (st), ==, G_N_ELEMENTS (names));
  for (size_t i = 0; i < G_N_ELEMENTS (names); i++)
    g_assert_cmpstr (rm_safetensors_nth (st, i)->name, ==, names[i]);
  g_assert_cmpstr (rm_safetensors_get_metadata (st, "golden_set"), ==, "A");

  const RmStTensor *img = rm_safetensors_get (st, "input.image_raw", &error);
  g_assert_no_error (error);
  g_assert_cmpint (img->dtype, ==, RM_ST_U8);
  g_assert_cmpint (img->ndim, ==, 3);
  g_assert_cmpint (img->shape[0], ==, 320);
  g_assert_cmpint (img->shape[1], ==, 288);
  g_assert_cmpint (img->shape[2], ==, 3);

  const RmStTensor *ids = rm_safetensors_get (st, "input.input_ids", &error);
  size_t n;
  g_autofree int64_t *v = rm_st_tensor_to_int64 (ids, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 42);
  g_assert_cmpint (v[0], ==, 0);
  g_assert_cmpint (v[12], ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/safetensors/malformed", test_malformed);
  g_test_add_func ("/safetensors/edge-cases", test_accepts_edge_cases);
  g_test_add_func ("/safetensors/conversions", test_conversions);
  g_test_add_func ("/safetensors/roundtrip", test_roundtrip);
  g_test_add_func ("/safetensors/write-errors", test_write_errors);
  g_test_add_func ("/safetensors/golden-inputs", test_golden_inputs);
  return g_test_run ();
}
