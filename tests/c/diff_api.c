/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diff_api.c -- differential test of sources, maps, persistence functions,
 * map_from_existing, reservations, bad blocks and mcsafe I/O, with valid
 * and invalid arguments. Only inputs on which PMDK's library does not
 * crash are used (NULL handling beyond PMDK's is in ours_nullsafe.c).
 *
 * usage: diff_api <scratch-dir>
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>

#include "common.h"

#define MiB ((size_t)1 << 20)
#define FILE_SIZE (4 * MiB)

static const char *dir;
static char label[256];

#define L(...) (snprintf(label, sizeof(label), __VA_ARGS__), label)

/* source_from_fd on one kind of descriptor, then size/alignment/get_fd */
static void
source_probe(const char *what, int fd)
{
	/* `what` is never `label`: callers pass literals */
	struct pmem2_source *src = (struct pmem2_source *)&src;
	size_t size = 0, align = 0;
	int got = -2;

	if (CALL(L("source_from_fd(%s)", what),
			pmem2_source_from_fd(&src, fd)) != 0) {
		printf("source_from_fd(%s) src: %s\n", what,
			src == NULL ? "NULL" : "set");
		return;
	}
	if (CALL(L("source_size(%s)", what), pmem2_source_size(src, &size)) == 0)
		printf("source_size(%s) value: %zu\n", what, size);
	if (CALL(L("source_alignment(%s)", what),
			pmem2_source_alignment(src, &align)) == 0)
		printf("source_alignment(%s) value: %zu\n", what, align);
	if (CALL(L("source_get_fd(%s)", what), pmem2_source_get_fd(src, &got)) == 0)
		printf("source_get_fd(%s) same: %s\n", what, got == fd ? "yes" : "no");
	CALL(L("source_delete(%s)", what), pmem2_source_delete(&src));
}

static void
sources(void)
{
	int rw = make_file(dir, "rw", FILE_SIZE);
	int ro = open_file(dir, "rw", O_RDONLY);
	int wo = open_file(dir, "rw", O_WRONLY);
	int path = open_file(dir, "rw", O_PATH);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	int null = open("/dev/null", O_RDWR);
	int closed = make_file(dir, "closed", 4096);
	int pipefd[2], sock[2];
	struct pmem2_source *src = NULL;
	size_t sizes[] = { 0, 1, 4096, 3 * MiB + 5 };
	size_t i;
	int fd = 5;

	REQUIRE(pipe(pipefd) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sock) == 0);
	close(closed);

	source_probe("rdwr", rw);
	source_probe("rdonly", ro);
	source_probe("wronly", wo);
	source_probe("o_path", path);
	source_probe("directory", dfd);
	source_probe("closed", closed);
	source_probe("-5", -5);
	source_probe("/dev/null", null);
	source_probe("pipe", pipefd[0]);
	source_probe("socket", sock[0]);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = 0, align = 0;
		CALL(L("source_from_anon(%zu)", sizes[i]),
			pmem2_source_from_anon(&src, sizes[i]));
		if (CALL(L("anon(%zu) size", sizes[i]),
				pmem2_source_size(src, &size)) == 0)
			printf("anon(%zu) size value: %zu\n", sizes[i], size);
		if (CALL(L("anon(%zu) alignment", sizes[i]),
				pmem2_source_alignment(src, &align)) == 0)
			printf("anon(%zu) alignment value: %zu\n", sizes[i], align);
		CALL(L("anon(%zu) get_fd", sizes[i]), pmem2_source_get_fd(src, &fd));
		printf("anon(%zu) get_fd untouched: %s\n", sizes[i],
			fd == 5 ? "yes" : "no");
		CALL(L("anon(%zu) delete", sizes[i]), pmem2_source_delete(&src));
	}
	CALL("source_delete(&NULL)", pmem2_source_delete(&src));

	/* the source re-reads the file's size */
	CALL("source_from_fd(rdwr again)", pmem2_source_from_fd(&src, rw));
	REQUIRE(ftruncate(rw, 2 * MiB) == 0);
	{
		size_t size = 0;
		CALL("source_size(after truncate)", pmem2_source_size(src, &size));
		printf("source_size(after truncate) value: %zu\n", size);
	}
	REQUIRE(ftruncate(rw, FILE_SIZE) == 0);
	CALL("source_delete(rdwr again)", pmem2_source_delete(&src));

	close(rw); close(ro); close(wo); close(path); close(dfd); close(null);
	close(pipefd[0]); close(pipefd[1]); close(sock[0]); close(sock[1]);
}

