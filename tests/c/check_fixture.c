/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check_fixture.c -- fixtures for the crash-consistency checker, in C
 * (ci/check.sh; docs/check.md). An unmodified libpmem2 program: the
 * checking comes from PMEM2_CHECK, read by libpmem2.so.1.
 *
 * usage: check_fixture CASE DIR (the file DIR/check is created, 16 KiB)
 *
 * Each CASE carries one seeded bug; CASE-ok is its correct version:
 *   missing-flush         a store never persisted
 *   missing-fence         a store flushed, never drained
 *   nt-no-drain           a non-temporal copy (NODRAIN), never drained
 *   superfluous-flush     a persist of a line never modified
 *   double-flush          a line flushed twice before the drain
 *   persist-before-store  the persist comes before the store
 *   flag-before-data      the commit flag is persisted before its record;
 *                         the crash point is the unmap that follows
 *
 * The commit of flag-before-data is a named region (pmem2's extension
 * pmem2_check_point, <libpmem2/check.h>): "|commit.BEGIN" and
 * "|commit.END" in the store log, around the flag's store, flush and fence.
 */
#include "common.h"

#include <libpmem2/check.h>

int
main(int argc, char *argv[])
{
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	pmem2_persist_fn persist, flush;
	pmem2_drain_fn drain;
	pmem2_memcpy_fn memcpy_fn;
	pmem2_memset_fn memset_fn;
	static char data[4096];
	const char *c;
	char *addr;
	int fd, ok;

	if (argc != 3)
		return 2;
	c = argv[1];
	ok = strlen(c) > 3 && strcmp(c + strlen(c) - 3, "-ok") == 0;
	fd = make_file(argv[2], "check", 16 * 1024);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
			PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_map_new(&map, cfg, src) == 0);
	addr = pmem2_map_get_address(map);
	persist = pmem2_get_persist_fn(map);
	flush = pmem2_get_flush_fn(map);
	drain = pmem2_get_drain_fn(map);
	memcpy_fn = pmem2_get_memcpy_fn(map);
	memset_fn = pmem2_get_memset_fn(map);

	if (strncmp(c, "missing-flush", 13) == 0) {
		*(volatile uint64_t *)addr = 1;
		if (ok)
			persist(addr, 8);
	} else if (strncmp(c, "missing-fence", 13) == 0) {
		*(volatile uint64_t *)(addr + 128) = 2;
		flush(addr + 128, 8);
		if (ok)
			drain();
	} else if (strncmp(c, "nt-no-drain", 11) == 0) {
		memset(data, 0x5a, sizeof(data));
		memcpy_fn(addr + 4096, data, sizeof(data),
			PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_NODRAIN);
		if (ok)
			drain();
	} else if (strncmp(c, "superfluous-flush", 17) == 0) {
		*(volatile uint64_t *)addr = 3;
		persist(addr, 8);
		if (!ok)
			persist(addr + 3 * 4096, 8); /* never written */
	} else if (strncmp(c, "double-flush", 12) == 0) {
		*(volatile uint64_t *)(addr + 64) = 4;
		flush(addr + 64, 8);
		if (!ok)
			flush(addr + 64, 8);
		drain();
	} else if (strncmp(c, "persist-before-store", 20) == 0) {
		if (!ok)
			persist(addr + 256, 8);
		*(volatile uint64_t *)(addr + 256) = 5;
		if (ok)
			persist(addr + 256, 8);
	} else if (strncmp(c, "flag-before-data", 16) == 0) {
		/* a 256-byte record at 8192, valid once the flag at 0 is set */
		memset_fn(addr + 8192, 0xd0, 256, PMEM2_F_MEM_NOFLUSH);
		if (ok)
			persist(addr + 8192, 256);
		pmem2_check_point("commit.BEGIN");
		*(volatile uint64_t *)addr = 1;
		persist(addr, 8);
		pmem2_check_point("commit.END");
	} else {
		fprintf(stderr, "check_fixture: unknown case %s\n", c);
		return 2;
	}

	REQUIRE(pmem2_map_delete(&map) == 0);
	REQUIRE(pmem2_source_delete(&src) == 0);
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	close(fd);
	return 0;
}
