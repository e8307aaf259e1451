/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_basic.c -- the basic pattern: map a file, copy a string in, persist,
 * unmap; then check the file holds it.
 *
 * "ex_basic verify IMAGE" is its crash-consistency checker (pmem2 check
 * --explore): a crash leaves the text wholly or not at all (it fits in one
 * cache line), and nothing else.
 */
#include "common.h"

static const char text[] = "hello, persistent memory";

static int
verify(const char *path)
{
	size_t len;
	unsigned char *img = read_image(path, &len);

	if (len < sizeof(text))
		return 1;
	if (memcmp(img, text, sizeof(text)) != 0 &&
			!all_zero(img, 0, sizeof(text)))
		return 1;
	return !all_zero(img, sizeof(text), len);
}

int
main(int argc, char *argv[])
{
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	pmem2_persist_fn persist;
	char buf[sizeof(text)];
	char *addr;
	int fd;

	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc != 2)
		return 2;
	fd = make_file(argv[1], "basic", 1 << 20);
	if (pmem2_config_new(&cfg)) {
		pmem2_perror("pmem2_config_new");
		return 1;
	}
	if (pmem2_source_from_fd(&src, fd)) {
		pmem2_perror("pmem2_source_from_fd");
		return 1;
	}
	if (pmem2_config_set_required_store_granularity(cfg,
			PMEM2_GRANULARITY_PAGE)) {
		pmem2_perror("pmem2_config_set_required_store_granularity");
		return 1;
	}
	if (pmem2_map_new(&map, cfg, src)) {
		pmem2_perror("pmem2_map_new");
		return 1;
	}
	addr = pmem2_map_get_address(map);
	REQUIRE(pmem2_map_get_size(map) == 1 << 20);
	strcpy(addr, text);
	persist = pmem2_get_persist_fn(map);
	persist(addr, sizeof(text));

	REQUIRE(pmem2_map_delete(&map) == 0 && map == NULL);
	REQUIRE(pmem2_source_delete(&src) == 0 && src == NULL);
	REQUIRE(pmem2_config_delete(&cfg) == 0 && cfg == NULL);
	REQUIRE(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	REQUIRE(memcmp(buf, text, sizeof(text)) == 0);
	close(fd);
	printf("ok: basic\n");
	return 0;
}
