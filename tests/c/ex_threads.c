/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_threads.c -- several threads at once: each maps its own file into its
 * own slot of one shared reservation, writes through the map's memcpy,
 * finds its map through the reservation, and sees only its own error
 * messages (pmem2_errormsg is per thread).
 *
 * "ex_threads verify IMAGE" is its crash-consistency checker (pmem2 check
 * --explore; IMAGE is one thread's map): the first bytes are zeros or a
 * round's record "t<ID> r<ROUND>" (written by one memcpy that is durable on
 * return, in one cache line), the rest zeros.
 */
#include <pthread.h>

#include "common.h"

#define NTHREADS 4
#define SLOT (64 * 1024)
#define ROUNDS 50
#define RECORD 32

static int
verify(const char *path)
{
	size_t len;
	unsigned char *img = read_image(path, &len);
	int id, round, end = 0;

	if (len < RECORD || !all_zero(img, RECORD, len))
		return 1;
	if (all_zero(img, 0, RECORD))
		return 0;
	img[RECORD - 1] = '\0';	/* snprintf's bytes past the NUL are junk */
	if (sscanf((const char *)img, "t%d r%d%n", &id, &round, &end) != 2)
		return 1;
	return !(img[end] == '\0' && id >= 0 && id < NTHREADS &&
		round >= 0 && round < ROUNDS);
}

static const char *dir;
static struct pmem2_vm_reservation *rsv;
static pthread_barrier_t barrier;

static void *
worker(void *arg)
{
	int id = (int)(intptr_t)arg, round;
	char name[32], expect[64], buf[RECORD];
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	int fd;

	snprintf(name, sizeof(name), "thread%d", id);
	fd = make_file(dir, name, SLOT);
	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_config_set_vm_reservation(cfg, rsv,
		(size_t)id * SLOT) == 0);

	for (round = 0; round < ROUNDS; round++) {
		struct pmem2_map *map = NULL, *found = NULL;

		REQUIRE(pmem2_map_new(&map, cfg, src) == 0);
		REQUIRE(pmem2_vm_reservation_map_find(rsv, (size_t)id * SLOT,
			1, &found) == 0);
		REQUIRE(found == map);
		snprintf(buf, sizeof(buf), "t%d r%d", id, round);
		pmem2_get_memcpy_fn(map)(pmem2_map_get_address(map), buf,
			sizeof(buf), 0);

		/* an error of this thread only */
		REQUIRE(pmem2_config_set_required_store_granularity(cfg,
			(enum pmem2_granularity)(10 + id)) ==
			PMEM2_E_GRANULARITY_NOT_SUPPORTED);
		pthread_barrier_wait(&barrier);
		snprintf(expect, sizeof(expect), "%d", 10 + id);
		REQUIRE(strstr(pmem2_errormsg(), expect) != NULL);
		pthread_barrier_wait(&barrier);

		REQUIRE(pmem2_map_delete(&map) == 0);
		REQUIRE(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
		snprintf(expect, sizeof(expect), "t%d r%d", id, round);
		REQUIRE(strcmp(buf, expect) == 0);
	}
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	REQUIRE(pmem2_source_delete(&src) == 0);
	close(fd);
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t t[NTHREADS];
	int i;

	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc != 2)
		return 2;
	dir = argv[1];
	REQUIRE(pmem2_vm_reservation_new(&rsv, NULL, NTHREADS * SLOT) == 0);
	REQUIRE(pthread_barrier_init(&barrier, NULL, NTHREADS) == 0);
	for (i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, worker,
			(void *)(intptr_t)i) == 0);
	for (i = 0; i < NTHREADS; i++)
		REQUIRE(pthread_join(t[i], NULL) == 0);
	REQUIRE(pmem2_vm_reservation_delete(&rsv) == 0);
	pthread_barrier_destroy(&barrier);
	printf("ok: %d threads x %d rounds\n", NTHREADS, ROUNDS);
	return 0;
}