/* map_new with one config; prints the outcome and deletes the map */
static void
try_map(const char *what_arg, struct pmem2_config *cfg,
	struct pmem2_source *src)
{
	struct pmem2_map *map = (struct pmem2_map *)&map;
	char what[128];

	snprintf(what, sizeof(what), "%s", what_arg);

	if (CALL(L("map_new(%s)", what), pmem2_map_new(&map, cfg, src)) != 0) {
		printf("map_new(%s) map: %s\n", what, map == NULL ? "NULL" : "set");
		return;
	}
	printf("map_new(%s) size: %zu granularity: %d\n", what,
		pmem2_map_get_size(map), (int)pmem2_map_get_store_granularity(map));
	CALL(L("map_delete(%s)", what), pmem2_map_delete(&map));
	printf("map_delete(%s) map: %s\n", what, map == NULL ? "NULL" : "set");
}

static void
maps(void)
{
	int rw = make_file(dir, "map", FILE_SIZE);
	int ro = open_file(dir, "map", O_RDONLY);
	int small = make_file(dir, "small", 100);
	int empty = make_file(dir, "empty", 0);
	int path = open_file(dir, "map", O_PATH);
	int late = make_file(dir, "late", FILE_SIZE);
	struct pmem2_source *src, *src_ro, *src_small, *src_empty, *src_anon,
		*src_path, *src_late;
	struct pmem2_config *cfg;
	static const size_t offsets[] = {
		0, 1, 4095, 4096, FILE_SIZE - 4096, FILE_SIZE, FILE_SIZE + 4096,
		(size_t)1 << 62,
	};
	static const size_t lengths[] = {
		0, 1, 4096, 2 * MiB, FILE_SIZE, FILE_SIZE + 4096,
		SIZE_MAX & ~(size_t)4095,
	};
	static const unsigned prots[] = {
		PMEM2_PROT_NONE, PMEM2_PROT_READ, PMEM2_PROT_WRITE,
		PMEM2_PROT_READ | PMEM2_PROT_WRITE,
		PMEM2_PROT_READ | PMEM2_PROT_EXEC,
	};
	size_t i, j;
	int g, sharing;

	REQUIRE(pmem2_source_from_fd(&src, rw) == 0);
	REQUIRE(pmem2_source_from_fd(&src_ro, ro) == 0);
	REQUIRE(pmem2_source_from_fd(&src_small, small) == 0);
	REQUIRE(pmem2_source_from_fd(&src_empty, empty) == 0);
	REQUIRE(pmem2_source_from_anon(&src_anon, 2 * MiB) == 0);
	REQUIRE(pmem2_source_from_fd(&src_path, path) == 0);
	REQUIRE(pmem2_source_from_fd(&src_late, late) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);

	try_map("granularity unset", cfg, src);
	try_map("anon granularity unset", cfg, src_anon);

	for (sharing = 0; sharing <= 1; sharing++) {
		REQUIRE(pmem2_config_set_sharing(cfg,
			(enum pmem2_sharing_type)sharing) == 0);
		for (g = 0; g <= 2; g++) {
			REQUIRE(pmem2_config_set_required_store_granularity(cfg,
				(enum pmem2_granularity)g) == 0);
			try_map(L("sharing %d gran %d", sharing, g), cfg, src);
			try_map(L("anon sharing %d gran %d", sharing, g), cfg,
				src_anon);
		}
	}
	REQUIRE(pmem2_config_set_sharing(cfg, PMEM2_SHARED) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);

	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		for (j = 0; j < sizeof(lengths) / sizeof(lengths[0]); j++) {
			if (pmem2_config_set_offset(cfg, offsets[i]) != 0)
				continue;
			pmem2_config_set_length(cfg, lengths[j]);
			try_map(L("offset %zu length %zu", offsets[i], lengths[j]),
				cfg, src);
		}
	}
	/* the anonymous source checks the offset, then ignores it */
	for (i = 0; i < 5; i++) {
		pmem2_config_set_offset(cfg, offsets[i]);
		pmem2_config_set_length(cfg, 0);
		try_map(L("anon offset %zu", offsets[i]), cfg, src_anon);
	}
	pmem2_config_set_offset(cfg, 0);
	pmem2_config_set_length(cfg, 4 * MiB);
	try_map("anon length past end", cfg, src_anon);
	pmem2_config_set_length(cfg, 0);

	for (i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		REQUIRE(pmem2_config_set_protection(cfg, prots[i]) == 0);
		for (sharing = 0; sharing <= 1; sharing++) {
			pmem2_config_set_sharing(cfg,
				(enum pmem2_sharing_type)sharing);
			try_map(L("rdwr prot %#x sharing %d", prots[i], sharing),
				cfg, src);
			try_map(L("rdonly prot %#x sharing %d", prots[i],
				sharing), cfg, src_ro);
		}
	}
	pmem2_config_set_protection(cfg, PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	pmem2_config_set_sharing(cfg, PMEM2_SHARED);

	try_map("small file whole", cfg, src_small);
	pmem2_config_set_length(cfg, 4096);
	try_map("small file rounded length", cfg, src_small);
	pmem2_config_set_length(cfg, 0);
	try_map("empty file", cfg, src_empty);
	try_map("o_path", cfg, src_path);

	/* the descriptor closed after the source was made */
	close(late);
	try_map("closed fd", cfg, src_late);
	{
		size_t size = 0;
		int got = -1, numa = 0;
		uint64_t usc = 0;
		char b[16];
		struct pmem2_badblock_context *bbctx = NULL;

		CALL("source_size(closed fd)", pmem2_source_size(src_late, &size));
		CALL("source_alignment(closed fd)",
			pmem2_source_alignment(src_late, &size));
		CALL("source_get_fd(closed fd)", pmem2_source_get_fd(src_late, &got));
		CALL("pread_mcsafe(closed fd)",
			pmem2_source_pread_mcsafe(src_late, b, sizeof(b), 0));
		CALL("pwrite_mcsafe(closed fd)",
			pmem2_source_pwrite_mcsafe(src_late, b, sizeof(b), 0));
		CALL("device_usc(closed fd)", pmem2_source_device_usc(src_late, &usc));
		CALL("numa_node(closed fd)", pmem2_source_numa_node(src_late, &numa));
		if (CALL("badblock_context_new(closed fd)",
				pmem2_badblock_context_new(&bbctx, src_late)) == 0)
			pmem2_badblock_context_delete(&bbctx);
	}

	pmem2_source_delete(&src);
	pmem2_source_delete(&src_ro);
	pmem2_source_delete(&src_small);
	pmem2_source_delete(&src_empty);
	pmem2_source_delete(&src_anon);
	pmem2_source_delete(&src_path);
	pmem2_source_delete(&src_late);
	pmem2_config_delete(&cfg);
	close(rw); close(ro); close(small); close(empty); close(path);
}

