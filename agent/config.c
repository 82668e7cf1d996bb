/* ferry-agent's command line and config file, modelled on OpenSSH's. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "ferry/conf.h"
#include "ferry_config.h"

#define PROG "ferry-agent"

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-agent --relay HOST:PORT --token-file FILE (--ca FILE | --fingerprint SHA256:HEX)\n"
"                   [-R ...] [-L ...] [-D ...] [-W ...] [--allow ...] [options]\n"
"\n"
"Dials out to a ferry relay over TLS 1.3. Makes local services reachable on the\n"
"relay's public ports, like 'ssh -R', and reaches services in other agents' networks,\n"
"like 'ssh -L', '-D' and '-W'. Stays up: reconnects with backoff when the relay goes\n"
"away and claims its ports again.\n"
"\n"
"  -R [bind:]port:host:hostport   connections to relay port 'port' reach host:hostport\n"
"                                 from this machine (only targets named by -R are ever dialed)\n"
"  -R udp:port:host:hostport      the same for datagrams to the relay's UDP port 'port'\n"
"  -H NAME:host:hostport          HTTP requests to the relay for NAME (Host NAME.DOMAIN or\n"
"                                 path /forward/NAME/) reach the web server host:hostport\n"
"  -S NAME:host:hostport          TLS connections to the relay with server name\n"
"                                 NAME.DOMAIN pass through, untouched, to host:hostport\n"
"  ...,proxy-protocol             after a TCP -R, -H or -S: the target first gets a PROXY\n"
"                                 protocol v2 header with the client's address\n"
"  -L [bind:]port:AGENT:host:hostport\n"
"                                 connections to local port 'port' (bind: 127.0.0.1 unless\n"
"                                 given) reach host:hostport from agent AGENT's machine\n"
"  -L udp:[bind:]port:AGENT:host:hostport   the same for datagrams\n"
"  -D [bind:]port[:AGENT]         a SOCKS5 server on local port 'port' into AGENT's network;\n"
"                                 without AGENT, a name HOST.AGENT.ferry says which agent\n"
"  -W AGENT:host:port             standard input and output as one connection to host:port\n"
"                                 from AGENT (ssh -o ProxyCommand); exits when it ends\n"
"  --allow [tcp:|udp:]HOST:PORT   what other agents may reach through this one (nothing\n"
"                                 unless listed): a name or glob (*.lan), an address or\n"
"                                 prefix (10.0.0.0/24, [fd00::]/8); PORT a number, LO-HI or *\n"
"  --socks-auth USER:PASS         -D asks SOCKS5 clients for this login (RFC 1929)\n"
"  --udp-idle-ms N                a UDP flow with no datagram for N ms ends (60000)\n"
"  --relay HOST:PORT          the relay's agent address\n"
"  --token-file FILE          file holding the token from 'ferry-relay token add' (mode 0600);\n"
"                             or the environment variable FERRY_TOKEN\n"
"  --token TOKEN              the token itself, for quick tries only: any local user can\n"
"                             read a command line (ps); use --token-file or FERRY_TOKEN\n"
"  --ca FILE                  CA certificate that signed the relay's certificate\n"
"  --fingerprint SHA256:HEX   pin the relay's certificate instead of using a CA\n"
"  --server-name NAME         name expected in the relay certificate (default: HOST)\n"
"  --cert FILE --key FILE     client certificate for mutual TLS (optional)\n"
"  --name NAME                agent name (default: the token's first agent)\n"
"  --io auto|epoll|uring      event loop backend (default auto: io_uring when the kernel allows)\n"
"  --keepalive-ms N           ping interval (default: the relay's)\n"
"  --drain-ms N               on SIGTERM, how long open streams may finish (5000)\n"
"  --max-streams N            streams (target connections) at once; more are refused (1024)\n"
"  --window BYTES             the most one stream may hold for a slow target (1M); a relay\n"
"                             that sends more has that stream reset\n"
"  --max-buffer-mem BYTES     memory all streams' windows may grow into together (32M)\n"
"  --transport tls|wss|auto   how tunnels reach the relay: TLS to --relay (default), a\n"
"                             WebSocket over HTTPS to the relay's --https-listen port\n"
"                             (--wss-port, 443) for networks that let only HTTP(S) out, or\n"
"                             auto: TLS first, then wss (the log says which one it got)\n"
"  --wss-port PORT            the relay's HTTPS port for wss (443; the host is --relay's)\n"
"  --wss-path PATH            the relay's tunnel path for wss (/_ferry/tunnel)\n"
"  --proxy URL                reach the relay through an HTTP proxy (CONNECT):\n"
"                             http://[user:password@]host[:port]; without it https_proxy or\n"
"                             HTTPS_PROXY is used unless no_proxy names the relay; 'none':\n"
"                             no proxy at all. Credentials on a command line are readable\n"
"                             by every local user: put 'proxy URL' in a --config file\n"
"  --log-level LEVEL          err, warn, info (default) or debug\n"
"  --config FILE              read options from FILE (same names, one per line: 'R 2221:127.0.0.1:22')\n"
"  --help                     this text\n"
"\n"
"exit codes: 0 stopped by signal, 1 runtime error, 2 bad usage or refused by the relay\n");
}

enum {
	O_RELAY = 256, O_TOKEN, O_TOKEN_FILE, O_CA, O_FP, O_SNI, O_CERT, O_KEY, O_NAME, O_IO,
	O_KEEPALIVE, O_DRAIN, O_LOG, O_CONFIG, O_HELP, O_BACKOFF_MIN, O_BACKOFF_MAX,
	O_MAX_STREAMS, O_WINDOW, O_MAX_BUFFER_MEM, O_ALLOW, O_SOCKS_AUTH, O_UDP_IDLE,
	O_TRANSPORT, O_WSS_PORT, O_WSS_PATH, O_PROXY,
};

static const struct option opts[] = {
	{ "relay", required_argument, NULL, O_RELAY },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "token-file", required_argument, NULL, O_TOKEN_FILE },
	{ "ca", required_argument, NULL, O_CA },
	{ "fingerprint", required_argument, NULL, O_FP },
	{ "server-name", required_argument, NULL, O_SNI },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "name", required_argument, NULL, O_NAME },
	{ "io", required_argument, NULL, O_IO },
	{ "keepalive-ms", required_argument, NULL, O_KEEPALIVE },
	{ "drain-ms", required_argument, NULL, O_DRAIN },
	{ "log-level", required_argument, NULL, O_LOG },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "help", no_argument, NULL, O_HELP },
	{ "backoff-min-ms", required_argument, NULL, O_BACKOFF_MIN },
	{ "backoff-max-ms", required_argument, NULL, O_BACKOFF_MAX },
	{ "max-streams", required_argument, NULL, O_MAX_STREAMS },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "max-buffer-mem", required_argument, NULL, O_MAX_BUFFER_MEM },
	{ "allow", required_argument, NULL, O_ALLOW },
	{ "socks-auth", required_argument, NULL, O_SOCKS_AUTH },
	{ "udp-idle-ms", required_argument, NULL, O_UDP_IDLE },
	{ "transport", required_argument, NULL, O_TRANSPORT },
	{ "wss-port", required_argument, NULL, O_WSS_PORT },
	{ "wss-path", required_argument, NULL, O_WSS_PATH },
	{ "proxy", required_argument, NULL, O_PROXY },
	{ "remote", required_argument, NULL, 'R' },
	{ "http-name", required_argument, NULL, 'H' },
	{ "tls-name", required_argument, NULL, 'S' },
	{ "local", required_argument, NULL, 'L' },
	{ "dynamic", required_argument, NULL, 'D' },
	{ "stdio", required_argument, NULL, 'W' },
	{ NULL, 0, NULL, 0 },
};

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

/* ",proxy-protocol" at the end of a TCP forward: cut it off spec (a copy
 * in buf). */
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

