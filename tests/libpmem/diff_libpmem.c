/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diff_libpmem.c -- the differential test of libpmem.so.1: every function,
 * its error paths and messages. Built once against PMDK's header and
 * library and once against ours; `cargo xtask libpmem-test` runs the
 * PMDK-built binary on PMDK's library and on ours, and our build on ours,
 * and compares the output line by line (tests/libpmem/known-differences.txt
 * lists the lines allowed to differ; each is documented in docs/c-abi.md).
 *
 * usage: diff_libpmem SCRATCH_DIR   (the directory name is printed as DIR)
 *
 * The runner repeats it under several settings of libpmem's environment
 * variables (PMEM_NO_FLUSH, PMEM_NO_MOVNT, PMEM_MMAP_HINT, ...).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpmem.h>

static const char *Dir;

/* the message with the scratch directory replaced by "DIR" */
static const char *
msg(void)
{
	static char out[1024];
	const char *m = pmem_errormsg();
	size_t dl = strlen(Dir);
	size_t o = 0;

	if (m == NULL)
		return "(null)";
	while (*m && o < sizeof(out) - 4) {
		if (strncmp(m, Dir, dl) == 0) {
			memcpy(out + o, "DIR", 3);
			o += 3;
			m += dl;
		} else {
			out[o++] = *m++;
		}
	}
	out[o] = '\0';
	return out;
}

static char *
path(const char *name)
{
	static char p[4][4096];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", Dir, name);
	return p[i];
}

/* one pmem_map_file call: result, errno, message, out-params */
static void *
map(const char *label, const char *file, size_t len, int flags, mode_t mode)
{
	size_t mapped = 12345;
	int is_pmem = 77;
	void *p;

	errno = 0;
	p = pmem_map_file(file, len, flags, mode, &mapped, &is_pmem);
	if (p == NULL) {
		int e = errno;
		printf("map %s: NULL errno=%s msg=%s out=%zu,%d\n", label,
			strerrorname_np(e), msg(), mapped, is_pmem);
	} else {
		int e = errno;
		printf("map %s: ok errno=%s mapped_len=%zu is_pmem=%d aligned2M=%d\n",
			label, e ? strerrorname_np(e) : "0", mapped, is_pmem,
			((uintptr_t)p % (2u << 20)) == 0);
	}
	return p;
}

static void
file_facts(const char *label, const char *file)
{
	struct stat st;

	if (stat(file, &st) != 0) {
		printf("stat %s: %s\n", label, strerrorname_np(errno));
		return;
	}
	printf("stat %s: size=%lld mode=%o allocated=%d\n", label,
		(long long)st.st_size, (unsigned)(st.st_mode & 0777),
		(long long)st.st_blocks * 512 >= (long long)st.st_size);
}

static void
constants(void)
{
	printf("version %d.%d min_part %zu\n", PMEM_MAJOR_VERSION,
		PMEM_MINOR_VERSION, PMEM_MIN_PART);
	printf("file flags %d %d %d %d\n", PMEM_FILE_CREATE, PMEM_FILE_EXCL,
		PMEM_FILE_SPARSE, PMEM_FILE_TMPFILE);
	printf("mem flags %u %u %u %u %u %u valid %u\n", PMEM_F_MEM_NODRAIN,
		PMEM_F_MEM_NONTEMPORAL, PMEM_F_MEM_TEMPORAL, PMEM_F_MEM_WC,
		PMEM_F_MEM_WB, PMEM_F_MEM_NOFLUSH, PMEM_F_MEM_VALID_FLAGS);
}

static void
versions(void)
{
	static const unsigned v[][2] = {{1, 0}, {1, 1}, {1, 2}, {0, 0}, {2, 0},
		{0, 1}, {1, 100}};
	printf("errormsg initially: \"%s\"\n", pmem_errormsg());
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *r = pmem_check_version(v[i][0], v[i][1]);
		printf("check_version(%u, %u): %s same_as_errormsg=%d\n", v[i][0],
			v[i][1], r ? r : "NULL", r == pmem_errormsg());
	}
}

