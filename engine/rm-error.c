/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-error.h"

/* clang-format off */
G_DEFINE_QUARK (rm-error-quark, rm_error)
/* clang-format on */
