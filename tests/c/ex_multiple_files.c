/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_multiple_files.c -- several files mapped back to back in one
 * reservation, then one memset spanning all the maps.
 *
 * "ex_multiple_files verify IMAGE" is its crash-consistency checker (pmem2
 * check --explore; IMAGE is one file's map): each 64-byte line is wholly
 * zero or wholly filled (the memset's lines reach the files in any order,
 * each line as a whole).
 */
#include "common.h"

#define FILL '-'

static int
verify(const char *path)
{
	size_t len, line, i;
	unsigned char *img = read_image(path, &len);

	for (line = 0; line < len; line += 64) {
		size_t end = line + 64 < len ? line + 64 : len;
		int zero = img[line] == 0;
		for (i = line; i < end; i++)
			if (img[i] != (zero ? 0 : FILL))
				return 1;
	}
	return 0;
}

#define NFILES 3

int
main(int argc, char *argv[])
{
	static const size_t sizes[NFILES] = { 2 << 20, 64 << 10, 1 << 20 };
	struct pmem2_vm_reservation *rsv;
	struct pmem2_source *src[NFILES];
	struct pmem2_map *map[NFILES];
	struct pmem2_config *cfg;
	pmem2_memset_fn memset_fn = NULL;
	size_t total = 0, off = 0, align0 = 0;
	char name[32], *base;
	int fd[NFILES], i;

	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc != 2)
		return 2;
	for (i = 0; i < NFILES; i++) {
		size_t align;
		snprintf(name, sizeof(name), "part%d", i);
		fd[i] = make_file(argv[1], name, sizes[i]);
		REQUIRE(pmem2_source_from_fd(&src[i], fd[i]) == 0);
		REQUIRE(pmem2_source_alignment(src[i], &align) == 0);
		if (i == 0)
			align0 = align;
		REQUIRE(align == align0);	/* same alignment for all */
		total += sizes[i];
	}
	if (pmem2_vm_reservation_new(&rsv, NULL, total)) {
		pmem2_perror("pmem2_vm_reservation_new");
		return 1;
	}
	base = pmem2_vm_reservation_get_address(rsv);
	REQUIRE(pmem2_vm_reservation_get_size(rsv) == total);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	for (i = 0; i < NFILES; i++) {
		REQUIRE(pmem2_config_set_vm_reservation(cfg, rsv, off) == 0);
		if (pmem2_map_new(&map[i], cfg, src[i])) {
			pmem2_perror("pmem2_map_new(%d)", i);
			return 1;
		}
		REQUIRE((char *)pmem2_map_get_address(map[i]) == base + off);
		if (i == 0)
			memset_fn = pmem2_get_memset_fn(map[i]);
		REQUIRE(pmem2_get_memset_fn(map[i]) == memset_fn);
		off += sizes[i];
	}
	memset_fn(base, FILL, total, PMEM2_F_MEM_NONTEMPORAL);

	for (i = NFILES - 1; i >= 0; i--) {
		char c = 0;
		REQUIRE(pmem2_map_delete(&map[i]) == 0);
		REQUIRE(pread(fd[i], &c, 1, (off_t)sizes[i] - 1) == 1 && c == FILL);
		REQUIRE(pread(fd[i], &c, 1, 0) == 1 && c == FILL);
		REQUIRE(pmem2_source_delete(&src[i]) == 0);
		close(fd[i]);
	}
	REQUIRE(pmem2_vm_reservation_delete(&rsv) == 0 && rsv == NULL);
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	printf("ok: %d files, %zu bytes, one memset\n", NFILES, total);
	return 0;
}
