/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmem2.h -- the C interface of pmem2, a Rust implementation of PMDK's
 * libpmem2. Source- and binary-compatible with PMDK 2.x: same names,
 * constants, types and calling conventions. Everything is declared in
 * <libpmem2/base.h>; this umbrella header is what programs include.
 */
#ifndef LIBPMEM2_H
#define LIBPMEM2_H 1

#include <libpmem2/base.h>

#endif /* LIBPMEM2_H */