/* function pointers, content written through them, deep flush */
static void
functions(void)
{
	int fd = make_file(dir, "fn", FILE_SIZE);
	int fd2 = make_file(dir, "fn2", FILE_SIZE);
	struct pmem2_source *src, *src2, *anon;
	struct pmem2_config *cfg;
	struct pmem2_map *a, *b, *c;
	char *addr, buf[64];

	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_source_from_fd(&src2, fd2) == 0);
	REQUIRE(pmem2_source_from_anon(&anon, 2 * MiB) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_map_new(&a, cfg, src) == 0);
	REQUIRE(pmem2_map_new(&b, cfg, src2) == 0);
	REQUIRE(pmem2_map_new(&c, cfg, anon) == 0);

	printf("equal granularity, same persist_fn: %s\n",
		pmem2_get_persist_fn(a) == pmem2_get_persist_fn(b) ? "yes" : "no");
	printf("equal granularity, same flush_fn: %s\n",
		pmem2_get_flush_fn(a) == pmem2_get_flush_fn(b) ? "yes" : "no");
	printf("equal granularity, same drain_fn: %s\n",
		pmem2_get_drain_fn(a) == pmem2_get_drain_fn(b) ? "yes" : "no");
	printf("equal granularity, same memmove_fn: %s\n",
		pmem2_get_memmove_fn(a) == pmem2_get_memmove_fn(b) ? "yes" : "no");
	printf("equal granularity, same memcpy_fn: %s\n",
		pmem2_get_memcpy_fn(a) == pmem2_get_memcpy_fn(b) ? "yes" : "no");
	printf("equal granularity, same memset_fn: %s\n",
		pmem2_get_memset_fn(a) == pmem2_get_memset_fn(b) ? "yes" : "no");
	printf("page vs byte, different persist_fn: %s\n",
		pmem2_get_persist_fn(a) != pmem2_get_persist_fn(c) ? "yes" : "no");
	printf("address aligned to 2 MiB: %s\n",
		((uintptr_t)pmem2_map_get_address(a) % (2 * MiB)) == 0 ? "yes" : "no");

	addr = pmem2_map_get_address(a);
	pmem2_get_memset_fn(a)(addr, 'x', 4096, 0);
	pmem2_get_memcpy_fn(a)(addr + 100, "hello", 5, PMEM2_F_MEM_NONTEMPORAL);
	pmem2_get_memmove_fn(a)(addr + 102, addr + 100, 5, PMEM2_F_MEM_NODRAIN);
	pmem2_get_drain_fn(a)();
	memcpy(addr + 200, "world", 5);
	pmem2_get_persist_fn(a)(addr + 200, 5);
	pmem2_get_flush_fn(a)(addr, 4096);
	pmem2_get_drain_fn(a)();
	REQUIRE(pread(fd, buf, sizeof(buf), 96) == (ssize_t)sizeof(buf));
	printf("file content after mem functions: %.16s\n", buf);
	REQUIRE(pread(fd, buf, 5, 200) == 5);
	printf("file content after persist: %.5s\n", buf);

	CALL("deep_flush(whole map)", pmem2_deep_flush(a, addr, FILE_SIZE));
	CALL("deep_flush(inside)", pmem2_deep_flush(a, addr + 4096, 100));
	CALL("deep_flush(past end)", pmem2_deep_flush(a, addr + 4096, FILE_SIZE));
	CALL("deep_flush(before)", pmem2_deep_flush(a, addr - 4096, 100));
	CALL("deep_flush(anon byte)", pmem2_deep_flush(c,
		pmem2_map_get_address(c), 4096));

	/* map_from_existing: over a registered map, then on own memory */
	{
		struct pmem2_map *e = (struct pmem2_map *)&e;
		char *mem = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED, fd2, 0);
		REQUIRE(mem != MAP_FAILED);
		CALL("from_existing(over map_new range)",
			pmem2_map_from_existing(&e, src, addr, 4096,
				PMEM2_GRANULARITY_PAGE));
		printf("from_existing(over map_new range) map: %s\n",
			e == NULL ? "NULL" : "set");
		CALL("from_existing(own memory)", pmem2_map_from_existing(&e,
			src2, mem + 4096, 4 * 4096, PMEM2_GRANULARITY_CACHE_LINE));
		printf("from_existing size: %zu granularity: %d same address: %s\n",
			pmem2_map_get_size(e),
			(int)pmem2_map_get_store_granularity(e),
			pmem2_map_get_address(e) == mem + 4096 ? "yes" : "no");
		{
			struct pmem2_map *o = NULL;
			CALL("from_existing(same range)", pmem2_map_from_existing(
				&o, src2, mem + 4096, 4 * 4096, 1));
			CALL("from_existing(overlap bottom)", pmem2_map_from_existing(
				&o, src2, mem, 2 * 4096, 1));
			CALL("from_existing(overlap top)", pmem2_map_from_existing(
				&o, src2, mem + 4 * 4096, 2 * 4096, 1));
			CALL("from_existing(adjacent below)", pmem2_map_from_existing(
				&o, src2, mem, 4096, 1));
			CALL("from_existing(adjacent below) delete",
				pmem2_map_delete(&o));
			CALL("from_existing(unaligned address)",
				pmem2_map_from_existing(&o, src2, mem + 5 * 4096 + 1,
					100, 2));
			CALL("from_existing(unaligned) delete", pmem2_map_delete(&o));
		}
		CALL("from_existing delete", pmem2_map_delete(&e));
		/* a zero-length map occupies nothing (and can't be deleted) */
		{
			struct pmem2_map *z = NULL, *z2 = NULL, *w = NULL;
			struct pmem2_map *o = NULL;
			CALL("from_existing(zero length)", pmem2_map_from_existing(
				&z, src2, mem + 6 * 4096, 0, 1));
			CALL("from_existing(zero length again)",
				pmem2_map_from_existing(&z2, src2, mem + 6 * 4096,
					0, 1));
			CALL("from_existing(at a zero-length map)",
				pmem2_map_from_existing(&w, src2, mem + 6 * 4096,
					4096, 1));
			CALL("from_existing(zero length inside a map)",
				pmem2_map_from_existing(&o, src2,
					mem + 6 * 4096 + 100, 0, 1));
			CALL("from_existing(zero length at a map's end)",
				pmem2_map_from_existing(&o, src2, mem + 7 * 4096,
					0, 1));
			CALL("from_existing(at a zero-length map) delete",
				pmem2_map_delete(&w));
			CALL("from_existing(zero length) delete",
				pmem2_map_delete(&z));
			printf("from_existing(zero length) delete map: %s\n",
				z == NULL ? "NULL" : "set");
		}
		/* not unmapped by the library: still writable */
		mem[4096] = 'k';
		printf("from_existing memory still mapped: %s\n",
			mem[4096] == 'k' ? "yes" : "no");
		munmap(mem, 8 * 4096);
	}

	CALL("map_delete(a)", pmem2_map_delete(&a));
	CALL("map_delete(b)", pmem2_map_delete(&b));
	CALL("map_delete(c)", pmem2_map_delete(&c));
	pmem2_config_delete(&cfg);
	pmem2_source_delete(&src);
	pmem2_source_delete(&src2);
	pmem2_source_delete(&anon);
	close(fd); close(fd2);
}

