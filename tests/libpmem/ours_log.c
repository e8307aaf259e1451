/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ours_log.c -- PMDK 2.1's pmem_log_* API on our libpmem.so.1 (Debian's
 * libpmem1 1.12.1 predates it, so this is not a differential test):
 * thresholds, validation, and errors reaching a user log function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmem.h>

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

static int Seen;
static char Last[512];

static void
logf_(enum pmem_log_level level, const char *file, unsigned line,
	const char *func, const char *message)
{
	(void)file; (void)line; (void)func;
	Seen++;
	snprintf(Last, sizeof(Last), "%d %s", (int)level, message);
}

int
main(void)
{
	enum pmem_log_level v;

	REQUIRE(pmem_log_get_threshold(PMEM_LOG_THRESHOLD, &v) == 0);
	REQUIRE(v == PMEM_LOG_LEVEL_WARNING);
	REQUIRE(pmem_log_get_threshold(PMEM_LOG_THRESHOLD_AUX, &v) == 0);
	REQUIRE(v == PMEM_LOG_LEVEL_HARK);
	errno = 0;
	REQUIRE(pmem_log_get_threshold(PMEM_LOG_THRESHOLD, NULL) == 1 && errno == EINVAL);
	errno = 0;
	REQUIRE(pmem_log_set_threshold((enum pmem_log_threshold)2, PMEM_LOG_LEVEL_ERROR) == 1);
	REQUIRE(errno == EINVAL);
	REQUIRE(pmem_log_set_threshold(PMEM_LOG_THRESHOLD, (enum pmem_log_level)7) == 1);
	REQUIRE(pmem_log_set_function(logf_) == 0);
	REQUIRE(pmem_map_file(NULL, 0, 0, 0, NULL, NULL) == NULL);
	REQUIRE(Seen == 1 && strcmp(Last, "2 invalid (NULL) path") == 0);
	REQUIRE(pmem_log_set_threshold(PMEM_LOG_THRESHOLD, PMEM_LOG_LEVEL_FATAL) == 0);
	REQUIRE(pmem_log_get_threshold(PMEM_LOG_THRESHOLD, &v) == 0 && v == PMEM_LOG_LEVEL_FATAL);
	REQUIRE(pmem_msync(NULL, 1) == -1);
	REQUIRE(Seen == 1);
	REQUIRE(pmem_log_set_threshold(PMEM_LOG_THRESHOLD, PMEM_LOG_LEVEL_DEBUG) == 0);
	REQUIRE(pmem_msync(NULL, 1) == -1);
	REQUIRE(Seen == 2 && strcmp(Last, "2 msync: Cannot allocate memory") == 0);
	REQUIRE(pmem_log_set_function(PMEM_LOG_USE_DEFAULT_FUNCTION) == 0);
	REQUIRE(pmem_msync(NULL, 1) == -1);
	REQUIRE(Seen == 2);
	printf("log API: ok\n");
	return 0;
}
