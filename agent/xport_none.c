/* Built without the HTTP transports (no libwslay-dev or
 * libhttp-parser-dev for this target, as in scripts/cross.sh): config.c
 * refuses --transport wss|auto and --proxy, so none of this runs but
 * xport_proxy_rest and xport_free, which every TLS start calls. */
#include <stdio.h>

#include "agent.h"

static int none(char *why, size_t wn)
{
	snprintf(why, wn, "this build has no HTTP transports");
	return -1;
}

void xport_free(struct atun *t)
{
	(void)t;
}

int xport_proxy_start(struct atun *t, char *why, size_t wn)
{
	(void)t;
	return none(why, wn);
}

int xport_proxy_step(struct atun *t, char *why, size_t wn)
{
	(void)t;
	return none(why, wn);
}

/* Called on every TLS start, proxy or not: nothing is left over here. */
int xport_proxy_rest(struct atun *t)
{
	(void)t;
	return 0;
}

int xport_ws_start(struct atun *t, char *why, size_t wn)
{
	(void)t;
	return none(why, wn);
}

int xport_ws_step(struct atun *t, char *why, size_t wn)
{
	(void)t;
	return none(why, wn);
}
