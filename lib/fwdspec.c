/* Forwards in ferry-agent's command-line syntax (see ferry/fwdspec.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/fwdspec.h"

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	/* Digits only: strtoul would also take "+22" and " 22". */
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Splits at ':' outside brackets. Returns the number of fields. */
static int split_fields(char *s, char **f, int max)
{
	int n = 0, depth = 0;

	f[n++] = s;
	for (; *s; s++) {
		if (*s == '[')
			depth++;
		else if (*s == ']')
			depth--;
		else if (*s == ':' && depth == 0) {
			if (n == max)
				return -1;
			*s = 0;
			f[n++] = s + 1;
		}
	}
	return n;
}

static void unbracket(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		memmove(s, s + 1, n - 2);
		s[n - 2] = 0;
	}
}

/* ",proxy-protocol" at the end of a TCP forward: cut off spec (a copy in
 * buf). */
static const char *cut_options(const char *spec, char *buf, size_t n, bool *pp)
{
	static const char opt[] = ",proxy-protocol";
	size_t l = strlen(spec), ol = sizeof(opt) - 1;

	*pp = false;
	if (l >= n || l <= ol || strcmp(spec + l - ol, opt))
		return spec;
	memcpy(buf, spec, l - ol);
	buf[l - ol] = '\0';
	*pp = true;
	return buf;
}

static int parse_remote(const char *spec, struct fy_fwdspec *f, char *err, size_t errlen)
{
	char buf[600], cut[600], *fld[4];
	bool pp;
	int n;

	memset(f, 0, sizeof(*f));
	f->opt = 'R';
	spec = cut_options(spec, cut, sizeof(cut), &pp);
	f->proxy_protocol = pp;
	if (!strncmp(spec, "udp:", 4)) {
		f->udp = true;
		spec += 4;
	} else if (!strncmp(spec, "tcp:", 4)) {
		spec += 4;	/* the default, said out loud */
	}
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	memcpy(buf, spec, strlen(spec) + 1);
	n = split_fields(buf, fld, 4);
	if (n == 4) {
		if (strlen(fld[0]) >= sizeof(f->bind))
			goto bad;
		memcpy(f->bind, fld[0], strlen(fld[0]) + 1);
		unbracket(f->bind);
	} else if (n != 3) {
		goto bad;
	}
	if (parse_port(fld[n - 3], &f->port) < 0 || parse_port(fld[n - 1], &f->hostport) < 0)
		goto bad;
	unbracket(fld[n - 2]);
	if (!fld[n - 2][0] || strlen(fld[n - 2]) >= sizeof(f->host))
		goto bad;
	memcpy(f->host, fld[n - 2], strlen(fld[n - 2]) + 1);
	if (f->udp && f->proxy_protocol) {
		snprintf(err, errlen, "bad -R 'udp:%s': proxy-protocol is for TCP forwards", spec);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad -R '%s%s': expected [udp:][bind:]port:host:hostport"
		 "[,proxy-protocol], ports 1-65535", f->udp ? "udp:" : "", spec);
	return -1;
}

/* -H / -S NAME:host:hostport: NAME is one DNS label, taken in lower case
 * (Host headers and server names compare without case). */
static int parse_name(int opt, const char *spec, struct fy_fwdspec *f, char *err, size_t errlen)
{
	char buf[600], cut[600], *fld[4];
	bool pp;
	size_t nl;

	memset(f, 0, sizeof(*f));
	f->opt = (char)opt;
	spec = cut_options(spec, cut, sizeof(cut), &pp);
	f->proxy_protocol = pp;
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	memcpy(buf, spec, strlen(spec) + 1);
	if (split_fields(buf, fld, 4) != 3)
		goto bad;
	nl = strlen(fld[0]);
	for (size_t i = 0; i < nl; i++)
		if (fld[0][i] >= 'A' && fld[0][i] <= 'Z')
			fld[0][i] = (char)(fld[0][i] - 'A' + 'a');
	if (!fy_name_label_ok(fld[0], nl) || parse_port(fld[2], &f->hostport) < 0)
		goto bad;
	memcpy(f->name, fld[0], nl + 1);
	unbracket(fld[1]);
	if (!fld[1][0] || strlen(fld[1]) >= sizeof(f->host))
		goto bad;
	memcpy(f->host, fld[1], strlen(fld[1]) + 1);
	return 0;
bad:
	snprintf(err, errlen, "bad -%c '%s': expected NAME:host:hostport[,proxy-protocol], NAME one "
		 "DNS label (1..63 of a-z 0-9 -)", opt, spec);
	return -1;
}

static bool is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Agent names as the relay's tokens allow them. */
static bool agent_name_ok(const char *s)
{
	return *s && strlen(s) <= FY_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
	       strlen(s);
}

