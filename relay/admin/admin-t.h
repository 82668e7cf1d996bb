/* The admin API's types (relay/admin/): a snapshot of agents and ports
 * taken from the registry (snap.c), which json.c and metrics.c turn into
 * answers. A snapshot is plain data: the JSON builders and their tests
 * need no relay. */
#ifndef FERRY_ADMIN_T_H
#define FERRY_ADMIN_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/frame.h"

#define ADM_PORTS_PER_AGENT 64	/* listed per agent; "ports_more" says when cut */

/* A claimed port, or a claimed name (name set; port is then the agent's
 * id for it, not shown). */
struct adm_port {
	uint16_t port;
	bool udp;
	char name[FY_NAME_MAX + 1];
	uint8_t kind;			/* a name: enum fy_name_kind */
	bool gone;			/* a name kept after its agent's session ended */
	unsigned owner;			/* the worker that claimed it */
	char agent[FY_NAME_MAX + 1];
};

struct adm_agent {
	char name[FY_NAME_MAX + 1];
	char peer[64];			/* where tunnel 0 came from */
	uint16_t version;		/* protocol version of the session */
	uint64_t age_ms;		/* since tunnel 0 was authenticated */
	unsigned tunnels, tunnels_expected;
	uint64_t workers;		/* bit w: a tunnel on worker w */
	bool draining;
	uint64_t bytes_in, bytes_out;	/* payload from / to the agent */
	uint64_t streams_open, streams_opened;
	unsigned nports;
	bool ports_more;
	struct adm_port ports[ADM_PORTS_PER_AGENT];
	const void *key;		/* the session, while the snapshot is taken */
};

struct adm_snap {
	struct adm_agent *agents;	/* owned */
	size_t n, cap;
	struct adm_port *ports;		/* owned: every claimed port */
	size_t nports, pcap;
	bool oom;
};

#endif