static void
print_find(const char *what, int rc, struct pmem2_map *found,
	struct pmem2_map **maps, int n)
{
	int i, which = -1;

	for (i = 0; i < n; i++)
		if (maps[i] != NULL && found == maps[i])
			which = i;
	printf("%s: rc=%d msg=%s found=%s%d\n", what, rc,
		rc == 0 ? "-" : (pmem2_errormsg()[0] ? "set" : "EMPTY"),
		found == NULL ? "NULL" : "map", which);
}

/* map_find on a map whose content doesn't fill its last page */
static void
reservation_pad(void)
{
	int fd = make_file(dir, "pad", 10000);
	struct pmem2_source *src = NULL;
	struct pmem2_config *cfg = NULL;
	struct pmem2_vm_reservation *rsv = NULL;
	struct pmem2_map *maps[2] = {NULL, NULL};
	struct pmem2_map *found;
	static const size_t finds[][2] = {
		{9999, 1}, {10000, 1}, {10000, 2288}, {12287, 1}, {9999, 0},
		{10000, 0}, {0, 0}, {12287, 2}, {10000, 4000}, {9999, 4000},
		{12288, 0},
	};
	size_t i;

	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_vm_reservation_new(&rsv, NULL, 16 * 4096) == 0);
	pmem2_config_set_vm_reservation(cfg, rsv, 0);
	CALL("pad: map at 0", pmem2_map_new(&maps[0], cfg, src));
	printf("pad: map size %zu\n", pmem2_map_get_size(maps[0]));
	pmem2_config_set_vm_reservation(cfg, rsv, 3 * 4096);
	CALL("pad: map at 3p", pmem2_map_new(&maps[1], cfg, src));
	for (i = 0; i < sizeof(finds) / sizeof(finds[0]); i++) {
		int rc;
		found = NULL;
		rc = pmem2_vm_reservation_map_find(rsv, finds[i][0],
			finds[i][1], &found);
		print_find(L("pad: map_find(%zu, %zu)", finds[i][0],
			finds[i][1]), rc, found, maps, 2);
	}
	CALL("pad: delete 0", pmem2_map_delete(&maps[0]));
	CALL("pad: delete 1", pmem2_map_delete(&maps[1]));
	CALL("pad: rsv_delete", pmem2_vm_reservation_delete(&rsv));
	pmem2_config_delete(&cfg);
	pmem2_source_delete(&src);
	close(fd);
}

