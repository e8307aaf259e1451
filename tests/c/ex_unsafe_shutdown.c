/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_unsafe_shutdown.c -- a pool header recording the device's id and
 * unsafe shutdown count, written with deep flush; on a second open the
 * values are compared. Devices without the information report NOSUPP,
 * which the program prints and tolerates.
 *
 * "ex_unsafe_shutdown verify IMAGE" is its crash-consistency checker (pmem2
 * check --explore): a header marked valid holds its data; an invalid one is
 * a pool being created (valid is 0 or 1, nothing else).
 */
#include "common.h"

struct pool_hdr {
	char id[256];
	uint64_t usc;
	uint64_t valid;
	char data[64];
};

static const char pool_data[] = "pool data";

static int
verify(const char *path)
{
	size_t len;
	unsigned char *img = read_image(path, &len);
	struct pool_hdr hdr;

	if (len < sizeof(hdr))
		return 1;
	memcpy(&hdr, img, sizeof(hdr));
	if (hdr.valid == 0)
		return 0;
	return !(hdr.valid == 1 && strcmp(hdr.data, pool_data) == 0 &&
		memchr(hdr.id, '\0', sizeof(hdr.id)) != NULL);
}

/* fills id/usc; 0 on success, 1 when the platform can't tell */
static int
device_info(struct pmem2_source *src, char *id, size_t idlen, uint64_t *usc)
{
	size_t len = 0;
	int ret;

	ret = pmem2_source_device_id(src, NULL, &len);
	if (ret == PMEM2_E_NOSUPP) {
		printf("device id: not supported (%s)\n", pmem2_errormsg());
		return 1;
	}
	REQUIRE(ret == 0 && len <= idlen);
	id[0] = '\0';
	REQUIRE(pmem2_source_device_id(src, id, &len) == 0);
	ret = pmem2_source_device_usc(src, usc);
	if (ret == PMEM2_E_NOSUPP) {
		printf("usc: not supported (%s)\n", pmem2_errormsg());
		return 1;
	}
	REQUIRE(ret == 0);
	return 0;
}

static void
pool_open(const char *dir, int create)
{
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	struct pool_hdr *hdr, now;
	int fd, known;

	fd = create ? make_file(dir, "pool", 64 * 1024) :
		open_file(dir, "pool", O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_map_new(&map, cfg, src) == 0);
	hdr = pmem2_map_get_address(map);
	memset(&now, 0, sizeof(now));
	known = device_info(src, now.id, sizeof(now.id), &now.usc) == 0;

	if (create) {
		memcpy(hdr->id, now.id, sizeof(now.id));
		hdr->usc = now.usc;
		strcpy(hdr->data, pool_data);
		pmem2_get_persist_fn(map)(hdr, sizeof(*hdr));
		hdr->valid = 1;
		/* persist first: a deep flush of a PAGE-granularity map adds
		 * nothing to what persist did (found by pmem2 check) */
		pmem2_get_persist_fn(map)(&hdr->valid, sizeof(hdr->valid));
		REQUIRE(pmem2_deep_flush(map, hdr, sizeof(*hdr)) == 0);
	} else {
		REQUIRE(hdr->valid == 1);
		REQUIRE(strcmp(hdr->data, pool_data) == 0);
		if (known && (strcmp(hdr->id, now.id) != 0 ||
				hdr->usc != now.usc))
			printf("unsafe shutdown detected\n");
		else
			printf("pool consistent\n");
	}
	REQUIRE(pmem2_map_delete(&map) == 0);
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	REQUIRE(pmem2_source_delete(&src) == 0);
	close(fd);
}

int
main(int argc, char *argv[])
{
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc != 2)
		return 2;
	pool_open(argv[1], 1);
	pool_open(argv[1], 0);
	printf("ok: unsafe shutdown check\n");
	return 0;
}
