/* Built without the HTTP transports (no libwslay-dev or
 * libhttp-parser-dev for this target, as in scripts/cross.sh): config.c
 * refuses --transport wss|auto and --proxy, so none of this runs. */
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

int xport_proxy_rest(struct atun *t)
{
	(void)t;
	return -1;
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