static void
reservations(void)
{
	int fd = make_file(dir, "rsv", 4 * 4096);
	struct pmem2_vm_reservation *rsv = NULL, *rsv2 = NULL;
	struct pmem2_source *src;
	struct pmem2_config *cfg;
	struct pmem2_map *maps[4] = { NULL, NULL, NULL, NULL };
	struct pmem2_map *found;
	char *base;
	int i;

	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);

	CALL("rsv_new(size 0)", pmem2_vm_reservation_new(&rsv, NULL, 0));
	if (rsv != NULL)
		pmem2_vm_reservation_delete(&rsv);
	CALL("rsv_new(size 1)", pmem2_vm_reservation_new(&rsv, NULL, 1));
	printf("rsv_new(size 1) rsv: %s\n", rsv == NULL ? "NULL" : "set");
	if (CALL("rsv_new(fixed page-aligned addr)",
			pmem2_vm_reservation_new(&rsv,
				(void *)(uintptr_t)0x10001000, 4096)) == 0) {
		printf("rsv_new(fixed page-aligned addr) at it: %s\n",
			pmem2_vm_reservation_get_address(rsv) ==
			(void *)(uintptr_t)0x10001000 ? "yes" : "no");
		CALL("rsv_delete(fixed page-aligned addr)",
			pmem2_vm_reservation_delete(&rsv));
	}
	CALL("rsv_new(addr+1)", pmem2_vm_reservation_new(&rsv,
		(void *)(uintptr_t)0x10000001, 4096));
	CALL("rsv_new(16 pages)", pmem2_vm_reservation_new(&rsv, NULL,
		16 * 4096));
	base = pmem2_vm_reservation_get_address(rsv);
	printf("rsv size: %zu aligned to 2 MiB: %s\n",
		pmem2_vm_reservation_get_size(rsv),
		((uintptr_t)base % (2 * MiB)) == 0 ? "yes" : "no");

	/* a second reservation at a fixed, occupied address */
	CALL("rsv_new(over reservation)", pmem2_vm_reservation_new(&rsv2,
		base, 4096));
	printf("rsv_new(over reservation) rsv: %s\n",
		rsv2 == NULL ? "NULL" : "set");

	/* map the 4-page file at pages 0, 4, 8, 12 */
	for (i = 0; i < 4; i++) {
		pmem2_config_set_vm_reservation(cfg, rsv, (size_t)i * 4 * 4096);
		CALL(L("map into rsv at page %d", i * 4),
			pmem2_map_new(&maps[i], cfg, src));
		printf("map %d at reservation offset: %s\n", i,
			(char *)pmem2_map_get_address(maps[i]) ==
			base + (size_t)i * 4 * 4096 ? "yes" : "no");
	}
	{
		struct pmem2_map *m = NULL;
		pmem2_config_set_vm_reservation(cfg, rsv, 2 * 4096);
		CALL("map into rsv overlapping", pmem2_map_new(&m, cfg, src));
		pmem2_config_set_vm_reservation(cfg, rsv, 100);
		CALL("map into rsv unaligned offset", pmem2_map_new(&m, cfg, src));
		pmem2_config_set_vm_reservation(cfg, rsv, 14 * 4096);
		CALL("map into rsv past end", pmem2_map_new(&m, cfg, src));
		pmem2_config_set_vm_reservation(cfg, rsv, 64 * 4096);
		CALL("map into rsv offset beyond size", pmem2_map_new(&m, cfg, src));
		pmem2_config_set_vm_reservation(cfg, NULL, 0);
	}

	/* one memset across the four adjacent maps */
	pmem2_get_memset_fn(maps[0])(base, 'r', 16 * 4096, 0);
	printf("memset across maps: %c%c\n", base[0], base[16 * 4096 - 1]);

	found = NULL;
	i = pmem2_vm_reservation_map_find(rsv, 0, 4096, &found);
	print_find("map_find(0, 4096)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find(rsv, 5 * 4096, 8 * 4096, &found);
	print_find("map_find(5p, 8p)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find(rsv, 16 * 4096, 4096, &found);
	print_find("map_find(past end)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_first(rsv, &found);
	print_find("map_find_first", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_last(rsv, &found);
	print_find("map_find_last", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_next(rsv, maps[1], &found);
	print_find("map_find_next(1)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_next(rsv, maps[3], &found);
	print_find("map_find_next(3)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_prev(rsv, maps[2], &found);
	print_find("map_find_prev(2)", i, found, maps, 4);
	i = pmem2_vm_reservation_map_find_prev(rsv, maps[0], &found);
	print_find("map_find_prev(0)", i, found, maps, 4);

	CALL("rsv_delete(not empty)", pmem2_vm_reservation_delete(&rsv));
	printf("rsv_delete(not empty) rsv: %s\n", rsv == NULL ? "NULL" : "set");
	CALL("rsv_shrink(unaligned offset)",
		pmem2_vm_reservation_shrink(rsv, 1, 4096));
	CALL("rsv_shrink(unaligned size)",
		pmem2_vm_reservation_shrink(rsv, 0, 1));
	CALL("rsv_shrink(offset == size)",
		pmem2_vm_reservation_shrink(rsv, 16 * 4096, 4096));
	CALL("rsv_shrink(size 0)", pmem2_vm_reservation_shrink(rsv, 0, 0));
	CALL("rsv_shrink(past end)",
		pmem2_vm_reservation_shrink(rsv, 15 * 4096, 2 * 4096));
	CALL("rsv_shrink(middle)",
		pmem2_vm_reservation_shrink(rsv, 4 * 4096, 4096));
	CALL("rsv_shrink(whole)",
		pmem2_vm_reservation_shrink(rsv, 0, 16 * 4096));
	CALL("rsv_shrink(occupied end)",
		pmem2_vm_reservation_shrink(rsv, 12 * 4096, 4 * 4096));
	CALL("rsv_extend(unaligned)", pmem2_vm_reservation_extend(rsv, 100));
	CALL("rsv_extend(4 pages)", pmem2_vm_reservation_extend(rsv, 4 * 4096));
	printf("rsv size after extend: %zu\n", pmem2_vm_reservation_get_size(rsv));
	i = pmem2_vm_reservation_map_find(rsv, 16 * 4096, 4 * 4096, &found);
	print_find("map_find(extension)", i, found, maps, 4);
	CALL("rsv_shrink(free end)",
		pmem2_vm_reservation_shrink(rsv, 16 * 4096, 4 * 4096));
	printf("rsv size after shrink: %zu\n", pmem2_vm_reservation_get_size(rsv));

	CALL("map_delete(rsv map 1)", pmem2_map_delete(&maps[1]));
	i = pmem2_vm_reservation_map_find_next(rsv, maps[0], &found);
	print_find("map_find_next(0) after delete", i, found, maps, 4);
	CALL("rsv_shrink(freed start)", pmem2_vm_reservation_shrink(rsv, 0, 4096));
	for (i = 0; i < 4; i++)
		if (maps[i] != NULL)
			CALL(L("map_delete(rsv map %d)", i), pmem2_map_delete(&maps[i]));
	i = pmem2_vm_reservation_map_find_first(rsv, &found);
	print_find("map_find_first(empty)", i, found, maps, 4);
	CALL("rsv_shrink(empty start)",
		pmem2_vm_reservation_shrink(rsv, 0, 4 * 4096));
	printf("rsv after shrink start: size %zu moved %s\n",
		pmem2_vm_reservation_get_size(rsv),
		(char *)pmem2_vm_reservation_get_address(rsv) == base + 4 * 4096 ?
		"yes" : "no");
	CALL("rsv_delete(empty)", pmem2_vm_reservation_delete(&rsv));
	printf("rsv_delete rsv: %s\n", rsv == NULL ? "NULL" : "set");

	/* a reservation at a known-free address */
	/* (PMDK reserves 2 MiB of padding after a fixed address: probe 8 MiB) */
	CALL("rsv_new(probe)", pmem2_vm_reservation_new(&rsv, NULL, 8 * MiB));
	base = pmem2_vm_reservation_get_address(rsv);
	CALL("rsv_delete(probe)", pmem2_vm_reservation_delete(&rsv));
	if (CALL("rsv_new(fixed address)", pmem2_vm_reservation_new(&rsv, base,
			4 * 4096)) == 0) {
		printf("rsv_new(fixed address) at it: %s\n",
			pmem2_vm_reservation_get_address(rsv) == base ?
			"yes" : "no");
		CALL("rsv_delete(fixed)", pmem2_vm_reservation_delete(&rsv));
	}

	pmem2_config_delete(&cfg);
	pmem2_source_delete(&src);
	close(fd);
}

static void
ras(void)
{
	int fd = make_file(dir, "ras", 64 * 1024);
	struct pmem2_source *src, *anon;
	struct pmem2_badblock_context *bbctx = NULL;
	struct pmem2_badblock bb = { 0, 0 };
	char buf[4096], id[256];
	size_t len = sizeof(id);
	uint64_t usc = 0;
	int numa = -7;

	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_source_from_anon(&anon, 64 * 1024) == 0);

	/* PMDK returns NOSUPP for anonymous sources before touching outputs */
	CALL("device_id(anon, NULL)", pmem2_source_device_id(anon, NULL, NULL));
	CALL("device_usc(anon, NULL)", pmem2_source_device_usc(anon, NULL));
	CALL("numa_node(anon, NULL)", pmem2_source_numa_node(anon, NULL));
	CALL("badblock_context_new(anon)",
		pmem2_badblock_context_new(&bbctx, anon));
	printf("badblock_context_new(anon) ctx: %s\n",
		bbctx == NULL ? "NULL" : "set");
	CALL("pread_mcsafe(anon)", pmem2_source_pread_mcsafe(anon, buf, 16, 0));
	CALL("pwrite_mcsafe(anon)", pmem2_source_pwrite_mcsafe(anon, buf, 16, 0));

	/* a plain file on a non-pmem file system */
	id[0] = '\0';
	CALL("device_id(file, NULL)", pmem2_source_device_id(src, NULL, &len));
	CALL("device_usc(file)", pmem2_source_device_usc(src, &usc));
	CALL("numa_node(file)", pmem2_source_numa_node(src, &numa));
	if (CALL("badblock_context_new(file)",
			pmem2_badblock_context_new(&bbctx, src)) == 0) {
		CALL("badblock_next(file)", pmem2_badblock_next(bbctx, &bb));
		CALL("badblock_next(file) again", pmem2_badblock_next(bbctx, &bb));
		bb.offset = 0;
		bb.length = 4096;
		CALL("badblock_clear(file, first page)",
			pmem2_badblock_clear(bbctx, &bb));
		bb.offset = (size_t)INT64_MAX + 1;
		CALL("badblock_clear(file, offset > INT64_MAX)",
			pmem2_badblock_clear(bbctx, &bb));
		bb.offset = 0;
		bb.length = (size_t)INT64_MAX + 1;
		CALL("badblock_clear(file, length > INT64_MAX)",
			pmem2_badblock_clear(bbctx, &bb));
		pmem2_badblock_context_delete(&bbctx);
		printf("badblock_context_delete ctx: %s\n",
			bbctx == NULL ? "NULL" : "set");
	}
	pmem2_badblock_context_delete(&bbctx);

	memset(buf, 'w', sizeof(buf));
	CALL("pwrite_mcsafe(file)", pmem2_source_pwrite_mcsafe(src, buf, 4096,
		8192));
	memset(buf, 0, sizeof(buf));
	CALL("pread_mcsafe(file)", pmem2_source_pread_mcsafe(src, buf, 4096,
		8192));
	printf("pread_mcsafe content: %c%c\n", buf[0], buf[4095]);
	CALL("pread_mcsafe(file, to the end)", pmem2_source_pread_mcsafe(src,
		buf, 4096, 60 * 1024));
	CALL("pread_mcsafe(file, past end)", pmem2_source_pread_mcsafe(src,
		buf, 4096, 62 * 1024));
	CALL("pwrite_mcsafe(file, past end)", pmem2_source_pwrite_mcsafe(src,
		buf, 4096, 62 * 1024));
	CALL("pread_mcsafe(file, size 0)", pmem2_source_pread_mcsafe(src,
		buf, 0, 0));
	CALL("pread_mcsafe(file, NULL buf)", pmem2_source_pread_mcsafe(src,
		NULL, 16, 0));
	CALL("pwrite_mcsafe(file, NULL buf)", pmem2_source_pwrite_mcsafe(src,
		NULL, 16, 0));
	CALL("pread_mcsafe(file, NULL buf, size 0)",
		pmem2_source_pread_mcsafe(src, NULL, 0, 0));

	pmem2_source_delete(&src);
	pmem2_source_delete(&anon);
	close(fd);
}

int
main(int argc, char *argv[])
{
	struct pmem2_source *src = (struct pmem2_source *)&src;

	if (argc != 2) {
		fprintf(stderr, "usage: %s scratch-dir\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* first, with no earlier error on this thread */
	CALL("first error: source_from_fd(-1)", pmem2_source_from_fd(&src, -1));

	sources();
	maps();
	functions();
	reservations();
	reservation_pad();
	ras();
	return 0;
}
