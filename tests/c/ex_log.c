/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ex_log.c -- an append-only log in a mapped file: a header with the used
 * size, entries appended with memcpy (one with NOFLUSH pieces and a single
 * persist), then the file reopened and the log read back.
 *
 * "ex_log verify IMAGE" is its crash-consistency checker (pmem2 check
 * --explore): the header's used size is in range and covers exactly a run
 * of non-empty NUL-terminated strings (entries published before they were
 * durable would read as zeros: empty strings).
 */
#include "common.h"

struct log_header {
	uint64_t used;	/* bytes of entries after the header */
};

struct log {
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *map;
	struct log_header *hdr;
	char *data;
	size_t capacity;
	pmem2_persist_fn persist;
	pmem2_memcpy_fn memcpy_fn;
};

static void
log_open(struct log *log, int fd)
{
	REQUIRE(pmem2_source_from_fd(&log->src, fd) == 0);
	REQUIRE(pmem2_config_new(&log->cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(log->cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_map_new(&log->map, log->cfg, log->src) == 0);
	log->hdr = pmem2_map_get_address(log->map);
	log->data = (char *)(log->hdr + 1);
	log->capacity = pmem2_map_get_size(log->map) - sizeof(*log->hdr);
	log->persist = pmem2_get_persist_fn(log->map);
	log->memcpy_fn = pmem2_get_memcpy_fn(log->map);
}

static void
log_close(struct log *log)
{
	REQUIRE(pmem2_map_delete(&log->map) == 0);
	REQUIRE(pmem2_config_delete(&log->cfg) == 0);
	REQUIRE(pmem2_source_delete(&log->src) == 0);
}

/* one entry, made durable by memcpy itself; then the header */
static void
log_append(struct log *log, const char *s)
{
	size_t len = strlen(s) + 1;

	REQUIRE(log->hdr->used + len <= log->capacity);
	log->memcpy_fn(log->data + log->hdr->used, s, len, 0);
	log->hdr->used += len;
	log->persist(&log->hdr->used, sizeof(log->hdr->used));
}

/* several entries copied without flushing, then one persist */
static void
log_appendv(struct log *log, const char **v, int n)
{
	size_t start = log->hdr->used, pos = start;
	int i;

	for (i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		REQUIRE(pos + len <= log->capacity);
		log->memcpy_fn(log->data + pos, v[i], len, PMEM2_F_MEM_NOFLUSH);
		pos += len;
	}
	log->persist(log->data + start, pos - start);
	log->hdr->used = pos;
	log->persist(&log->hdr->used, sizeof(log->hdr->used));
}

static int
verify(const char *path)
{
	size_t len, used, pos = 0;
	unsigned char *img = read_image(path, &len);
	const char *data = (const char *)img + sizeof(struct log_header);

	if (len < sizeof(struct log_header))
		return 1;
	img[len] = '\0';	/* read_image leaves room: strings end */
	memcpy(&used, img, sizeof(used));
	if (used > len - sizeof(struct log_header))
		return 1;
	while (pos < used) {
		size_t n = strlen(data + pos);
		if (n == 0)
			return 1;
		pos += n + 1;
	}
	return pos != used;
}

int
main(int argc, char *argv[])
{
	static const char *more[] = { "third", "fourth", "fifth" };
	static const char *expect[] = { "first", "second", "third", "fourth",
		"fifth" };
	struct log log;
	size_t pos = 0;
	int fd, n = 0;

	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc != 2)
		return 2;
	fd = make_file(argv[1], "log", 64 * 1024);
	log_open(&log, fd);
	log_append(&log, "first");
	log_append(&log, "second");
	log_appendv(&log, more, 3);
	log_close(&log);
	close(fd);

	fd = open_file(argv[1], "log", O_RDWR);
	REQUIRE(fd >= 0);
	log_open(&log, fd);
	while (pos < log.hdr->used) {
		REQUIRE(n < 5 && strcmp(log.data + pos, expect[n]) == 0);
		pos += strlen(log.data + pos) + 1;
		n++;
	}
	REQUIRE(n == 5);
	/* rewind */
	log.hdr->used = 0;
	log.persist(&log.hdr->used, sizeof(log.hdr->used));
	log_close(&log);
	close(fd);
	printf("ok: log of %d entries\n", n);
	return 0;
}
