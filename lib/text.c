/* Text helpers shared by the agent and the relay (see ferry/text.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ferry/text.h"

int fy_port_range_parse(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long l, h;

	if (!strcmp(s, "*")) {
		*lo = 1;
		*hi = 65535;
		return 0;
	}
	/* Digits and one '-' only: strtoul would also take "+22" and " 22". */
	if (s[strspn(s, "0123456789-")])
		return -1;
	l = strtoul(s, &end, 10);
	h = l;
	if (*end == '-')
		h = strtoul(end + 1, &end, 10);
	if (*end || end == s || l < 1 || h > 65535 || l > h)
		return -1;
	*lo = (uint16_t)l;
	*hi = (uint16_t)h;
	return 0;
}

bool fy_list_has_token(const char *v, size_t n, const char *token)
{
	const char *end = v + n;
	size_t tl = strlen(token);

	while (v < end) {
		const char *c = memchr(v, ',', (size_t)(end - v));
		const char *e = c ? c : end;

		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - v) == tl && !strncasecmp(v, token, tl))
			return true;
		v = c ? c + 1 : end;
	}
	return false;
}
