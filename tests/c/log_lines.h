/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log_lines.h -- the reader of the debug-log tests of both libraries
 * (tests/c/ours_debug_log.c, tests/libpmem/ours_debug_log.c): loads a log
 * file and counts its lines, "<LIB>: <LEVEL> [FILE:LINE FUNC] TEXT" as
 * PMDK's debug builds write them, by level, function and text.
 */
#ifndef PMEM2_TEST_LOG_LINES_H
#define PMEM2_TEST_LOG_LINES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char log_text[1 << 16];

/* reads the log file at `path` into log_text; exits when it can't */
static void
log_load(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t got;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	got = fread(log_text, 1, sizeof(log_text) - 1, f);
	log_text[got] = '\0';
	fclose(f);
}

/*
 * the lines of library `lib`'s log at `level` (any line, of any library,
 * if level < 0) of the function `func` (any if NULL) that contain `what`
 */
static int
log_count(const char *lib, int level, const char *func, const char *what)
{
	char tag[64], fn[128];
	const char *line = log_text;
	int n = 0;

	snprintf(tag, sizeof(tag), "<%s>: <%d> [", lib, level);
	snprintf(fn, sizeof(fn), " %s] ", func != NULL ? func : "");
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024];

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			if ((level < 0 || strncmp(buf, tag, strlen(tag)) == 0) &&
					(func == NULL || strstr(buf, fn) != NULL) &&
					strstr(buf, what) != NULL)
				n++;
		}
		line += len + (end ? 1 : 0);
	}
	return n;
}

/* exits, printing the log, unless exactly `n` lines match */
#define LOG_EXPECT(n, lib, level, func, what) do { \
	int got_ = log_count((lib), (level), (func), (what)); \
	if (got_ != (n)) { \
		fprintf(stderr, "expected %d level-%d lines of %s with \"%s\", " \
			"got %d; the log:\n%s", (n), (level), \
			(func) != NULL ? (const char *)(func) : "*", (what), got_, \
			log_text); \
		exit(1); \
	} \
} while (0)

#endif
