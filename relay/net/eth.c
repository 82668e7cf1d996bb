/* Ethernet II: accept frames for our MAC or broadcast, dispatch by type. */
#include <string.h>

#include "net_impl.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void eth_input(struct net_stack *st, const uint8_t *f, size_t len, unsigned rxf)
{
	uint16_t type;

	if (len < ETH_HLEN) {
		CNT(st, eth_short);
		return;
	}
	if (memcmp(f, st->cfg.mac, 6) && memcmp(f, bcast, 6)) {
		CNT(st, eth_not_ours);
		return;
	}
	type = fy_get16(f + 12);
	switch (type) {
	case ETH_TYPE_IPV4:
		ipv4_input(st, f + ETH_HLEN, len - ETH_HLEN, rxf);
		break;
	case ETH_TYPE_ARP:
		arp_input(st, f + ETH_HLEN, len - ETH_HLEN, f + 6);
		break;
	case ETH_TYPE_VLAN:
		CNT(st, eth_vlan);	/* no VLAN support: the port strips tags */
		break;
	default:
		CNT(st, eth_unknown_type);
		break;
	}
}

void eth_fill(struct net_stack *st, uint8_t *f, const uint8_t dst[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, st->cfg.mac, 6);
	fy_put16(f + 12, type);
}

uint8_t *eth_frame_begin(struct net_stack *st)
{
	uint8_t *p = NULL;

	if (st->ops.tx_buf)
		p = st->ops.tx_buf(st->ctx, (size_t)ETH_HLEN + st->cfg.mtu);
	st->txbuf = p ? p : st->own_txbuf;
	return st->txbuf;
}

void eth_tx(struct net_stack *st, const uint8_t *f, size_t len)
{
	if (st->ops.tx(st->ctx, f, len) < 0) {
		CNT(st, tx_fail);	/* TCP retransmits; nothing else to do */
		return;
	}
	CNT(st, tx_frames);
	st->cnt.tx_bytes += len;
}
