/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diff_perror.c -- pmem2_perror's output and pmem2_errormsg's text for
 * errors whose messages are fixed by PMDK (stderr is sent to stdout so
 * the runner compares it).
 */
#include "common.h"

int
main(void)
{
	struct pmem2_config *cfg = NULL;
	char big[3000];

	setvbuf(stdout, NULL, _IONBF, 0);
	REQUIRE(dup2(1, 2) == 2);
	REQUIRE(pmem2_config_new(&cfg) == 0);

	pmem2_config_set_required_store_granularity(cfg,
		(enum pmem2_granularity)7);
	printf("errormsg: %s\n", pmem2_errormsg());
	pmem2_perror("perror plain");
	pmem2_perror("perror %s %d %zu %c %%", "formatted", -3, (size_t)42, 'z');
	pmem2_perror("%s", "");

	pmem2_config_set_offset(cfg, SIZE_MAX);
	printf("errormsg: %s\n", pmem2_errormsg());
	pmem2_perror("offset");

	/* a message survives later successful calls */
	REQUIRE(pmem2_config_set_offset(cfg, 0) == 0);
	printf("errormsg after success: %s\n", pmem2_errormsg());

	/* a format longer than any fixed buffer */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pmem2_perror("%s", big);

	pmem2_config_delete(&cfg);
	return 0;
}
