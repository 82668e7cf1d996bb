/* ARP (RFC 826): answer requests for our address, resolve next hops with
 * a bounded queue of frames per unresolved hop, and keep a small cache
 * whose entries are re-confirmed when they age out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_impl.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void arp_timer(struct tw_timer *t);

int arp_init(struct net_stack *st)
{
	const struct net_config *cfg = &st->cfg;
	size_t fsz = (size_t)ETH_HLEN + cfg->mtu;

	st->arp = calloc(cfg->arp_entries, sizeof(*st->arp));
	st->arpq = calloc(cfg->arp_queue_total, sizeof(*st->arpq));
	st->arpq_mem = malloc(fsz * cfg->arp_queue_total);
	if (!st->arp || !st->arpq || !st->arpq_mem)
		return -ENOMEM;
	for (uint32_t i = 0; i < cfg->arp_entries; i++) {
		st->arp[i].st = st;
		st->arp[i].q_head = st->arp[i].q_tail = -1;
		tw_timer_init(&st->arp[i].t, arp_timer);
	}
	for (uint32_t i = 0; i < cfg->arp_queue_total; i++) {
		st->arpq[i].frame = st->arpq_mem + fsz * i;
		st->arpq[i].next = i + 1 < cfg->arp_queue_total ? (int32_t)i + 1 : -1;
	}
	st->arpq_free = 0;
	return 0;
}

void arp_fini(struct net_stack *st)
{
	free(st->arp);
	free(st->arpq);
	free(st->arpq_mem);
}

static struct arp_entry *find(struct net_stack *st, uint32_t ip)
{
	if (st->arp_last && st->arp_last->state != ARP_FREE && st->arp_last->ip == ip)
		return st->arp_last;
	for (uint32_t i = 0; i < st->cfg.arp_entries; i++) {
		struct arp_entry *e = &st->arp[i];

		if (e->state != ARP_FREE && e->ip == ip)
			return st->arp_last = e;
	}
	return NULL;
}

static void free_entry(struct net_stack *st, struct arp_entry *e)
{
	int32_t i = e->q_head;

	while (i >= 0) {
		int32_t next = st->arpq[i].next;

		st->arpq[i].next = st->arpq_free;
		st->arpq_free = i;
		CNT(st, arp_unresolved_drop);
		i = next;
	}
	tw_cancel(&e->t);
	e->state = ARP_FREE;
	e->q_head = e->q_tail = -1;
	e->q_len = 0;
	if (st->arp_last == e)
		st->arp_last = NULL;
}

/* An entry for ip. Unresolved entries may hold at most half the table:
 * a flood of packets (or SYN cookies) towards spoofed on-link addresses
 * then recycles its own oldest unresolved entries and never evicts the
 * peers we actually talk to. Otherwise: a free entry, else the least
 * recently used resolved one, else the oldest unresolved one. */
static struct arp_entry *alloc_entry(struct net_stack *st, uint32_t ip, bool resolving)
{
	struct arp_entry *victim = NULL, *lru = NULL, *oldest_inc = NULL;
	uint32_t incomplete = 0;

	for (uint32_t i = 0; i < st->cfg.arp_entries; i++) {
		struct arp_entry *e = &st->arp[i];

		if (e->state == ARP_FREE) {
			if (!victim)
				victim = e;
			continue;
		}
		if (e->state == ARP_RESOLVED) {
			if (!lru || e->used_us < lru->used_us)
				lru = e;
		} else {
			incomplete++;
			if (!oldest_inc || e->used_us < oldest_inc->used_us)
				oldest_inc = e;
		}
	}
	if (resolving && incomplete >= st->cfg.arp_entries / 2 && oldest_inc)
		victim = oldest_inc;
	else if (!victim)
		victim = lru ? lru : oldest_inc;
	if (!victim) {
		CNT(st, arp_table_full);
		return NULL;
	}
	if (victim->state != ARP_FREE) {
		if (victim->state != ARP_RESOLVED)
			CNT(st, arp_table_full);
		free_entry(st, victim);
	}
	victim->ip = ip;
	victim->state = ARP_INCOMPLETE;
	victim->tries = 0;
	victim->q_head = victim->q_tail = -1;
	victim->q_len = 0;
	victim->used_us = st->now_us;
	return victim;
}


