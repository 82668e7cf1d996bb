/* IPv4 (RFC 791, RFC 1122 host rules): validate every header field before
 * use, drop fragments (a relay terminating TCP with MSS clamped to the
 * MTU should never see any), ignore options safely, route output to the
 * on-link host or the gateway. */
#include "net_impl.h"

bool ipv4_is_local_net(const struct net_stack *st, uint32_t ip)
{
	return (ip & st->netmask) == (st->cfg.ip & st->netmask);
}

static bool bad_source(const struct net_stack *st, uint32_t src)
{
	uint32_t bc = st->cfg.ip | ~st->netmask;

	return src == 0 || src == 0xffffffffu || (src >> 28) == 0xe ||
	       (src >> 24) == 127 || src == st->cfg.ip ||
	       (st->cfg.prefix_len < 31 && src == bc);
}

void ipv4_input(struct net_stack *st, const uint8_t *p, size_t len, unsigned rxf)
{
	size_t ihl, tot;
	uint32_t src, dst;

	if (len < IP_HLEN) {
		CNT(st, ip_short);
		return;
	}
	if ((p[0] >> 4) != 4) {
		CNT(st, ip_bad_version);
		return;
	}
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < IP_HLEN || ihl > len) {
		CNT(st, ip_bad_ihl);
		return;
	}
	tot = fy_get16(p + 2);
	if (tot < ihl || tot > len) {
		CNT(st, ip_bad_len);
		return;
	}
	if (!(rxf & NET_RX_IP_CSUM_GOOD) && csum_fold(csum_add(0, p, ihl)) != 0) {
		CNT(st, ip_bad_csum);
		return;
	}
	if (fy_get16(p + 6) & 0x3fff) {	/* MF set or a fragment offset */
		CNT(st, ip_frag);
		return;
	}
	if (p[8] == 0) {
		CNT(st, ip_ttl_zero);
		return;
	}
	src = fy_get32(p + 12);
	dst = fy_get32(p + 16);
	if (dst != st->cfg.ip) {
		CNT(st, ip_not_ours);
		return;
	}
	if (bad_source(st, src)) {
		CNT(st, ip_bad_src);
		return;
	}
	if (ihl > IP_HLEN)
		CNT(st, ip_options);	/* skipped, never interpreted */
	/* Ethernet padding beyond the total length is cut here. */
	switch (p[9]) {
	case IP_PROTO_TCP:
		tcp_input(st, src, dst, p + ihl, tot - ihl, rxf);
		break;
	case IP_PROTO_ICMP:
		icmp_input(st, src, p + ihl, tot - ihl, rxf);
		break;
	default:
		CNT(st, ip_unknown_proto);
		break;
	}
}

void ipv4_output(struct net_stack *st, uint32_t dst, uint8_t proto, size_t l4len)
{
	static const uint8_t unset[6];
	uint8_t *f = st->txbuf, *ip = f + ETH_HLEN;
	uint32_t nh;

	if (ipv4_is_local_net(st, dst))
		nh = dst;
	else if (st->cfg.gateway)
		nh = st->cfg.gateway;
	else {
		CNT(st, ip_no_route);
		return;
	}
	ip[0] = 0x45;
	ip[1] = 0;
	fy_put16(ip + 2, (uint16_t)(IP_HLEN + l4len));
	fy_put16(ip + 4, st->ip_id++);
	fy_put16(ip + 6, 0x4000);	/* DF: we size segments to the MTU */
	ip[8] = st->cfg.ttl;
	ip[9] = proto;
	fy_put16(ip + 10, 0);
	fy_put32(ip + 12, st->cfg.ip);
	fy_put32(ip + 16, dst);
	if (!(st->cfg.flags & NET_CFG_TX_CSUM_OFFLOAD))
		fy_put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	eth_fill(st, f, unset, ETH_TYPE_IPV4);
	arp_output(st, nh, f, ETH_HLEN + IP_HLEN + l4len);
}
