/* ICMP: echo requests are answered (the checksum verified first, the
 * reply's computed in software: NICs do not offload ICMP); everything
 * else is counted and dropped. */
#include <string.h>

#include "net_impl.h"

void icmp_input(struct net_stack *st, uint32_t src, const uint8_t *p,
		size_t len, unsigned rxf)
{
	uint8_t *r;

	(void)rxf;
	if (len < ICMP_HLEN) {
		CNT(st, icmp_short);
		return;
	}
	if (csum_fold(csum_add(0, p, len)) != 0) {
		CNT(st, icmp_bad_csum);
		return;
	}
	if (p[0] != 8 || p[1] != 0) {
		CNT(st, icmp_other);
		return;
	}
	CNT(st, icmp_echo_rx);
	if (len > (size_t)st->cfg.mtu - IP_HLEN) {
		CNT(st, icmp_too_big);	/* would not fit our MTU; never fragment */
		return;
	}
	r = ipv4_l4buf(st);
	memcpy(r, p, len);
	r[0] = 0;		/* echo reply; id, sequence and data kept */
	fy_put16(r + 2, 0);
	fy_put16(r + 2, csum_fold(csum_add(0, r, len)));
	CNT(st, icmp_echo_tx);
	ipv4_output(st, src, IP_PROTO_ICMP, len);
}
