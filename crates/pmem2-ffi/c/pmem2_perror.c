/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pmem2_perror.c -- pmem2_perror, which is variadic and so can't be
 * defined in stable Rust. It formats with vsnprintf and appends
 * pmem2_errormsg() (implemented in Rust). Compiled by build.rs into the
 * pmem2-ffi static library.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpmem2.h>

void pmem2_perror_va(const char *format, va_list ap)
	__attribute__((visibility("hidden")));

/*
 * prints "<formatted>: <pmem2_errormsg()>\n" on stderr; also used by the
 * LIBPMEM2_1.0 alias in pmem2_compat.c
 */
void
pmem2_perror_va(const char *format, va_list ap)
{
	char small[1024];
	char *text = small;
	va_list again;
	int len;

	va_copy(again, ap);
	len = vsnprintf(small, sizeof(small), format, ap);
	if (len < 0) {
		small[0] = '\0';
	} else if ((size_t)len >= sizeof(small)) {
		char *big = malloc((size_t)len + 1);
		if (big != NULL) {
			vsnprintf(big, (size_t)len + 1, format, again);
			text = big;
		}
	}
	va_end(again);

	fprintf(stderr, "%s: %s\n", text, pmem2_errormsg());
	if (text != small)
		free(text);
}

void
pmem2_perror(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	pmem2_perror_va(format, ap);
	va_end(ap);
}