static void send_arp(struct net_stack *st, uint16_t op, const uint8_t *dmac,
		     const uint8_t *tha, uint32_t tpa)
{
	uint8_t *f = eth_frame_begin(st), *a = f + ETH_HLEN;

	eth_fill(st, f, dmac, ETH_TYPE_ARP);
	fy_put16(a, 1);
	fy_put16(a + 2, ETH_TYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	fy_put16(a + 6, op);
	memcpy(a + 8, st->cfg.mac, 6);
	fy_put32(a + 14, st->cfg.ip);
	memcpy(a + 18, tha, 6);
	fy_put32(a + 24, tpa);
	if (op == 1)
		CNT(st, arp_req_tx);
	else
		CNT(st, arp_reply_tx);
	eth_tx(st, f, ETH_HLEN + ARP_LEN);
}

static void send_request(struct net_stack *st, struct arp_entry *e)
{
	static const uint8_t zero[6];

	e->tries++;
	tw_arm(&st->wheel, &e->t, now_ms(st) + st->cfg.arp_retry_ms);
	send_arp(st, 1, bcast, zero, e->ip);
}

static void flush_queue(struct net_stack *st, struct arp_entry *e)
{
	while (e->q_head >= 0) {
		int32_t i = e->q_head;
		struct arp_qslot *q = &st->arpq[i];

		e->q_head = q->next;
		memcpy(q->frame, e->mac, 6);
		eth_tx(st, q->frame, q->len);
		q->next = st->arpq_free;
		st->arpq_free = i;
	}
	e->q_tail = -1;
	e->q_len = 0;
}

static void resolved(struct net_stack *st, struct arp_entry *e, const uint8_t *mac)
{
	memcpy(e->mac, mac, 6);
	e->state = ARP_RESOLVED;
	e->tries = 0;
	e->expire_us = st->now_us + (uint64_t)st->cfg.arp_timeout_ms * 1000;
	e->used_us = st->now_us;
	tw_cancel(&e->t);
	flush_queue(st, e);
}

void arp_input(struct net_stack *st, const uint8_t *p, size_t len,
	       const uint8_t *eth_src)
{
	uint16_t op;
	uint32_t spa, tpa;
	const uint8_t *sha;
	struct arp_entry *e;

	(void)eth_src;
	if (len < ARP_LEN || fy_get16(p) != 1 || fy_get16(p + 2) != ETH_TYPE_IPV4 ||
	    p[4] != 6 || p[5] != 4) {
		CNT(st, arp_bad);
		return;
	}
	op = fy_get16(p + 6);
	sha = p + 8;
	spa = fy_get32(p + 14);
	tpa = fy_get32(p + 24);
	if ((op != 1 && op != 2) || (sha[0] & 1)) {
		CNT(st, arp_bad);	/* unknown op, or multicast sender */
		return;
	}
	if (spa == st->cfg.ip) {
		/* Someone else claims our address; never learn it. */
		if (memcmp(sha, st->cfg.mac, 6))
			CNT(st, arp_conflict);
		return;
	}
	/* RFC 826 merge: refresh what we already know about the sender. */
	e = spa ? find(st, spa) : NULL;
	if (e)
		resolved(st, e, sha);
	if (tpa != st->cfg.ip) {
		CNT(st, arp_not_ours);
		return;
	}
	if (!e && spa && ipv4_is_local_net(st, spa)) {
		e = alloc_entry(st, spa, false);
		if (e)
			resolved(st, e, sha);
	}
	if (op == 1) {
		CNT(st, arp_req_rx);
		send_arp(st, 2, sha, sha, spa);
	} else {
		CNT(st, arp_reply_rx);
	}
}

static void enqueue(struct net_stack *st, struct arp_entry *e, const uint8_t *f,
		    size_t len)
{
	int32_t i;

	if (e->q_len >= st->cfg.arp_queue_per_entry) {
		/* Drop the oldest: the newest is the most useful to TCP. */
		i = e->q_head;
		e->q_head = st->arpq[i].next;
		if (e->q_head < 0)
			e->q_tail = -1;
		e->q_len--;
		st->arpq[i].next = st->arpq_free;
		st->arpq_free = i;
		CNT(st, arp_queue_drop);
	}
	i = st->arpq_free;
	if (i < 0) {
		CNT(st, arp_queue_drop);
		return;
	}
	st->arpq_free = st->arpq[i].next;
	memcpy(st->arpq[i].frame, f, len);
	st->arpq[i].len = (uint32_t)len;
	st->arpq[i].next = -1;
	if (e->q_tail >= 0)
		st->arpq[e->q_tail].next = i;
	else
		e->q_head = i;
	e->q_tail = i;
	e->q_len++;
}

void arp_output(struct net_stack *st, uint32_t nh, uint8_t *f, size_t len)
{
	struct arp_entry *e = find(st, nh);

	if (e && e->state == ARP_RESOLVED) {
		e->used_us = st->now_us;
		memcpy(f, e->mac, 6);
		eth_tx(st, f, len);
		/* Aged out: keep sending while we re-confirm, so a busy
		 * connection does not stall every arp_timeout. After the
		 * frame: the request is built in the same output buffer. */
		if (st->now_us >= e->expire_us && !e->tries)
			send_request(st, e);
		return;
	}
	if (!e) {
		e = alloc_entry(st, nh, true);
		if (!e) {
			CNT(st, arp_queue_drop);
			return;
		}
	}
	enqueue(st, e, f, len);
	if (!e->tries)
		send_request(st, e);
}

static void arp_timer(struct tw_timer *t)
{
	struct arp_entry *e = container_of(t, struct arp_entry, t);
	struct net_stack *st = e->st;

	if (e->state == ARP_RESOLVED && st->now_us < e->expire_us)
		return;		/* a reply came in time */
	if (e->tries >= st->cfg.arp_retries) {
		if (e->state == ARP_RESOLVED)
			CNT(st, arp_expired);
		free_entry(st, e);
		return;
	}
	send_request(st, e);
}
