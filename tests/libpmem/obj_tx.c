/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * obj_tx.c -- a libpmemobj program for `cargo xtask libpmem-test`: runs on
 * Debian's libpmemobj.so.1, which runs on whichever libpmem.so.1 the
 * loader finds (ours, through LD_LIBRARY_PATH). Each step is a separate
 * process, so what the next one sees survived a restart.
 *
 * usage: obj_tx create POOL    a pool with a root {counter, text}, counter 1
 *        obj_tx commit POOL    a transaction: counter += 1, text updated
 *        obj_tx crash POOL     a transaction that dies half-way (_exit)
 *        obj_tx check POOL N   counter == N and text matches, else exit 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpmemobj.h>

#define LAYOUT "pmem2-libpmem-test"

struct root {
	uint64_t counter;
	char text[64];
};

static PMEMobjpool *
open_pool(const char *path)
{
	PMEMobjpool *p = pmemobj_open(path, LAYOUT);

	if (p == NULL) {
		fprintf(stderr, "pmemobj_open %s: %s\n", path, pmemobj_errormsg());
		exit(1);
	}
	return p;
}

static void
set(struct root *r, uint64_t n)
{
	r->counter = n;
	snprintf(r->text, sizeof(r->text), "committed %llu", (unsigned long long)n);
}

/* globals: the transaction macros use setjmp */
static PMEMobjpool *pop;
static struct root *r;
static int crash;

int
main(int argc, char *argv[])
{
	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "create") == 0) {
		pop = pmemobj_create(argv[2], LAYOUT, 16 << 20, 0600);
		if (pop == NULL) {
			fprintf(stderr, "pmemobj_create: %s\n", pmemobj_errormsg());
			return 1;
		}
		r = pmemobj_direct(pmemobj_root(pop, sizeof(*r)));
		TX_BEGIN(pop) {
			pmemobj_tx_add_range_direct(r, sizeof(*r));
			set(r, 1);
		} TX_ONABORT {
			return 1;
		} TX_END
		pmemobj_close(pop);
		printf("created, counter 1\n");
		return 0;
	}
	pop = open_pool(argv[2]);
	r = pmemobj_direct(pmemobj_root(pop, sizeof(*r)));
	if (strcmp(argv[1], "commit") == 0 || strcmp(argv[1], "crash") == 0) {
		crash = strcmp(argv[1], "crash") == 0;
		TX_BEGIN(pop) {
			pmemobj_tx_add_range_direct(r, sizeof(*r));
			set(r, r->counter + 1);
			if (crash) {
				/* dies inside the transaction: no commit, no close */
				printf("crashing with counter %llu in the transaction\n",
					(unsigned long long)r->counter);
				fflush(stdout);
				_exit(0);
			}
		} TX_ONABORT {
			fprintf(stderr, "aborted: %s\n", pmemobj_errormsg());
			return 1;
		} TX_END
		printf("committed, counter %llu\n", (unsigned long long)r->counter);
		pmemobj_close(pop);
		return 0;
	}
	if (strcmp(argv[1], "check") == 0 && argc == 4) {
		uint64_t want = strtoull(argv[3], NULL, 10);
		char text[64];
		int ok;

		snprintf(text, sizeof(text), "committed %llu", (unsigned long long)want);
		printf("counter %llu, text \"%s\"\n", (unsigned long long)r->counter, r->text);
		ok = r->counter == want && strcmp(r->text, text) == 0;
		pmemobj_close(pop);
		return ok ? 0 : 1;
	}
	return 2;
}
