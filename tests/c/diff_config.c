/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * diff_config.c -- differential test of the pmem2_config_* functions:
 * valid and invalid enum values, every protection bit, offset limits.
 */
#include "common.h"

int
main(void)
{
	struct pmem2_config *cfg = NULL;
	char label[128];
	int v;
	unsigned bit;
	static const unsigned prots[] = {
		PMEM2_PROT_NONE, PMEM2_PROT_READ, PMEM2_PROT_WRITE,
		PMEM2_PROT_EXEC, PMEM2_PROT_READ | PMEM2_PROT_WRITE,
		PMEM2_PROT_READ | PMEM2_PROT_EXEC,
		PMEM2_PROT_READ | PMEM2_PROT_WRITE | PMEM2_PROT_EXEC,
		PMEM2_PROT_READ | 1U, PMEM2_PROT_WRITE | (1U << 28), ~0U,
	};
	static const size_t offsets[] = {
		0, 1, 4096, (size_t)INT64_MAX - 1, (size_t)INT64_MAX,
		(size_t)INT64_MAX + 1, SIZE_MAX - 4095, SIZE_MAX,
	};
	static const size_t lengths[] = { 0, 1, 4096, SIZE_MAX };
	size_t i;

	CALL("config_new", pmem2_config_new(&cfg));
	REQUIRE(cfg != NULL);

	for (v = -2; v <= 5; v++) {
		snprintf(label, sizeof(label), "set_required_store_granularity(%d)", v);
		CALL(label, pmem2_config_set_required_store_granularity(cfg,
			(enum pmem2_granularity)v));
	}
	CALL("set_required_store_granularity(INT_MAX)",
		pmem2_config_set_required_store_granularity(cfg,
			(enum pmem2_granularity)0x7fffffff));

	for (v = -2; v <= 4; v++) {
		snprintf(label, sizeof(label), "set_sharing(%d)", v);
		CALL(label, pmem2_config_set_sharing(cfg,
			(enum pmem2_sharing_type)v));
	}

	for (bit = 0; bit < 32; bit++) {
		snprintf(label, sizeof(label), "set_protection(1<<%u)", bit);
		CALL(label, pmem2_config_set_protection(cfg, 1U << bit));
	}
	for (i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		snprintf(label, sizeof(label), "set_protection(%#x)", prots[i]);
		CALL(label, pmem2_config_set_protection(cfg, prots[i]));
	}

	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		snprintf(label, sizeof(label), "set_offset(%zu)", offsets[i]);
		CALL(label, pmem2_config_set_offset(cfg, offsets[i]));
	}
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		snprintf(label, sizeof(label), "set_length(%zu)", lengths[i]);
		CALL(label, pmem2_config_set_length(cfg, lengths[i]));
	}

	CALL("config_delete", pmem2_config_delete(&cfg));
	printf("config_delete: cfg=%s\n", cfg == NULL ? "NULL" : "set");
	CALL("config_delete(&NULL)", pmem2_config_delete(&cfg));

	/* two configs are independent objects */
	{
		struct pmem2_config *a = NULL, *b = NULL;
		CALL("config_new(a)", pmem2_config_new(&a));
		CALL("config_new(b)", pmem2_config_new(&b));
		printf("configs distinct: %s\n", a != b ? "yes" : "no");
		CALL("config_delete(a)", pmem2_config_delete(&a));
		CALL("config_delete(b)", pmem2_config_delete(&b));
	}
	return 0;
}