const char *agent_fwd_str(const struct fwd *f, char *buf, size_t n)
{
	const char *pp = f->proxy_protocol ? ",proxy-protocol" : "";

	if (f->kind)
		snprintf(buf, n, "-%c %s:%s:%u%s", f->kind == FY_NAME_TLS ? 'S' : 'H', f->name, f->host,
			 f->hostport, pp);
	else
		snprintf(buf, n, "-R %s%u:%s:%u%s", f->udp ? "udp:" : "", f->port, f->host,
			 f->hostport, pp);
	return buf;
}

int agent_parse_name(int opt, const char *spec, struct fwd *f, char *err, size_t errlen)
{
	char buf[600], cut[600], *fld[4];
	bool pp;
	size_t nl;

	memset(f, 0, sizeof(*f));
	spec = cut_options(spec, cut, sizeof(cut), &pp);
	f->proxy_protocol = pp;
	f->kind = opt == 'S' ? FY_NAME_TLS : FY_NAME_HTTP;
	if (strlen(spec) >= sizeof(buf) || split_fields(strcpy(buf, spec), fld, 4) != 3)
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

int agent_parse_remote(const char *spec, struct fwd *f, char *err, size_t errlen)
{
	char buf[600], cut[600], *fld[4];
	bool pp;
	int n;

	memset(f, 0, sizeof(*f));
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
int agent_parse_local(int opt, const char *spec, struct lfwd *lf, char *err, size_t errlen)
{
	char buf[600], *fld[5];
	const char *what = "[udp:][bind:]port:AGENT:host:hostport";
	int n, i = 0;

	memset(lf, 0, sizeof(*lf));
	lf->kind = opt == 'D' ? L_SOCKS : opt == 'W' ? L_STDIO : L_TCP;
	if (opt == 'D')
		what = "[bind:]port[:AGENT]";
	else if (opt == 'W')
		what = "AGENT:host:port";
	if (opt == 'L' && !strncmp(spec, "udp:", 4)) {
		lf->kind = L_UDP;
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
		 "letters, digits, '-', '_', '.'", opt, lf->kind == L_UDP ? "udp:" : "", spec, what);
	return -1;
}

static int read_token_file(struct agent_cfg *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[FY_TOKEN_MAX + 8];

	if (!f) {
		fprintf(stderr, "ferry-agent: cannot read token file %s: %s\n", path, strerror(errno));
		return -1;
	}
	fy_conf_warn_private(PROG, path, "token file");
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	if (!line[0]) {
		fprintf(stderr, "ferry-agent: token file %s is empty: put the token from 'ferry-relay "
			"token add' on its first line\n", path);
		return -1;
	}
	return fy_conf_copy(PROG, c->token, sizeof(c->token), "token-file", line);
}

static int parse_login(struct agent_cfg *c, const char *s)
{
	const char *colon = strchr(s, ':');

	if (!colon || colon == s || !colon[1] || (size_t)(colon - s) >= sizeof(c->socks_user) ||
	    strlen(colon + 1) >= sizeof(c->socks_pass) || colon - s > 255 ||
	    strlen(colon + 1) > 255) {
		fprintf(stderr, "ferry-agent: --socks-auth must be USER:PASS, each 1-255 bytes\n");
		return -1;
	}
	snprintf(c->socks_user, sizeof(c->socks_user), "%.*s", (int)(colon - s), s);
	snprintf(c->socks_pass, sizeof(c->socks_pass), "%s", colon + 1);
	return 0;
}

/* A path for the request line: no spaces, no controls, no '?' games. */
static bool wss_path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) >= sizeof(((struct agent_cfg *)0)->wss_path))
		return false;
	for (; *p; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

/* --proxy URL: checked now (the message never repeats credentials),
 * kept as given and parsed again at start. */
static int proxy_option(struct agent_cfg *c, const char *url, const char *file)
{
	struct proxy p;
	char err[300];

	if (strcmp(url, "none") && proxy_parse(url, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "ferry-agent: --proxy: %s\n", err);
		return -1;
	}
	if (strlen(url) >= sizeof(c->proxy_url)) {
		fprintf(stderr, "ferry-agent: --proxy URL too long\n");
		return -1;
	}
	if (!file && p.auth[0] && strcmp(url, "none"))
		fprintf(stderr, "ferry-agent: warning: --proxy credentials on the command line are "
			"readable by every local user (ps); put 'proxy URL' in a --config file or "
			"use https_proxy\n");
	memcpy(c->proxy_url, url, strlen(url) + 1);
	c->proxy_given = true;
	OPENSSL_cleanse(&p, sizeof(p));
	return 0;
}

static int parse_vec(void *cfg, int argc, char **argv, const char *file)
{
	struct agent_cfg *c = cfg;
	int o, idx;
	char err[300];

	if (!file)	/* getopt's own messages name the program, not its path */
		argv[0] = (char *)PROG;
	optind = 1;
	while ((o = getopt_long(argc, argv, "R:H:S:L:D:W:h", opts, &idx)) != -1) {
		int e = 0;

		switch (o) {
		case 'R':
		case 'H':
		case 'S':
			if (c->nfwds == AGENT_MAX_FWDS) {
				fprintf(stderr, "ferry-agent: at most %d -R, -H and -S in all\n",
					AGENT_MAX_FWDS);
				e = -1;
			} else if ((o == 'R' ? agent_parse_remote(optarg, &c->fwds[c->nfwds], err,
								  sizeof(err)) :
				    agent_parse_name(o, optarg, &c->fwds[c->nfwds], err,
						     sizeof(err))) < 0) {
				fprintf(stderr, "ferry-agent: %s\n", err);
				e = -1;
			} else {
				c->nfwds++;
			}
			break;
		case 'L':
		case 'D':
		case 'W':
			if (c->nlfwds == AGENT_MAX_FWDS) {
				fprintf(stderr, "ferry-agent: at most %d -L, -D and -W in all\n",
					AGENT_MAX_FWDS);
				e = -1;
			} else if (agent_parse_local(o, optarg, &c->lfwds[c->nlfwds], err,
						     sizeof(err)) < 0) {
				fprintf(stderr, "ferry-agent: %s\n", err);
				e = -1;
			} else {
				c->nlfwds++;
			}
			break;
		case O_ALLOW:
			if (c->nallows == AGENT_MAX_ALLOW) {
				fprintf(stderr, "ferry-agent: at most %d --allow\n", AGENT_MAX_ALLOW);
				e = -1;
			} else if (allow_parse(optarg, &c->allows[c->nallows], err, sizeof(err)) < 0) {
				fprintf(stderr, "ferry-agent: %s\n", err);
				e = -1;
			} else {
				c->nallows++;
			}
			break;
		case O_SOCKS_AUTH:
			e = parse_login(c, optarg);
			if (!file && e == 0)
				fprintf(stderr, "ferry-agent: warning: --socks-auth on the command line is "
					"readable by every local user (ps); put it in a --config file\n");
			break;
		case O_TRANSPORT:
			if (xport_parse(optarg, &c->transport) < 0) {
				fprintf(stderr, "ferry-agent: --transport must be tls, wss or auto\n");
				e = -1;
			}
			break;
		case O_WSS_PORT:
			if (parse_port(optarg, &c->wss_port) < 0) {
				fprintf(stderr, "ferry-agent: --wss-port must be 1-65535\n");
				e = -1;
			}
			break;
		case O_WSS_PATH:
			e = wss_path_ok(optarg) ? fy_conf_copy(PROG, c->wss_path, sizeof(c->wss_path),
							       "wss-path", optarg) : -1;
			if (e < 0)
				fprintf(stderr, "ferry-agent: --wss-path must start with '/' and hold "
					"only visible ASCII (at most 127 bytes)\n");
			break;
		case O_PROXY:
			e = proxy_option(c, optarg, file);
			break;
		case O_UDP_IDLE: e = fy_conf_num(PROG, "udp-idle-ms", optarg, 100, 86400000, &c->udp_idle_ms); break;
		case O_RELAY: e = fy_conf_copy(PROG, c->relay, sizeof(c->relay), "relay", optarg); break;
		case O_TOKEN:
			e = fy_conf_copy(PROG, c->token, sizeof(c->token), "token", optarg);
			c->token_given = true;
			if (file)
				fy_conf_warn_private(PROG, file, "config file (it holds a token)");
			else
				c->token_on_cmdline = true;
			break;
		case O_TOKEN_FILE:
			e = read_token_file(c, optarg);
			c->token_given = true;
			break;
		case O_CA: e = fy_conf_copy(PROG, c->ca, sizeof(c->ca), "ca", optarg); break;
		case O_FP: e = fy_conf_copy(PROG, c->fingerprint, sizeof(c->fingerprint), "fingerprint", optarg); break;
		case O_SNI: e = fy_conf_copy(PROG, c->server_name, sizeof(c->server_name), "server-name", optarg); break;
		case O_CERT: e = fy_conf_copy(PROG, c->cert, sizeof(c->cert), "cert", optarg); break;
		case O_KEY: e = fy_conf_copy(PROG, c->key, sizeof(c->key), "key", optarg); break;
		case O_NAME: e = fy_conf_copy(PROG, c->name, sizeof(c->name), "name", optarg); break;
		case O_IO:
			if (fy_loop_parse_kind(optarg, &c->io) < 0) {
				fprintf(stderr, "ferry-agent: --io must be auto, epoll or uring\n");
				e = -1;
			}
			break;
		case O_KEEPALIVE: e = fy_conf_num(PROG, "keepalive-ms", optarg, 100, 3600000, &c->keepalive_ms); break;
		case O_DRAIN: e = fy_conf_num(PROG, "drain-ms", optarg, 0, 3600000, &c->drain_ms); break;
		case O_BACKOFF_MIN: e = fy_conf_num(PROG, "backoff-min-ms", optarg, 10, 3600000, &c->backoff_min_ms); break;
		case O_BACKOFF_MAX: e = fy_conf_num(PROG, "backoff-max-ms", optarg, 10, 3600000, &c->backoff_max_ms); break;
		case O_MAX_STREAMS: e = fy_conf_num(PROG, "max-streams", optarg, 1, 1000000, &c->max_streams); break;
		case O_WINDOW: e = fy_conf_size32(PROG, "window", optarg, 16384, FY_WINDOW_MAX, &c->window); break;
		case O_MAX_BUFFER_MEM:
			e = fy_conf_size(PROG, "max-buffer-mem", optarg, 1u << 20, 1ull << 40, &c->max_buffer_mem);
			break;
		case O_LOG:
			c->log_given = true;
			if (fy_log_parse_level(optarg, &c->log_level) < 0) {
				fprintf(stderr, "ferry-agent: --log-level must be err, warn, info or debug\n");
				e = -1;
			}
			break;
		case O_CONFIG: break;
		case O_HELP:
		case 'h':
			usage(stdout);
			return 0;
		default:
			e = -1;
			break;
		}
		if (e < 0) {
			fprintf(stderr, "Try 'ferry-agent --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferry-agent: unexpected argument '%s'\nTry 'ferry-agent --help'.\n",
			argv[optind]);
		return 2;
	}
	return -1;
}

static unsigned stdio_count(const struct agent_cfg *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->nlfwds; i++)
		n += c->lfwds[i].kind == L_STDIO;
	return n;
}

static bool has_socks(const struct agent_cfg *c)
{
	for (unsigned i = 0; i < c->nlfwds; i++)
		if (c->lfwds[i].kind == L_SOCKS)
			return true;
	return false;
}

int agent_cfg_parse(struct agent_cfg *c, int argc, char **argv)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->io = FY_LOOP_AUTO;
	c->drain_ms = 5000;
	c->backoff_min_ms = 1000;
	c->backoff_max_ms = 120000;
	c->log_level = FY_LOG_INFO;
	c->max_streams = 1024;
	c->window = 1024 * 1024;
	c->max_buffer_mem = 32u << 20;
	c->udp_idle_ms = 60000;
	c->wss_port = 443;
	snprintf(c->wss_path, sizeof(c->wss_path), "%s", WSS_DEFAULT_PATH);
	rc = fy_conf_parse(PROG, argc, argv, parse_vec, c);
	if (rc >= 0)
		return rc;
	if (!c->token_given && getenv("FERRY_TOKEN") &&
	    fy_conf_copy(PROG, c->token, sizeof(c->token), "token (FERRY_TOKEN)",
			 getenv("FERRY_TOKEN")) < 0)
		return 2;
	if (!c->relay[0] || !c->token[0]) {
		fprintf(stderr, "ferry-agent: --relay and a token (--token-file FILE or FERRY_TOKEN) "
			"are required\nTry 'ferry-agent --help'.\n");
		return 2;
	}
	if (c->token_on_cmdline)
		fprintf(stderr, "ferry-agent: warning: --token on the command line is readable by "
			"every local user (ps); use --token-file FILE or FERRY_TOKEN\n");
	if (c->key[0])
		fy_conf_warn_private(PROG, c->key, "key");
	if (!!c->ca[0] == !!c->fingerprint[0]) {
		fprintf(stderr, "ferry-agent: give exactly one of --ca FILE or --fingerprint SHA256:HEX "
			"to verify the relay\n");
		return 2;
	}
	if (!c->nfwds && !c->nlfwds && !c->nallows) {
		fprintf(stderr, "ferry-agent: nothing to do: give -R, -L, -D, -W or --allow\n"
			"Try 'ferry-agent --help'.\n");
		return 2;
	}
	if (stdio_count(c) > 1) {
		fprintf(stderr, "ferry-agent: at most one -W (it is standard input and output)\n");
		return 2;
	}
	/* Under ssh's ProxyCommand the log shares the user's terminal. */
	if (stdio_count(c) && !c->log_given)
		c->log_level = FY_LOG_WARN;
	if (c->socks_user[0] && !has_socks(c))
		fprintf(stderr, "ferry-agent: note: --socks-auth without -D is not used\n");
	if (!FERRY_HAVE_HTTP_TRANSPORTS && (c->transport != TR_TLS ||
					    (c->proxy_given && strcmp(c->proxy_url, "none")))) {
		fprintf(stderr, "ferry-agent: this build has no --transport wss|auto and no --proxy "
			"(built without libwslay-dev / libhttp-parser-dev)\n");
		return 2;
	}
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	for (unsigned i = 0; i < c->nfwds; i++) {
		const char *b = c->fwds[i].bind;

		/* As with sshd's GatewayPorts=no, the server decides where a
		 * remote forward listens: say so rather than pretend. */
		if (b[0] && strcmp(b, "*") && strcmp(b, "0.0.0.0") && strcmp(b, "::"))
			fprintf(stderr, "ferry-agent: note: -R %s:%u: the relay binds its claimed ports "
				"on its own --public-bind address; '%s' is not used\n", b,
				c->fwds[i].port, b);
	}
	return -1;
}