/* PMEM_IS_PMEM_FORCE is read at the first pmem_is_pmem: one child each */
static void
force(const char *value)
{
	char buf[64];
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		void *p;
		setenv("PMEM_IS_PMEM_FORCE", value, 1);
		printf("FORCE=\"%s\": (buf,64)=%d (NULL,1)=%d (buf,0)=%d", value,
			pmem_is_pmem(buf, 64), pmem_is_pmem(NULL, 1),
			pmem_is_pmem(buf, 0));
		unsetenv("PMEM_IS_PMEM_FORCE");
		printf(" after unsetenv=%d\n", pmem_is_pmem(buf, 64));
		snprintf(buf, sizeof(buf), "force-%c", value[0] ? value[0] : 'E');
		p = map("", path(buf), 8192, PMEM_FILE_CREATE, 0600);
		if (p)
			pmem_unmap(p, 8192);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
}

static void
map_errors(void)
{
	void *zero;
	int fd;

	map("NULL path", NULL, 0, 0, 0);
	map("missing", path("missing"), 0, 0, 0);
	map("bad flag", path("x"), 0, 0x10, 0);
	map("bad flags", path("x"), 4096, 0xF0 | PMEM_FILE_CREATE, 0);
	map("len without create", path("x"), 4096, 0, 0);
	map("zero len with create", path("x"), 0, PMEM_FILE_CREATE, 0600);
	map("tmpfile without create", Dir, 0, PMEM_FILE_TMPFILE, 0);
	map("tmpfile without create, len", Dir, 4096, PMEM_FILE_TMPFILE, 0);
	map("huge len", path("x"), (size_t)-1, PMEM_FILE_CREATE, 0600);
	map("tmpfile huge len", Dir, (size_t)-1, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0);
	map("directory", Dir, 0, 0, 0);
	map("directory, create", Dir, 4096, PMEM_FILE_CREATE, 0600);
	map("tmpfile in missing dir", path("nodir"), 4096,
		PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0);
	fd = open(path("regular"), O_CREAT | O_RDWR, 0600);
	close(fd);
	map("tmpfile in a file", path("regular"), 4096,
		PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0);
	map("below a file", path("regular/sub"), 0, 0, 0);
	map("empty file", path("regular"), 0, 0, 0);
	map("create excl existing", path("regular"), 4096,
		PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0600);
	mkfifo(path("fifo"), 0600);
	map("fifo", path("fifo"), 0, 0, 0);
	map("fifo, bad flag", path("fifo"), 0, 0x40, 0);
	/* (PMDK leaves the previous message here: only errno is compared) */
	errno = 0;
	zero = pmem_map_file("/dev/zero", 0, 0, 0, NULL, NULL);
	printf("map /dev/zero: %s errno=%s\n", zero ? "ok" : "NULL",
		strerrorname_np(errno));
	/* a failed exclusive creation leaves no file behind */
	map("create excl, no space for the length", path("excl-huge"),
		(size_t)1 << 62, PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0600);
	file_facts("excl-huge after failure", path("excl-huge"));
}

