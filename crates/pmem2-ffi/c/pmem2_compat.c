/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmem2_compat.c -- every symbol of PMDK 1.x's LIBPMEM2_1.0 version node,
 * as a wrapper bound to "name@LIBPMEM2_1.0" with .symver, so binaries
 * linked against PMDK 1.10-1.13 run too. The default "name@@LIBPMEM2_2.0"
 * is the Rust function itself (version script). Linked into the shared
 * library only (cargo xtask build-c).
 */
#include <stdarg.h>

#include <libpmem2.h>

void pmem2_perror_va(const char *format, va_list ap)
	__attribute__((visibility("hidden")));

#define COMPAT_NAME(name) name##_compat_1_0
#define COMPAT_SYMVER(name) \
	__asm__(".symver " #name "_compat_1_0, " #name "@LIBPMEM2_1.0");

/* a wrapper returning the Rust function's value */
#define COMPAT(ret, name, params, args) \
	ret COMPAT_NAME(name) params; \
	ret COMPAT_NAME(name) params { return name args; } \
	COMPAT_SYMVER(name)

/* the same for a function returning void */
#define COMPAT_VOID(name, params, args) \
	void COMPAT_NAME(name) params; \
	void COMPAT_NAME(name) params { name args; } \
	COMPAT_SYMVER(name)

void COMPAT_NAME(pmem2_perror)(const char *format, ...);
void
COMPAT_NAME(pmem2_perror)(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	pmem2_perror_va(format, ap);
	va_end(ap);
}
COMPAT_SYMVER(pmem2_perror)

COMPAT(int, pmem2_badblock_clear,
	(struct pmem2_badblock_context *c, const struct pmem2_badblock *b),
	(c, b))
COMPAT_VOID(pmem2_badblock_context_delete,
	(struct pmem2_badblock_context **c), (c))
COMPAT(int, pmem2_badblock_context_new,
	(struct pmem2_badblock_context **c, const struct pmem2_source *s),
	(c, s))
COMPAT(int, pmem2_badblock_next,
	(struct pmem2_badblock_context *c, struct pmem2_badblock *b), (c, b))
COMPAT(int, pmem2_config_delete, (struct pmem2_config **c), (c))
COMPAT(int, pmem2_config_new, (struct pmem2_config **c), (c))
COMPAT(int, pmem2_config_set_length, (struct pmem2_config *c, size_t l),
	(c, l))
COMPAT(int, pmem2_config_set_offset, (struct pmem2_config *c, size_t o),
	(c, o))
COMPAT(int, pmem2_config_set_protection,
	(struct pmem2_config *c, unsigned p), (c, p))
COMPAT(int, pmem2_config_set_required_store_granularity,
	(struct pmem2_config *c, enum pmem2_granularity g), (c, g))
COMPAT(int, pmem2_config_set_sharing,
	(struct pmem2_config *c, enum pmem2_sharing_type t), (c, t))
COMPAT(int, pmem2_config_set_vm_reservation,
	(struct pmem2_config *c, struct pmem2_vm_reservation *r, size_t o),
	(c, r, o))
COMPAT(int, pmem2_deep_flush, (struct pmem2_map *m, void *p, size_t s),
	(m, p, s))
COMPAT(const char *, pmem2_errormsg, (void), ())
COMPAT(pmem2_drain_fn, pmem2_get_drain_fn, (struct pmem2_map *m), (m))
COMPAT(pmem2_flush_fn, pmem2_get_flush_fn, (struct pmem2_map *m), (m))
COMPAT(pmem2_memcpy_fn, pmem2_get_memcpy_fn, (struct pmem2_map *m), (m))
COMPAT(pmem2_memmove_fn, pmem2_get_memmove_fn, (struct pmem2_map *m), (m))
COMPAT(pmem2_memset_fn, pmem2_get_memset_fn, (struct pmem2_map *m), (m))
COMPAT(pmem2_persist_fn, pmem2_get_persist_fn, (struct pmem2_map *m), (m))
COMPAT(int, pmem2_map_delete, (struct pmem2_map **m), (m))
COMPAT(int, pmem2_map_from_existing,
	(struct pmem2_map **m, const struct pmem2_source *s, void *a,
		size_t l, enum pmem2_granularity g),
	(m, s, a, l, g))
COMPAT(void *, pmem2_map_get_address, (struct pmem2_map *m), (m))
COMPAT(size_t, pmem2_map_get_size, (struct pmem2_map *m), (m))
COMPAT(enum pmem2_granularity, pmem2_map_get_store_granularity,
	(struct pmem2_map *m), (m))
COMPAT(int, pmem2_map_new,
	(struct pmem2_map **m, const struct pmem2_config *c,
		const struct pmem2_source *s),
	(m, c, s))
COMPAT(int, pmem2_source_alignment,
	(const struct pmem2_source *s, size_t *a), (s, a))
COMPAT(int, pmem2_source_delete, (struct pmem2_source **s), (s))
COMPAT(int, pmem2_source_device_id,
	(const struct pmem2_source *s, char *id, size_t *l), (s, id, l))
COMPAT(int, pmem2_source_device_usc,
	(const struct pmem2_source *s, uint64_t *u), (s, u))
COMPAT(int, pmem2_source_from_anon, (struct pmem2_source **s, size_t n),
	(s, n))
COMPAT(int, pmem2_source_from_fd, (struct pmem2_source **s, int fd),
	(s, fd))
COMPAT(int, pmem2_source_get_fd, (const struct pmem2_source *s, int *fd),
	(s, fd))
COMPAT(int, pmem2_source_numa_node, (const struct pmem2_source *s, int *n),
	(s, n))
COMPAT(int, pmem2_source_pread_mcsafe,
	(struct pmem2_source *s, void *b, size_t n, size_t o), (s, b, n, o))
COMPAT(int, pmem2_source_pwrite_mcsafe,
	(struct pmem2_source *s, void *b, size_t n, size_t o), (s, b, n, o))
COMPAT(int, pmem2_source_size, (const struct pmem2_source *s, size_t *n),
	(s, n))
COMPAT(int, pmem2_vm_reservation_delete,
	(struct pmem2_vm_reservation **r), (r))
COMPAT(int, pmem2_vm_reservation_extend,
	(struct pmem2_vm_reservation *r, size_t n), (r, n))
COMPAT(void *, pmem2_vm_reservation_get_address,
	(struct pmem2_vm_reservation *r), (r))
COMPAT(size_t, pmem2_vm_reservation_get_size,
	(struct pmem2_vm_reservation *r), (r))
COMPAT(int, pmem2_vm_reservation_map_find,
	(struct pmem2_vm_reservation *r, size_t o, size_t l,
		struct pmem2_map **m),
	(r, o, l, m))
COMPAT(int, pmem2_vm_reservation_map_find_first,
	(struct pmem2_vm_reservation *r, struct pmem2_map **m), (r, m))
COMPAT(int, pmem2_vm_reservation_map_find_last,
	(struct pmem2_vm_reservation *r, struct pmem2_map **m), (r, m))
COMPAT(int, pmem2_vm_reservation_map_find_next,
	(struct pmem2_vm_reservation *r, struct pmem2_map *m,
		struct pmem2_map **n),
	(r, m, n))
COMPAT(int, pmem2_vm_reservation_map_find_prev,
	(struct pmem2_vm_reservation *r, struct pmem2_map *m,
		struct pmem2_map **p),
	(r, m, p))
COMPAT(int, pmem2_vm_reservation_new,
	(struct pmem2_vm_reservation **r, void *a, size_t n), (r, a, n))
COMPAT(int, pmem2_vm_reservation_shrink,
	(struct pmem2_vm_reservation *r, size_t o, size_t n), (r, o, n))

