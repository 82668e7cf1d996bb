/* The WebSocket upgrade's keys (RFC 6455 section 4): OpenSSL only, so
 * built with or without wslay (see ws.h). */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ferry/ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int fy_ws_accept(const char *key, size_t n, char *out)
{
	unsigned char md[SHA_DIGEST_LENGTH];
	char buf[128];

	if (n > sizeof(buf) - sizeof(WS_GUID))
		return -1;
	memcpy(buf, key, n);
	memcpy(buf + n, WS_GUID, sizeof(WS_GUID) - 1);
	SHA1((const unsigned char *)buf, n + sizeof(WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);	/* 28 + NUL */
	return 0;
}

int fy_ws_new_key(char *out)
{
	unsigned char nonce[16];

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, nonce, sizeof(nonce));	/* 24 + NUL */
	return 0;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

bool fy_ws_key_ok(const char *v, size_t n)
{
	if (n != FY_WS_KEY_LEN || v[22] != '=' || v[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!b64_char(v[i]))
			return false;
	/* 16 bytes end on 4 bits of the 22nd character: the rest are 0. */
	return strchr("AQgw", v[21]) != NULL;
}