static void
map_success(void)
{
	char *p, *q;
	char back[16];
	int fd, rc;

	p = map("create 3000", path("a"), 3000, PMEM_FILE_CREATE, 0640);
	file_facts("a", path("a"));
	if (getenv("PMEM_MMAP_HINT"))
		printf("PMEM_MMAP_HINT: at the hint=%d\n",
			(uintptr_t)p == strtoull(getenv("PMEM_MMAP_HINT"), NULL, 16));
	pmem_memcpy_persist(p + 100, "hello, pmem", 12);
	printf("msync unaligned: %d\n", pmem_msync(p + 100, 12));
	printf("unmap a: %d\n", pmem_unmap(p, 3000));
	fd = open(path("a"), O_RDONLY);
	printf("read back: %zd \"%s\"\n", pread(fd, back, 12, 100), back);
	close(fd);

	p = map("open existing", path("a"), 0, 0, 0);
	printf("content: \"%s\"\n", p + 100);
	pmem_unmap(p, 3000);
	p = map("open existing, excl without create", path("a"), 0, PMEM_FILE_EXCL, 0);
	pmem_unmap(p, 3000);
	p = pmem_map_file(path("a"), 0, 0, 0, NULL, NULL);
	printf("NULL out-params: %s\n", p ? "ok" : "NULL");
	pmem_unmap(p, 3000);

	p = map("create resizes", path("a"), 8192, PMEM_FILE_CREATE, 0600);
	file_facts("a resized", path("a"));
	printf("kept content: \"%s\"\n", p + 100);
	pmem_unmap(p, 8192);
	p = map("create shrinks", path("a"), 50, PMEM_FILE_CREATE | PMEM_FILE_SPARSE, 0600);
	file_facts("a shrunk", path("a"));
	pmem_unmap(p, 50);

	p = map("sparse", path("sparse"), 64 << 20,
		PMEM_FILE_CREATE | PMEM_FILE_SPARSE, 0600);
	file_facts("sparse", path("sparse"));
	pmem_unmap(p, 64 << 20);
	p = map("excl", path("excl"), 4096, PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0604);
	file_facts("excl", path("excl"));
	pmem_unmap(p, 4096);

	p = map("tmpfile", Dir, 1 << 20, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0777);
	memset(p, 1, 1 << 20);
	pmem_unmap(p, 1 << 20);
	p = map("tmpfile excl sparse", Dir, 1 << 20,
		PMEM_FILE_CREATE | PMEM_FILE_TMPFILE | PMEM_FILE_EXCL | PMEM_FILE_SPARSE, 0);
	pmem_unmap(p, 1 << 20);

	/* is_pmem on ordinary memory and mappings */
	printf("is_pmem heap=%d NULL,0=%d wrap=%d\n", pmem_is_pmem(back, 8),
		pmem_is_pmem(NULL, 0), pmem_is_pmem((void *)16, (size_t)-1));

	/* partial unmaps of a 20 MiB mapping (PMDK's pmem_unmap test) */
	q = map("20M", path("big"), 20 << 20, PMEM_FILE_CREATE | PMEM_FILE_SPARSE, 0600);
	rc = pmem_unmap(q, 4096);
	printf("unmap (0,4K)=%d\n", rc);
	rc = pmem_unmap(q + (2 << 20), 2 << 20);
	printf("unmap (2M,2M)=%d\n", rc);
	rc = pmem_unmap(q + (4 << 20), (2 << 20) - 1);
	printf("unmap (4M,2M-1)=%d\n", rc);
	errno = 0;
	rc = pmem_unmap(q + (6 << 20), 0);
	printf("unmap (6M,0)=%d errno=%s msg=%s\n", rc, strerrorname_np(errno), msg());
	errno = 0;
	rc = pmem_unmap(q + (8 << 20) - 1, 4096);
	printf("unmap (8M-1,4K)=%d errno=%s msg=%s\n", rc, strerrorname_np(errno), msg());
	printf("is_pmem of 20M after unmaps=%d\n", pmem_is_pmem(q + (10 << 20), 4096));
	printf("unmap rest=%d\n", pmem_unmap(q + (6 << 20), 14 << 20));
}

static void
persistence(void)
{
	static char buf[8192];
	int rc, rc2;
	char *p = map("persist target", path("p"), 1 << 20, PMEM_FILE_CREATE, 0600);

	pmem_persist(buf + 3, 1000);
	pmem_flush(buf + 1, 0);
	pmem_flush(buf, sizeof(buf));
	pmem_drain();
	pmem_deep_flush(buf, sizeof(buf));
	printf("has_hw_drain=%d has_auto_flush=%d\n", pmem_has_hw_drain(),
		pmem_has_auto_flush());
	printf("msync heap=%d\n", pmem_msync(buf, 100));
	errno = 0;
	rc = pmem_msync(NULL, 1);
	printf("msync NULL=%d errno=%s msg=%s\n", rc, strerrorname_np(errno), msg());
	printf("deep_drain len 0=%d\n", pmem_deep_drain(NULL, 0));
	rc = pmem_deep_drain(p + 5, 5000);
	rc2 = pmem_deep_persist(p, 1 << 20);
	printf("deep_drain map=%d deep_persist map=%d\n", rc, rc2);
	errno = 0;
	rc = pmem_deep_drain((void *)4096, 4096);
	printf("deep_drain unmapped=%d errno=%s msg=%s\n", rc, strerrorname_np(errno), msg());
	printf("deep_persist unmapped len 0=%d\n", pmem_deep_persist((void *)4096, 0));
	pmem_unmap(p, 1 << 20);
}

