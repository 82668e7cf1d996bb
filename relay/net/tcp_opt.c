/* TCP options: parse what the peer sent (every length checked against the
 * option space; a malformed list stops parsing and is counted, the
 * segment itself is still processed, as Linux does), and build ours. */
#include "net_impl.h"

enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACK_OK = 4,
       OPT_TS = 8 };

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
			s->opt_mss = get16(p + i + 2);
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
			s->sack_ok = true;	/* noted; we do not do SACK */
			break;
		case OPT_TS:
			if (olen != 10)
				return -1;
			s->has_ts = true;
			s->tsval = get32(p + i + 2);
			s->tsecr = get32(p + i + 6);
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
	put32(o + 4, tsval);
	put32(o + 8, tsecr);
	return 12;
}

/* MSS, then NOP NOP TS, then NOP WS: 4-byte aligned, 20 bytes at most. */
size_t tcp_opt_syn(uint8_t *o, uint16_t mss, int wscale, bool ts,
		   uint32_t tsval, uint32_t tsecr)
{
	size_t n = 0;

	o[n++] = OPT_MSS;
	o[n++] = 4;
	put16(o + n, mss);
	n += 2;
	if (ts)
		n += tcp_opt_ts(o + n, tsval, tsecr);
	if (wscale >= 0) {
		o[n++] = OPT_NOP;
		o[n++] = OPT_WS;
		o[n++] = 3;
		o[n++] = (uint8_t)wscale;
	}
	return n;
}
