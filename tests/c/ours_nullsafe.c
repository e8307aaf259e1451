/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ours_nullsafe.c -- inputs on which PMDK crashes or misbehaves (NULL
 * handles and outputs, out-of-range granularity, wrapping ranges): pmem2
 * returns an error with a message instead (docs/c-abi.md). Run against
 * our library only.
 */
#include <sys/mman.h>

#include "common.h"

static int failures;

static void
expect(const char *label, int rc, int want)
{
	const char *msg = pmem2_errormsg();
	int ok = rc == want && (want == 0 || (msg != NULL && msg[0] != '\0'));

	printf("%s %s: rc=%d want=%d msg=\"%s\"\n", ok ? "ok  " : "FAIL",
		label, rc, want, rc == 0 ? "" : msg);
	if (!ok)
		failures++;
}

static void
expect_null(const char *label, const void *p)
{
	int ok = p == NULL && pmem2_errormsg()[0] != '\0';

	printf("%s %s: %s msg=\"%s\"\n", ok ? "ok  " : "FAIL", label,
		p == NULL ? "NULL" : "non-NULL", pmem2_errormsg());
	if (!ok)
		failures++;
}

/* any error with a message (which one depends on the platform) */
static void
expect_error(const char *label, int rc)
{
	const char *msg = pmem2_errormsg();
	int ok = rc != 0 && msg != NULL && msg[0] != '\0';

	printf("%s %s: rc=%d msg=\"%s\"\n", ok ? "ok  " : "FAIL", label, rc,
		msg);
	if (!ok)
		failures++;
}

#define EINVAL_ (-EINVAL)