static int copy_field(char *dst, size_t cap, char *src)
{
	unbracket(src);
	if (!*src || strlen(src) >= cap)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* -L [udp:][bind:]port:AGENT:host:hostport, -D [bind:]port[:AGENT],
 * -W AGENT:host:port */
static int parse_local(int opt, const char *spec, struct fy_fwdspec *lf, char *err, size_t errlen)
{
	char buf[600], *fld[5];
	const char *what = "[udp:][bind:]port:AGENT:host:hostport";
	int n, i = 0;

	memset(lf, 0, sizeof(*lf));
	lf->opt = (char)opt;
	if (opt == 'D')
		what = "[bind:]port[:AGENT]";
	else if (opt == 'W')
		what = "AGENT:host:port";
	if (opt == 'L' && !strncmp(spec, "udp:", 4)) {
		lf->udp = true;
		spec += 4;
	} else if (opt == 'L' && !strncmp(spec, "tcp:", 4)) {
		spec += 4;
	}
	if (strlen(spec) >= sizeof(buf))
		goto bad;
	memcpy(buf, spec, strlen(spec) + 1);
	n = split_fields(buf, fld, 5);
	if (opt == 'W') {
		if (n != 3 || parse_port(fld[2], &lf->hostport) < 0)
			goto bad;
		snprintf(lf->agent, sizeof(lf->agent), "%s", fld[0]);
		if (!agent_name_ok(fld[0]) || copy_field(lf->host, sizeof(lf->host), fld[1]) < 0)
			goto bad;
		return 0;
	}
	if (opt == 'D') {
		/* port | bind:port | port:AGENT | bind:port:AGENT */
		if (n < 1 || n > 3)
			goto bad;
		if (n == 3 || (n == 2 && is_number(fld[1])))
			i = 1;
		if (i && copy_field(lf->bind, sizeof(lf->bind), fld[0]) < 0)
			goto bad;
		if (parse_port(fld[i], &lf->port) < 0)
			goto bad;
		if (i + 1 < n) {
			if (!agent_name_ok(fld[i + 1]))
				goto bad;
			snprintf(lf->agent, sizeof(lf->agent), "%s", fld[i + 1]);
		}
		return 0;
	}
	if (n == 5)
		i = 1;
	else if (n != 4)
		goto bad;
	if (i && copy_field(lf->bind, sizeof(lf->bind), fld[0]) < 0)
		goto bad;
	if (parse_port(fld[i], &lf->port) < 0 || !agent_name_ok(fld[i + 1]) ||
	    copy_field(lf->host, sizeof(lf->host), fld[i + 2]) < 0 ||
	    parse_port(fld[i + 3], &lf->hostport) < 0)
		goto bad;
	snprintf(lf->agent, sizeof(lf->agent), "%s", fld[i + 1]);
	return 0;
bad:
	snprintf(err, errlen, "bad -%c '%s%s': expected %s, ports 1-65535, AGENT a name of "
		 "letters, digits, '-', '_', '.'", opt, lf->udp ? "udp:" : "", spec, what);
	return -1;
}


int fy_fwdspec_parse_arg(int opt, const char *arg, struct fy_fwdspec *f, char *err,
			 size_t errlen)
{
	switch (opt) {
	case 'R':
		return parse_remote(arg, f, err, errlen);
	case 'H':
	case 'S':
		return parse_name(opt, arg, f, err, errlen);
	case 'L':
	case 'D':
	case 'W':
		return parse_local(opt, arg, f, err, errlen);
	default:
		snprintf(err, errlen, "unknown forward -%c (expected -R, -H, -S, -L, -D or -W)", opt);
		return -1;
	}
}

int fy_fwdspec_parse(const char *spec, struct fy_fwdspec *f, char *err, size_t errlen)
{
	const char *p = spec;

	memset(f, 0, sizeof(*f));
	if (p[0] != '-' || !p[1] || !strchr("RHSLDW", p[1])) {
		snprintf(err, errlen, "bad forward '%.200s': expected -R, -H, -S, -L, -D or -W and "
			 "its argument, as on ferry-agent's command line", spec);
		return -1;
	}
	p += 2;
	p += strspn(p, " ");
	return fy_fwdspec_parse_arg(spec[1], p, f, err, errlen);
}

/* host, in brackets when it holds a ':' (an IPv6 literal). */
static const char *hostf(const char *h)
{
	return strchr(h, ':') ? "[%s]" : "%s";
}

void fy_fwdspec_str(const struct fy_fwdspec *f, char *out, size_t n)
{
	char bind[80] = "", host[FY_HOST_MAX + 3];
	const char *proto = f->udp ? "udp:" : "";
	const char *pp = f->proxy_protocol ? ",proxy-protocol" : "";

	if (f->bind[0]) {
		snprintf(bind, sizeof(bind), hostf(f->bind), f->bind);
		strcat(bind, ":");
	}
	snprintf(host, sizeof(host), hostf(f->host), f->host);
	switch (f->opt) {
	case 'R':
		snprintf(out, n, "-R %s%s%u:%s:%u%s", proto, bind, f->port, host, f->hostport, pp);
		break;
	case 'H':
	case 'S':
		snprintf(out, n, "-%c %s:%s:%u%s", f->opt, f->name, host, f->hostport, pp);
		break;
	case 'L':
		snprintf(out, n, "-L %s%s%u:%s:%s:%u", proto, bind, f->port, f->agent, host,
			 f->hostport);
		break;
	case 'D':
		snprintf(out, n, "-D %s%u%s%s", bind, f->port, f->agent[0] ? ":" : "", f->agent);
		break;
	case 'W':
		snprintf(out, n, "-W %s:%s:%u", f->agent, host, f->hostport);
		break;
	default:
		snprintf(out, n, "-%c ?", f->opt ? f->opt : '?');
	}
}