static unsigned
sum(const unsigned char *b, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s = s * 31 + b[i];
	return s;
}

static void
copies(void)
{
	static const unsigned flagsets[] = {0, PMEM_F_MEM_NODRAIN,
		PMEM_F_MEM_NONTEMPORAL, PMEM_F_MEM_TEMPORAL,
		PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_TEMPORAL, PMEM_F_MEM_WC,
		PMEM_F_MEM_WB, PMEM_F_MEM_NOFLUSH, PMEM_F_MEM_VALID_FLAGS,
		PMEM_F_MEM_WC | PMEM_F_MEM_WB, 0xFFFFFFFFu};
	static const size_t off[][2] = {{0, 0}, {7, 0}, {7, 9}, {0, 9}};
	static const size_t lens[] = {0, 1, 4, 8, 63, 64, 255, 256, 4096, 70000};
	unsigned char *p = map("copy target", path("c"), 1 << 20, PMEM_FILE_CREATE, 0600);
	unsigned char *src = malloc(1 << 18);
	unsigned total = 0, bad = 0;

	for (size_t i = 0; i < (1 << 18); i++)
		src[i] = (unsigned char)(i * 7 + i / 251);
	for (size_t f = 0; f < sizeof(flagsets) / sizeof(flagsets[0]); f++)
		for (size_t o = 0; o < 4; o++)
			for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
				unsigned char *d = p + off[o][0];
				const unsigned char *s = src + off[o][1];
				size_t n = lens[l];
				memset(p, 0, 80000);
				bad += pmem_memcpy(d, s, n, flagsets[f]) != d;
				bad += memcmp(d, s, n) != 0;
				bad += pmem_memmove(p + 1, p, n, flagsets[f]) != p + 1;
				bad += pmem_memmove(p, p + 3, n, flagsets[f]) != p;
				bad += pmem_memset(d + n, 0x1ab, 100, flagsets[f]) != d + n;
				total += sum(p, 80000);
			}
	printf("flagged family: checksum=%u bad=%u\n", total, bad);
	total = bad = 0;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t n = lens[l];
		memset(p, 0, 80000);
		bad += pmem_memcpy_persist(p + 5, src, n) != p + 5;
		bad += pmem_memmove_persist(p + 9, p + 5, n) != p + 9;
		bad += pmem_memset_persist(p + 2, -1, n / 2) != p + 2;
		bad += pmem_memcpy_nodrain(p + 20000, src + 1, n) != p + 20000;
		bad += pmem_memmove_nodrain(p + 19990, p + 20000, n) != p + 19990;
		bad += pmem_memset_nodrain(p + 50000, 'x', n) != p + 50000;
		pmem_drain();
		total += sum(p, 80000);
	}
	printf("persist/nodrain family: checksum=%u bad=%u\n", total, bad);
	printf("same pointer: %d len 0 NULL: %d %d\n",
		pmem_memmove(p, p, 100, 0) == p,
		pmem_memcpy(NULL, NULL, 0, 0) == NULL,
		pmem_memset_persist(NULL, 0, 0) == NULL);
	pmem_unmap(p, 1 << 20);
	free(src);
}

static void *
thread_err(void *arg)
{
	(void)arg;
	printf("thread errormsg initially: \"%s\"\n", pmem_errormsg());
	pmem_check_version(10001, 0);
	printf("thread errormsg: %s\n", pmem_errormsg());
	return NULL;
}

int
main(int argc, char *argv[])
{
	pthread_t t;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	Dir = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	constants();
	versions();
	force("1");
	force("0");
	force("abc");
	force(" 1");
	force("1x");
	force("2");
	force("");
	map_errors();
	map_success();
	persistence();
	copies();
	pthread_create(&t, NULL, thread_err, NULL);
	pthread_join(t, NULL);
	printf("main errormsg kept: %s\n", msg());
	return 0;
}
