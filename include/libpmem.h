/*
 * libpmem.h -- the C API of libpmem.so.1, PMDK's low-level persistent
 * memory library, as provided by pmem2 (a Rust implementation; see
 * docs/c-abi.md, section "libpmem"). Written for pmem2; the names, values
 * and prototypes are those of PMDK's libpmem API 1.1 (PMDK 1.12 and 2.1).
 */
#ifndef LIBPMEM_H
#define LIBPMEM_H 1

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* API version */
#define PMEM_MAJOR_VERSION 1
#define PMEM_MINOR_VERSION 1

/* smallest part of a pool set (unused by libpmem itself) */
#define PMEM_MIN_PART ((size_t)(1024 * 1024 * 2))

/* pmem_map_file flags */
#define PMEM_FILE_CREATE	(1 << 0)
#define PMEM_FILE_EXCL		(1 << 1)
#define PMEM_FILE_SPARSE	(1 << 2)
#define PMEM_FILE_TMPFILE	(1 << 3)

/* flags of pmem_memmove, pmem_memcpy and pmem_memset */
#define PMEM_F_MEM_NODRAIN	(1U << 0)
#define PMEM_F_MEM_NONTEMPORAL	(1U << 1)
#define PMEM_F_MEM_TEMPORAL	(1U << 2)
#define PMEM_F_MEM_WC		(1U << 3)
#define PMEM_F_MEM_WB		(1U << 4)
#define PMEM_F_MEM_NOFLUSH	(1U << 5)
#define PMEM_F_MEM_VALID_FLAGS (PMEM_F_MEM_NODRAIN | \
	PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_TEMPORAL | \
	PMEM_F_MEM_WC | PMEM_F_MEM_WB | PMEM_F_MEM_NOFLUSH)

/* mapping */
void *pmem_map_file(const char *path, size_t len, int flags, mode_t mode,
	size_t *mapped_lenp, int *is_pmemp);
int pmem_unmap(void *addr, size_t len);
int pmem_is_pmem(const void *addr, size_t len);

/* persistence */
void pmem_persist(const void *addr, size_t len);
int pmem_msync(const void *addr, size_t len);
int pmem_has_auto_flush(void);
void pmem_flush(const void *addr, size_t len);
void pmem_deep_flush(const void *addr, size_t len);
int pmem_deep_drain(const void *addr, size_t len);
int pmem_deep_persist(const void *addr, size_t len);
void pmem_drain(void);
int pmem_has_hw_drain(void);

/* copy and fill */
void *pmem_memmove_persist(void *pmemdest, const void *src, size_t len);
void *pmem_memcpy_persist(void *pmemdest, const void *src, size_t len);
void *pmem_memset_persist(void *pmemdest, int c, size_t len);
void *pmem_memmove_nodrain(void *pmemdest, const void *src, size_t len);
void *pmem_memcpy_nodrain(void *pmemdest, const void *src, size_t len);
void *pmem_memset_nodrain(void *pmemdest, int c, size_t len);
void *pmem_memmove(void *pmemdest, const void *src, size_t len,
	unsigned flags);
void *pmem_memcpy(void *pmemdest, const void *src, size_t len,
	unsigned flags);
void *pmem_memset(void *pmemdest, int c, size_t len, unsigned flags);

/* version check and errors */
const char *pmem_check_version(unsigned major_required,
	unsigned minor_required);
const char *pmem_errormsg(void);

/* logging (PMDK 2.1) */
enum pmem_log_level {
	PMEM_LOG_LEVEL_HARK,
	PMEM_LOG_LEVEL_FATAL,
	PMEM_LOG_LEVEL_ERROR,
	PMEM_LOG_LEVEL_WARNING,
	PMEM_LOG_LEVEL_NOTICE,
	PMEM_LOG_LEVEL_INFO,
	PMEM_LOG_LEVEL_DEBUG
};

enum pmem_log_threshold {
	PMEM_LOG_THRESHOLD,
	PMEM_LOG_THRESHOLD_AUX
};

int pmem_log_set_threshold(enum pmem_log_threshold threshold,
	enum pmem_log_level value);
int pmem_log_get_threshold(enum pmem_log_threshold threshold,
	enum pmem_log_level *value);

typedef void pmem_log_function(enum pmem_log_level level,
	const char *file_name, unsigned line_no, const char *function_name,
	const char *message);

#define PMEM_LOG_USE_DEFAULT_FUNCTION (NULL)

int pmem_log_set_function(pmem_log_function *log_function);

#ifdef __cplusplus
}
#endif
#endif /* LIBPMEM_H */
