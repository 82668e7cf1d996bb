/* Forwards as ferry-agent's command line spells them, OpenSSH's syntax:
 *   -R [udp:|tcp:][bind:]port:host:hostport[,proxy-protocol]
 *   -H NAME:host:hostport[,proxy-protocol]   (HTTP by Host/path, protocol 3)
 *   -S NAME:host:hostport[,proxy-protocol]   (TLS passed through by SNI)
 *   -L [udp:|tcp:][bind:]port:AGENT:host:hostport
 *   -D [bind:]port[:AGENT]
 *   -W AGENT:host:port
 * Parsed in one place for the agent (its options, FORWARD requests, its
 * control socket) and the relay (the admin API checks a forward against
 * the token before asking the agent). No I/O. */
#ifndef FERRY_FWDSPEC_H
#define FERRY_FWDSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry/frame.h"

struct fy_fwdspec {
	char opt;			/* 'R', 'H', 'S', 'L', 'D' or 'W' */
	bool udp;
	bool proxy_protocol;		/* -R (TCP), -H, -S: PROXY v2 header to the target */
	char name[FY_NAME_MAX + 1];	/* -H, -S: one DNS label, lower case */
	char bind[64];			/* "" when not given */
	uint16_t port;			/* -R: the relay's port; -L, -D: the local one */
	char agent[FY_NAME_MAX + 1];	/* -L, -D (may be ""), -W */
	char host[FY_HOST_MAX + 1];	/* -R, -H, -S, -L, -W */
	uint16_t hostport;
};

/* The option's argument (opt 'R', 'H', 'S', 'L', 'D' or 'W'). 0, or -1 with err
 * ("bad -R '...': expected ..."). */
int fy_fwdspec_parse_arg(int opt, const char *arg, struct fy_fwdspec *f, char *err,
			 size_t errlen);
/* A whole spec: "-R 2222:127.0.0.1:22" (the option, spaces, its argument). */
int fy_fwdspec_parse(const char *spec, struct fy_fwdspec *f, char *err, size_t errlen);
/* The spec spelled back, canonical ("-R 2222:127.0.0.1:22"; IPv6 in
 * brackets): two specs name the same forward when these are equal. */
void fy_fwdspec_str(const struct fy_fwdspec *f, char *out, size_t n);

#endif
