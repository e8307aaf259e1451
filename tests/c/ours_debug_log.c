/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ours_debug_log.c -- the debug log of libpmem2(7) from C: with
 * PMEM2_LOG_LEVEL=4 and PMEM2_LOG_FILE set, the file has one level-1 line
 * per error returned, with the text pmem2_errormsg() returns; level-2
 * lines for the map made and deleted; level-3 lines for the decisions;
 * level-4 lines for reservation operations; and no level-15 lines (the
 * memory operations). pmem2 reads the variables at the first call into
 * the library, so they are set here, before it (PMDK's debug build reads
 * them at load time: this test is ours only).
 */
#include "common.h"
#include "log_lines.h"

/* EXPECT(n, level, func, what): n lines of libpmem2's log (log_lines.h) */
#define EXPECT(n, level, func, what) LOG_EXPECT(n, "libpmem2", level, func, what)

int
main(int argc, char *argv[])
{
	char log_path[4096];
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map = NULL;
	struct pmem2_vm_reservation *rsv;
	char msg[512];
	int fd;

	if (argc != 2)
		return 2;
	snprintf(log_path, sizeof(log_path), "%s/debug.log", argv[1]);
	unlink(log_path);
	REQUIRE(setenv("PMEM2_LOG_LEVEL", "4", 1) == 0);
	REQUIRE(setenv("PMEM2_LOG_FILE", log_path, 1) == 0);

	fd = make_file(argv[1], "debug_log", 64 * 1024);
	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	/* an error: no granularity */
	REQUIRE(pmem2_map_new(&map, cfg, src) == PMEM2_E_GRANULARITY_NOT_SET);
	snprintf(msg, sizeof(msg), "%s", pmem2_errormsg());
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_map_new(&map, cfg, src) == 0);
	pmem2_get_memcpy_fn(map)(pmem2_map_get_address(map), "x", 1, 0);
	REQUIRE(pmem2_map_delete(&map) == 0);
	REQUIRE(pmem2_vm_reservation_new(&rsv, NULL, 4 << 20) == 0);
	REQUIRE(pmem2_vm_reservation_delete(&rsv) == 0);
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	REQUIRE(pmem2_source_delete(&src) == 0);
	close(fd);

	log_load(log_path);

	/* level 1: the one error, once, with pmem2_errormsg()'s text */
	EXPECT(1, 1, "pmem2_map_new", msg);
	EXPECT(1, 1, NULL, "");
	/* level 2: the source and the map made and deleted */
	EXPECT(1, 2, "Source::from_fd", ": Regular, device ");
	EXPECT(1, 2, "Map::new", "mapped 65536 bytes at 0x");
	EXPECT(1, 2, "Map::delete", "unmapped 65536 bytes at 0x");
	/* level 3: the decisions */
	EXPECT(1, 3, "flush_kind", "flush instruction: ");
	EXPECT(1, 3, "kernel_kind", "memory-operation kernels: ");
	/* level 4: the reservation */
	EXPECT(1, 4, "VmReservation::new", "4194304 bytes");
	EXPECT(1, 4, "VmReservation::delete", "4194304 bytes");
	/* not level 15: one memcpy was made */
	EXPECT(0, 15, NULL, "");
	printf("ok: debug log levels 1-4 from C\n");
	return 0;
}
