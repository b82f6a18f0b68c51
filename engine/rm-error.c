/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rm-error.h"

G_DEFINE_QUARK (rm-error-quark, rm_error)
