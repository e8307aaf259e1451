/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmem2/check.h -- pmem2's extension for crash-consistency checking (not
 * in PMDK; exported at the version node PMEM2_EXT_1.0 of libpmem2.so.1).
 * See docs/check.md.
 */
#ifndef LIBPMEM2_CHECK_H
#define LIBPMEM2_CHECK_H 1

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Under `pmem2 check` (PMEM2_CHECK set): a named crash point, where every
 * store made so far must be durable; or, for a name ending in ".BEGIN" or
 * ".END", the boundary of a named region, written to the store log as
 * PMDK's markers are (for pmreorder's -x NAME=Engine) and honoured by
 * crash-state exploration (pmem2 check --markers NAME=Engine). Does nothing
 * when checking is off or name is NULL.
 */
void pmem2_check_point(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* LIBPMEM2_CHECK_H */
