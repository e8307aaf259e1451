/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ours_debug_log.c -- libpmem's debug log (PMEM_LOG_LEVEL, PMEM_LOG_FILE,
 * which PMDK's debug build honours) on our libpmem.so.1. The runner sets
 * both variables and passes a scratch directory. The program maps a file,
 * fails one call, copies with pmem_memcpy_persist, unmaps, then reads the
 * log: level 1 has the one error with pmem_errormsg()'s text, level 2 the
 * mapping, level 3 the decisions, level 15 one line naming the copy's
 * routine; every line is "<libpmem>: <N> [...]", of a level up to
 * PMEM_LOG_LEVEL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmem.h>

#include "../c/log_lines.h"

#define REQUIRE(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); exit(1); } } while (0)

/* EXPECT(n, level, what): n lines of libpmem's log (log_lines.h) */
#define EXPECT(n, level, what) LOG_EXPECT(n, "libpmem", level, NULL, what)

int
main(int argc, char *argv[])
{
	const char *log_path = getenv("PMEM_LOG_FILE");
	const char *lvl = getenv("PMEM_LOG_LEVEL");
	char path[4096], missing[4096], msg[512];
	size_t mapped;
	int is_pmem, level, i;
	char *addr;

	REQUIRE(argc == 2 && log_path != NULL && lvl != NULL);
	level = atoi(lvl);
	snprintf(path, sizeof(path), "%s/debug_log.pmem", argv[1]);
	snprintf(missing, sizeof(missing), "%s/no/such/file", argv[1]);

	/* an error: open fails */
	REQUIRE(pmem_map_file(missing, 0, 0, 0, NULL, NULL) == NULL);
	snprintf(msg, sizeof(msg), "%s", pmem_errormsg());
	addr = pmem_map_file(path, 64 * 1024, PMEM_FILE_CREATE, 0600,
		&mapped, &is_pmem);
	REQUIRE(addr != NULL && mapped == 64 * 1024);
	pmem_memcpy_persist(addr, "0123456789abcdef", 16);
	REQUIRE(pmem_unmap(addr, mapped) == 0);
	remove(path);

	log_load(log_path);

	/* every line is libpmem's, of an enabled level */
	EXPECT(0, -1, "<libpmem2>");
	for (i = level + 1; i <= 15; i++)
		EXPECT(0, i, "");
	/* level 1: the one error, with pmem_errormsg()'s text */
	EXPECT(1, 1, msg);
	EXPECT(1, 1, "");
	if (level >= 2) {
		EXPECT(1, 2, "mapped 65536 bytes at 0x");
		EXPECT(1, 2, "unmapping 65536 bytes at 0x");
	}
	if (level >= 3) {
		EXPECT(1, 3, "flush instruction: ");
		EXPECT(1, 3, "memory-operation kernels: ");
		EXPECT(1, 3, "PMEM_NO_FLUSH=");
		/* set by the runner: the variables read are logged */
		EXPECT(1, 3, "PMEM_IS_PMEM_FORCE=0: never pmem");
		REQUIRE(is_pmem == 0);
	}
	if (level >= 15) {
		/* the copy: one routine, PMDK's name */
		EXPECT(1, 15, " memmove_");
	}
	printf("ok: libpmem debug log at level %d\n", level);
	return 0;
}
