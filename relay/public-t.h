/* A public client connection on the relay (public.c). */
#ifndef FERRY_PUBLIC_T_H
#define FERRY_PUBLIC_T_H

#include <stdint.h>

#include "ferry/pump.h"
#include "rstream.h"

struct worker;
struct tunnel;

/* A public client connection, carried as one stream of one tunnel. */
struct pubconn {
	struct rs_pump rp;		/* the stream's app points to rp.rs */
	struct worker *w;
	void *io;			/* backend connection */
	uint16_t port;
	char peer_str[64];
	struct pubconn *gc_next;
};

#endif
