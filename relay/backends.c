/* The relay's backends, chosen by name (--backend). */
#include <stddef.h>
#include <string.h>

#include "backend.h"

static const struct relay_backend_desc backends[] = {
	{ "kernel", kernel_backend_run, NULL },
#ifdef FERRY_DPDK_BACKEND
	{ "dpdk", dpdk_backend_run, NULL },
#else
	{ "dpdk", NULL, "this build has no DPDK backend (rebuild with libdpdk-dev installed, "
		      "or -Ddpdk=enabled)" },
#endif
};

const struct relay_backend_desc *relay_backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i].name, name))
			return &backends[i];
	return NULL;
}

const char *relay_backend_names(void)
{
	return "kernel|dpdk";
}
