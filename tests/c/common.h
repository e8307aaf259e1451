/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * common.h -- helpers of the C tests (see README.md here).
 *
 * Every reported call prints one line "<label>: rc=<code> msg=<set|EMPTY|->"
 * (msg: whether pmem2_errormsg() is non-empty after a failure, "-" after
 * success), plus values the call produced. The differential runner compares
 * these lines between PMDK's library and ours.
 */
#ifndef PMEM2_TEST_COMMON_H
#define PMEM2_TEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpmem2.h>

static inline int
report(const char *label, int rc)
{
	const char *msg = pmem2_errormsg();

	printf("%s: rc=%d msg=%s\n", label, rc,
		rc == 0 ? "-" : (msg != NULL && msg[0] != '\0' ? "set" : "EMPTY"));
	return rc;
}

#define CALL(label, expr) report(label, (expr))

/* aborts the test on an unexpected condition */
#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: requirement failed: %s (errno: %s, errormsg: %s)\n", \
			__FILE__, __LINE__, #cond, strerror(errno), pmem2_errormsg()); \
		exit(1); \
	} \
} while (0)

/* creates (truncates) dir/name with `size` bytes, returns an O_RDWR fd */
static inline int
make_file(const char *dir, const char *name, size_t size)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, (off_t)size) == 0);
	return fd;
}

/* opens dir/name with `flags` */
static inline int
open_file(const char *dir, const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags);
}

/*
 * The crash-consistency checker convention (pmreorder's, pmem2 check
 * --explore's): "PROG verify IMAGE" exits 0 when IMAGE is consistent, 1 if
 * not, 2 when it can't be read. Returns IMAGE's bytes (size in *len), or
 * exits 2.
 */
static inline unsigned char *
read_image(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "verify: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	*len = (size_t)st.st_size;
	buf = malloc(*len + 1);
	if (buf == NULL || pread(fd, buf, *len, 0) != (ssize_t)*len) {
		fprintf(stderr, "verify: %s: cannot read\n", path);
		exit(2);
	}
	close(fd);
	return buf;
}

/* whether buf[from, to) is all zero */
static inline int
all_zero(const unsigned char *buf, size_t from, size_t to)
{
	for (; from < to; from++)
		if (buf[from] != 0)
			return 0;
	return 1;
}

#endif