int
main(int argc, char *argv[])
{
	struct pmem2_config *cfg = NULL;
	struct pmem2_source *src = NULL, *anon = NULL;
	struct pmem2_map *map = NULL, *m = NULL;
	struct pmem2_vm_reservation *rsv = NULL;
	struct pmem2_badblock_context *bbctx = NULL;
	struct pmem2_badblock bb = { 0, 4096 };
	size_t size;
	uint64_t usc;
	char buf[64], *mem;
	int fd, n;

	if (argc != 2)
		return 2;
	fd = make_file(argv[1], "nullsafe", 1 << 20);
	REQUIRE(pmem2_config_new(&cfg) == 0);
	REQUIRE(pmem2_config_set_required_store_granularity(cfg,
		PMEM2_GRANULARITY_PAGE) == 0);
	REQUIRE(pmem2_source_from_fd(&src, fd) == 0);
	REQUIRE(pmem2_source_from_anon(&anon, 1 << 20) == 0);
	REQUIRE(pmem2_map_new(&map, cfg, src) == 0);

	/* config */
	expect("config_new(NULL)", pmem2_config_new(NULL), EINVAL_);
	expect("config_delete(NULL)", pmem2_config_delete(NULL), EINVAL_);
	expect("config_set_required_store_granularity(NULL)",
		pmem2_config_set_required_store_granularity(NULL,
			PMEM2_GRANULARITY_PAGE), EINVAL_);
	expect("config_set_offset(NULL)", pmem2_config_set_offset(NULL, 0),
		EINVAL_);
	expect("config_set_length(NULL)", pmem2_config_set_length(NULL, 0),
		EINVAL_);
	expect("config_set_sharing(NULL)",
		pmem2_config_set_sharing(NULL, PMEM2_SHARED), EINVAL_);
	expect("config_set_protection(NULL)",
		pmem2_config_set_protection(NULL, PMEM2_PROT_READ), EINVAL_);
	expect("config_set_vm_reservation(NULL)",
		pmem2_config_set_vm_reservation(NULL, NULL, 0), EINVAL_);

	/* source */
	expect("source_from_fd(NULL)", pmem2_source_from_fd(NULL, fd), EINVAL_);
	expect("source_from_anon(NULL)", pmem2_source_from_anon(NULL, 4096),
		EINVAL_);
	expect("source_get_fd(NULL src)", pmem2_source_get_fd(NULL, &n), EINVAL_);
	expect("source_get_fd(NULL out)", pmem2_source_get_fd(src, NULL), EINVAL_);
	expect("source_size(NULL src)", pmem2_source_size(NULL, &size), EINVAL_);
	expect("source_size(NULL out)", pmem2_source_size(src, NULL), EINVAL_);
	expect("source_alignment(NULL src)", pmem2_source_alignment(NULL, &size),
		EINVAL_);
	expect("source_alignment(NULL out)", pmem2_source_alignment(src, NULL),
		EINVAL_);
	expect("source_delete(NULL)", pmem2_source_delete(NULL), EINVAL_);

	/* map */
	expect("map_new(NULL out)", pmem2_map_new(NULL, cfg, src), EINVAL_);
	expect("map_new(NULL cfg)", pmem2_map_new(&m, NULL, src), EINVAL_);
	expect("map_new(NULL src)", pmem2_map_new(&m, cfg, NULL), EINVAL_);
	expect("map_delete(NULL)", pmem2_map_delete(NULL), EINVAL_);
	m = NULL;
	expect("map_delete(&NULL) is a no-op", pmem2_map_delete(&m), 0);
	expect_null("map_get_address(NULL)", pmem2_map_get_address(NULL));
	expect("map_get_size(NULL)", (int)pmem2_map_get_size(NULL), 0);
	expect("map_get_store_granularity(NULL) is PAGE",
		(int)pmem2_map_get_store_granularity(NULL), PMEM2_GRANULARITY_PAGE);
	expect_null("get_persist_fn(NULL)", (void *)pmem2_get_persist_fn(NULL));
	expect_null("get_flush_fn(NULL)", (void *)pmem2_get_flush_fn(NULL));
	expect_null("get_drain_fn(NULL)", (void *)pmem2_get_drain_fn(NULL));
	expect_null("get_memmove_fn(NULL)", (void *)pmem2_get_memmove_fn(NULL));
	expect_null("get_memcpy_fn(NULL)", (void *)pmem2_get_memcpy_fn(NULL));
	expect_null("get_memset_fn(NULL)", (void *)pmem2_get_memset_fn(NULL));

	/* map_from_existing */
	mem = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(mem != MAP_FAILED);
	expect("from_existing(NULL out)", pmem2_map_from_existing(NULL, anon,
		mem, 4096, PMEM2_GRANULARITY_BYTE), EINVAL_);
	expect("from_existing(NULL src)", pmem2_map_from_existing(&m, NULL,
		mem, 4096, PMEM2_GRANULARITY_BYTE), EINVAL_);
	expect("from_existing(granularity 3)", pmem2_map_from_existing(&m, anon,
		mem, 4096, (enum pmem2_granularity)3),
		PMEM2_E_GRANULARITY_NOT_SUPPORTED);
	expect("from_existing(granularity -1)", pmem2_map_from_existing(&m,
		anon, mem, 4096, (enum pmem2_granularity)-1),
		PMEM2_E_GRANULARITY_NOT_SUPPORTED);
	expect("from_existing(NULL address)", pmem2_map_from_existing(&m, anon,
		NULL, 4096, PMEM2_GRANULARITY_BYTE), PMEM2_E_ADDRESS_NULL);
	expect("from_existing(address + length wraps)",
		pmem2_map_from_existing(&m, anon, mem, SIZE_MAX,
			PMEM2_GRANULARITY_BYTE), PMEM2_E_LENGTH_OUT_OF_RANGE);
	munmap(mem, 4 * 4096);

	/* reservations */
	expect("vm_reservation_new(NULL out)",
		pmem2_vm_reservation_new(NULL, NULL, 4096), EINVAL_);
	expect("vm_reservation_delete(NULL)", pmem2_vm_reservation_delete(NULL),
		EINVAL_);
	rsv = NULL;
	expect("vm_reservation_delete(&NULL) is a no-op",
		pmem2_vm_reservation_delete(&rsv), 0);
	expect_null("vm_reservation_get_address(NULL)",
		pmem2_vm_reservation_get_address(NULL));
	expect("vm_reservation_get_size(NULL)",
		(int)pmem2_vm_reservation_get_size(NULL), 0);
	expect("vm_reservation_extend(NULL)",
		pmem2_vm_reservation_extend(NULL, 4096), EINVAL_);
	expect("vm_reservation_shrink(NULL)",
		pmem2_vm_reservation_shrink(NULL, 0, 4096), EINVAL_);
	REQUIRE(pmem2_vm_reservation_new(&rsv, NULL, 16 * 4096) == 0);
	expect("vm_reservation_map_find(NULL rsv)",
		pmem2_vm_reservation_map_find(NULL, 0, 4096, &m), EINVAL_);
	expect("vm_reservation_map_find(NULL out)",
		pmem2_vm_reservation_map_find(rsv, 0, 4096, NULL), EINVAL_);
	expect("vm_reservation_map_find_first(NULL out)",
		pmem2_vm_reservation_map_find_first(rsv, NULL), EINVAL_);
	expect("vm_reservation_map_find_last(NULL rsv)",
		pmem2_vm_reservation_map_find_last(NULL, &m), EINVAL_);
	expect("vm_reservation_map_find_next(NULL map)",
		pmem2_vm_reservation_map_find_next(rsv, NULL, &m), EINVAL_);
	expect("vm_reservation_map_find_prev(NULL out)",
		pmem2_vm_reservation_map_find_prev(rsv, map, NULL), EINVAL_);
	/* reservation offset + length wrapping around */
	REQUIRE(pmem2_config_set_vm_reservation(cfg, rsv,
		SIZE_MAX & ~(size_t)4095) == 0);
	expect("map_new(reservation offset + length wraps)",
		pmem2_map_new(&m, cfg, src), PMEM2_E_LENGTH_OUT_OF_RANGE);
	REQUIRE(pmem2_config_set_vm_reservation(cfg, NULL, 0) == 0);
	REQUIRE(pmem2_vm_reservation_delete(&rsv) == 0);

	/* RAS */
	expect("deep_flush(NULL map)", pmem2_deep_flush(NULL, buf, 1), EINVAL_);
	expect("deep_flush(ptr + size wraps)", pmem2_deep_flush(map,
		pmem2_map_get_address(map), SIZE_MAX), PMEM2_E_DEEP_FLUSH_RANGE);
	expect("source_device_id(NULL src)",
		pmem2_source_device_id(NULL, NULL, &size), EINVAL_);
	/* NOSUPP without NVDIMMs (checked first, as PMDK does), else -EINVAL */
	expect_error("source_device_id(NULL len)",
		pmem2_source_device_id(src, buf, NULL));
	expect("source_device_usc(NULL src)",
		pmem2_source_device_usc(NULL, &usc), EINVAL_);
	expect("source_numa_node(NULL src)",
		pmem2_source_numa_node(NULL, &n), EINVAL_);
	expect("badblock_context_new(NULL out)",
		pmem2_badblock_context_new(NULL, src), EINVAL_);
	expect("badblock_context_new(NULL src)",
		pmem2_badblock_context_new(&bbctx, NULL), EINVAL_);
	expect("badblock_next(NULL ctx)", pmem2_badblock_next(NULL, &bb),
		EINVAL_);
	expect("badblock_clear(NULL ctx)", pmem2_badblock_clear(NULL, &bb),
		EINVAL_);
	pmem2_badblock_context_delete(NULL);
	bbctx = NULL;
	pmem2_badblock_context_delete(&bbctx);
	expect("source_pread_mcsafe(NULL src)",
		pmem2_source_pread_mcsafe(NULL, buf, 1, 0), EINVAL_);
	expect("source_pread_mcsafe(NULL buf)",
		pmem2_source_pread_mcsafe(src, NULL, 1, 0), -EFAULT);
	expect("source_pwrite_mcsafe(NULL buf)",
		pmem2_source_pwrite_mcsafe(src, NULL, 1, 0), -EFAULT);
	expect("source_pread_mcsafe(offset past the end)",
		pmem2_source_pread_mcsafe(src, buf, 1, SIZE_MAX),
		PMEM2_E_LENGTH_OUT_OF_RANGE);

	REQUIRE(pmem2_map_delete(&map) == 0);
	REQUIRE(pmem2_source_delete(&src) == 0);
	REQUIRE(pmem2_source_delete(&anon) == 0);
	REQUIRE(pmem2_config_delete(&cfg) == 0);
	close(fd);
	if (failures) {
		printf("%d failure(s)\n", failures);
		return 1;
	}
	printf("ok: every call returned an error with a message\n");
	return 0;
}
