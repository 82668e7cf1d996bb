/* A TLS ClientHello built for tests of the SNI parser (unit and fuzz):
 * record header, handshake header, version, random, session id, suites,
 * compression, an extension before server_name and server_name itself
 * (name NULL: none). Returns its length; out holds at least 600 bytes. */
#ifndef FERRY_TEST_SNI_BUILD_H
#define FERRY_TEST_SNI_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t sni_build(uint8_t *out, const char *name)
{
	uint8_t *p = out + 9, *ext_len, *body = out + 5;
	size_t nl = name ? strlen(name) : 0, hl, rl;

	*p++ = 3;			/* legacy_version 3.3 */
	*p++ = 3;
	memset(p, 0xab, 32);		/* random */
	p += 32;
	*p++ = 32;			/* session id */
	memset(p, 0xcd, 32);
	p += 32;
	*p++ = 0;			/* two suites */
	*p++ = 4;
	*p++ = 0x13; *p++ = 0x01; *p++ = 0x13; *p++ = 0x02;
	*p++ = 1;			/* compression: null */
	*p++ = 0;
	ext_len = p;
	p += 2;
	*p++ = 0x00; *p++ = 0x0b;	/* ec_point_formats, before the name */
	*p++ = 0x00; *p++ = 0x02;
	*p++ = 0x01; *p++ = 0x00;
	if (name) {
		*p++ = 0; *p++ = 0;	/* server_name */
		*p++ = (uint8_t)((nl + 5) >> 8); *p++ = (uint8_t)(nl + 5);
		*p++ = (uint8_t)((nl + 3) >> 8); *p++ = (uint8_t)(nl + 3);
		*p++ = 0;		/* host_name */
		*p++ = (uint8_t)(nl >> 8); *p++ = (uint8_t)nl;
		memcpy(p, name, nl);
		p += nl;
	}
	ext_len[0] = (uint8_t)((size_t)(p - ext_len - 2) >> 8);
	ext_len[1] = (uint8_t)(p - ext_len - 2);
	hl = (size_t)(p - body) - 4;
	rl = (size_t)(p - body);
	out[0] = 0x16; out[1] = 3; out[2] = 1;
	out[3] = (uint8_t)(rl >> 8); out[4] = (uint8_t)rl;
	body[0] = 1;
	body[1] = (uint8_t)(hl >> 16); body[2] = (uint8_t)(hl >> 8); body[3] = (uint8_t)hl;
	return (size_t)(p - out);
}

#endif
