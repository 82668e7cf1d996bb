/* TCP options: parse what the peer sent (every length checked against the
 * option space; a malformed list stops parsing and is counted, the
 * segment itself is still processed, as Linux does), and build ours. */
#include "net_impl.h"

enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACK_OK = 4,
       OPT_SACK = 5, OPT_TS = 8 };

int tcp_opt_parse(struct tcp_seg *s, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return -1;
		olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return -1;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return -1;
			s->has_mss = true;
			s->opt_mss = fy_get16(p + i + 2);
			break;
		case OPT_WS:
			if (olen != 3)
				return -1;
			s->has_ws = true;
			s->opt_ws = p[i + 2];
			break;
		case OPT_SACK_OK:
			if (olen != 2)
				return -1;
			s->sack_ok = true;
			break;
		case OPT_SACK:
			/* 1 to 4 blocks of two sequence numbers. */
			if (olen < 10 || (olen - 2) % 8 || olen > 34)
				return -1;
			s->nsack = (uint8_t)((olen - 2) / 8);
			for (unsigned b = 0; b < s->nsack; b++) {
				s->sack_l[b] = fy_get32(p + i + 2 + 8 * b);
				s->sack_r[b] = fy_get32(p + i + 6 + 8 * b);
			}
			break;
		case OPT_TS:
			if (olen != 10)
				return -1;
			s->has_ts = true;
			s->tsval = fy_get32(p + i + 2);
			s->tsecr = fy_get32(p + i + 6);
			break;
		default:
			break;	/* unknown kinds are skipped by length */
		}
		i += olen;
	}
	return 0;
}

size_t tcp_opt_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = OPT_NOP;
	o[1] = OPT_NOP;
	o[2] = OPT_TS;
	o[3] = 10;
	fy_put32(o + 4, tsval);
	fy_put32(o + 8, tsecr);
	return 12;
}

size_t tcp_opt_sack(uint8_t *o, const uint32_t *l, const uint32_t *r, unsigned n)
{
	o[0] = OPT_NOP;
	o[1] = OPT_NOP;
	o[2] = OPT_SACK;
	o[3] = (uint8_t)(2 + 8 * n);
	for (unsigned b = 0; b < n; b++) {
		fy_put32(o + 4 + 8 * b, l[b]);
		fy_put32(o + 8 + 8 * b, r[b]);
	}
	return 4 + 8 * n;
}

/* MSS, then SACK-permitted and TS (in the two NOPs before TS, as Linux
 * lays them out), then NOP WS: 4-byte aligned, 20 bytes at most. */
size_t tcp_opt_syn(uint8_t *o, uint16_t mss, int wscale, bool ts, bool sack,
		   uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;

	o[n++] = OPT_MSS;
	o[n++] = 4;
	fy_put16(o + n, mss);
	n += 2;
	if (ts) {
		n += tcp_opt_ts(o + n, tsval, tsecr);
		if (sack) {
			o[n - 12] = OPT_SACK_OK;
			o[n - 11] = 2;
		}
	} else if (sack) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_NOP;
		o[n++] = OPT_SACK_OK;
		o[n++] = 2;
	}
	if (wscale >= 0) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_WS;
		o[n++] = 3;
		o[n++] = (uint8_t)wscale;
	}
	return n;
}
