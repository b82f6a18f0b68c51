/* SPDX-License-Identifier: GPL-3.0-or-later
 * Reading and writing safetensors files (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length N, N bytes of JSON
 * ({name: {dtype, shape, data_offsets}} plus an optional "__metadata__" string map),
 * then the raw little-endian C-order data.
 *
 * A file is mapped read-only and validated completely when it is opened: every entry's
 * dtype, shape and byte range are checked (no overflow, inside the data section, no two
 * tensors overlapping), so the data pointers handed out are always safe to read.
 * Data pointers are aligned to their element size: when the file's layout does not allow
 * that (odd header length or offset), the affected tensor is copied once at open time.
 *
 * A mapped file must not be truncated by someone else while it is open (SIGBUS).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

#define RM_ST_MAX_DIMS 8
/* Bound on the JSON header, checked before it is parsed. */
#define RM_ST_MAX_HEADER_BYTES ((uint64_t) 100 * 1024 * 1024)

typedef enum
{
  RM_ST_F32,
  RM_ST_F16,
  RM_ST_BF16,
  RM_ST_I64,
  RM_ST_I32,
  RM_ST_U8,
  RM_ST_BOOL,
} RmStDtype;

/* One tensor. In a file opened for reading everything points into the file object and
 * lives as long as it. For rm_safetensors_write() the caller fills it in. */
typedef struct
{
  const char *name;
  RmStDtype dtype;
  int ndim; /* 0 for a scalar */
  int64_t shape[RM_ST_MAX_DIMS];
  const void *data;
  size_t nbytes;
} RmStTensor;

typedef struct RmSafetensors RmSafetensors;

/* Bytes per element; name as in the header ("F32", ...). */
size_t rm_st_dtype_size (RmStDtype dtype);
const char *rm_st_dtype_name (RmStDtype dtype);
/* Product of the shape (1 for a scalar). */
uint64_t rm_st_tensor_numel (const RmStTensor *t);

RmSafetensors *rm_safetensors_open (const char *path, GError **error);
/* Parses a copy-free view of caller memory, which must outlive the result. */
RmSafetensors *rm_safetensors_from_memory (const void *data, size_t len, GError **error);
void rm_safetensors_close (RmSafetensors *st);

/* Tensors in header (file) order; __metadata__ is not a tensor. */
size_t rm_safetensors_count (const RmSafetensors *st);
const RmStTensor *rm_safetensors_nth (const RmSafetensors *st, size_t i);
/* NULL when absent. */
const RmStTensor *rm_safetensors_lookup (const RmSafetensors *st, const char *name);
/* Like lookup, but an absent tensor is an RM_ERROR_MISSING_KEY. */
const RmStTensor *rm_safetensors_get (const RmSafetensors *st, const char *name, GError **error);
/* A __metadata__ value, or NULL. */
const char *rm_safetensors_get_metadata (const RmSafetensors *st, const char *key);

/* Freshly allocated (g_free) copies. To float32: from F32, F16, BF16, I64, I32, U8, BOOL.
 * To int64: from I64, I32, U8, BOOL (floating types are an RM_ERROR_DTYPE). numel may be
 * NULL. Allocation failure of a huge tensor is an RM_ERROR_TOO_LARGE. */
float *rm_st_tensor_to_float32 (const RmStTensor *t, size_t *numel, GError **error);
int64_t *rm_st_tensor_to_int64 (const RmStTensor *t, size_t *numel, GError **error);

/* Writes n tensors in the given order (names must be unique; nbytes must equal
 * numel x dtype size) plus an optional metadata map given as a NULL-terminated list of
 * alternating keys and values. The header lists the tensors in the given order; their bytes
 * are laid out largest element size first, so that all of them are naturally aligned. Atomic: a
 * temporary file in the same folder is written, fsync'ed and renamed over path, so path holds
 * either the old or the complete new file. */
gboolean rm_safetensors_write (const char *path, size_t n, const RmStTensor *tensors,
                               const char *const *metadata, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RmSafetensors, rm_safetensors_close)

G_END_DECLS
