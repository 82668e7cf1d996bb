/* ferry-agent's command line and config file, modelled on OpenSSH's. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "ferry/conf.h"
#include "ferry/fwdspec.h"
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
"  --remote-forwards [LIST]       the relay (its admin API) may open and close -R, -H, -S, -L\n"
"                                 forwards here, to targets on LIST only when given\n"
"                                 (--allow's syntax, comma separated: 127.0.0.1:*,db.lan:5432);\n"
"                                 they last until closed or the agent restarts\n"
"  --ctl-socket PATH              a control socket (mode 0600) for 'ferry-agent ctl\n"
"                                 --ctl-socket PATH status|forwards open SPEC|forwards close SPEC'\n"
"  --relay HOST:PORT              the relay's agent address\n"
"  --token-file FILE              file holding the token from 'ferry-relay token add' (mode 0600);\n"
"                                 or the environment variable FERRY_TOKEN\n"
"  --token TOKEN                  the token itself, for quick tries only: any local user can\n"
"                                 read a command line (ps); use --token-file or FERRY_TOKEN\n"
"  --ca FILE                      CA certificate that signed the relay's certificate\n"
"  --fingerprint SHA256:HEX       pin the relay's certificate instead of using a CA\n"
"  --server-name NAME             name expected in the relay certificate (default: HOST)\n"
"  --cert FILE --key FILE         client certificate for mutual TLS (optional)\n"
"  --name NAME                    agent name (default: the token's first agent)\n"
"  --io auto|epoll|uring          event loop backend (default auto: io_uring when the kernel allows)\n"
"  --keepalive-ms N               ping interval (default: the relay's)\n"
"  --drain-ms N                   on SIGTERM, how long open streams may finish (5000)\n"
"  --backoff-min-ms N             first wait before a reconnect (1000); it grows x1.6 per\n"
"                                 failure (+-20 %% jitter) and starts over once a session is up\n"
"  --backoff-max-ms N             the longest wait before a reconnect (120000)\n"
"  --max-streams N                streams (target connections) at once; more are refused (1024)\n"
"  --window BYTES                 the most one stream may hold for a slow target (1M); a relay\n"
"                                 that sends more has that stream reset\n"
"  --max-buffer-mem BYTES         memory all streams' windows may grow into together (32M)\n"
"  --transport tls|wss|auto       how tunnels reach the relay: TLS to --relay (default), a\n"
"                                 WebSocket over HTTPS to the relay's --https-listen port\n"
"                                 (--wss-port, 443) for networks that let only HTTP(S) out, or\n"
"                                 auto: TLS first, then wss (the log says which one it got)\n"
"  --wss-port PORT                the relay's HTTPS port for wss (443; the host is --relay's)\n"
"  --wss-path PATH                the relay's tunnel path for wss (/_ferry/tunnel)\n"
"  --proxy URL                    reach the relay through an HTTP proxy (CONNECT):\n"
"                                 http://[user:password@]host[:port]; without it https_proxy or\n"
"                                 HTTPS_PROXY is used unless no_proxy names the relay; 'none':\n"
"                                 no proxy at all. Credentials on a command line are readable\n"
"                                 by every local user: put 'proxy URL' in a --config file\n"
"  --log-level LEVEL              err, warn, info (default) or debug\n"
"  --config FILE                  read options from FILE (same names, one per line: 'R 2221:127.0.0.1:22')\n"
"  --help                         this text\n"
"\n"
"-R -H -S -L -D -W are also --remote, --http-name, --tls-name, --local, --dynamic and\n"
"--stdio. 'ferry-agent ctl --help': the control socket's client.\n"
"\n"
"exit codes: 0 stopped by signal, 1 runtime error, 2 bad usage or refused by the relay\n");
}

enum {
	O_RELAY = 256, O_TOKEN, O_TOKEN_FILE, O_CA, O_FP, O_SNI, O_CERT, O_KEY, O_NAME, O_IO,
	O_KEEPALIVE, O_DRAIN, O_LOG, O_CONFIG, O_HELP, O_BACKOFF_MIN, O_BACKOFF_MAX,
	O_MAX_STREAMS, O_WINDOW, O_MAX_BUFFER_MEM, O_ALLOW, O_SOCKS_AUTH, O_UDP_IDLE,
	O_REMOTE_FWDS, O_CTL_SOCKET,
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
	{ "remote-forwards", optional_argument, NULL, O_REMOTE_FWDS },
	{ "ctl-socket", required_argument, NULL, O_CTL_SOCKET },
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

/* The syntax is libferry's (ferry/fwdspec.h): the relay checks a forward
 * asked through its admin API with the same code. opt: 'R', 'H' or 'S'. */
static int parse_fwd(int opt, const char *spec, struct fwd *f, char *err, size_t errlen)
{
	struct fy_fwdspec fs;

	memset(f, 0, sizeof(*f));
	if (fy_fwdspec_parse_arg(opt, spec, &fs, err, errlen) < 0)
		return -1;
	agent_fwd_from_spec(f, &fs);
	return 0;
}

int agent_parse_remote(const char *spec, struct fwd *f, char *err, size_t errlen)
{
	return parse_fwd('R', spec, f, err, errlen);
}

int agent_parse_name(int opt, const char *spec, struct fwd *f, char *err, size_t errlen)
{
	return parse_fwd(opt, spec, f, err, errlen);
}

void agent_fwd_from_spec(struct fwd *f, const struct fy_fwdspec *fs)
{
	memset(f, 0, sizeof(*f));
	f->kind = fs->opt == 'H' ? FY_NAME_HTTP : fs->opt == 'S' ? FY_NAME_TLS : 0;
	snprintf(f->name, sizeof(f->name), "%s", fs->name);
	f->proxy_protocol = fs->proxy_protocol;
	snprintf(f->bind, sizeof(f->bind), "%s", fs->bind);
	f->port = fs->port;
	snprintf(f->host, sizeof(f->host), "%s", fs->host);
	f->hostport = fs->hostport;
	f->udp = fs->udp;
}

void agent_fwd_spec(const struct fwd *f, struct fy_fwdspec *fs)
{
	memset(fs, 0, sizeof(*fs));
	fs->opt = f->kind == FY_NAME_TLS ? 'S' : f->kind == FY_NAME_HTTP ? 'H' : 'R';
	snprintf(fs->name, sizeof(fs->name), "%s", f->name);
	fs->proxy_protocol = f->proxy_protocol;
	fs->udp = f->udp;
	snprintf(fs->bind, sizeof(fs->bind), "%s", f->bind);
	fs->port = f->port;
	snprintf(fs->host, sizeof(fs->host), "%s", f->host);
	fs->hostport = f->hostport;
}

const char *agent_fwd_str(const struct fwd *f, char *buf, size_t n)
{
	struct fy_fwdspec fs;

	agent_fwd_spec(f, &fs);
	fy_fwdspec_str(&fs, buf, n);
	return buf;
}

void agent_lfwd_from_spec(struct lfwd *lf, const struct fy_fwdspec *fs)
{
	memset(lf, 0, sizeof(*lf));
	lf->kind = fs->opt == 'D' ? L_SOCKS : fs->opt == 'W' ? L_STDIO :
		   fs->udp ? L_UDP : L_TCP;
	snprintf(lf->bind, sizeof(lf->bind), "%s", fs->bind);
	lf->port = fs->port;
	snprintf(lf->agent, sizeof(lf->agent), "%s", fs->agent);
	snprintf(lf->host, sizeof(lf->host), "%s", fs->host);
	lf->hostport = fs->hostport;
}

/* -L [udp:][bind:]port:AGENT:host:hostport, -D [bind:]port[:AGENT],
 * -W AGENT:host:port */
int agent_parse_local(int opt, const char *spec, struct lfwd *lf, char *err, size_t errlen)
{
	struct fy_fwdspec fs;

	memset(lf, 0, sizeof(*lf));
	if (fy_fwdspec_parse_arg(opt, spec, &fs, err, errlen) < 0)
		return -1;
	agent_lfwd_from_spec(lf, &fs);
	return 0;
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

/* --remote-forwards [LIST]: the relay may open forwards here; LIST (comma
 * separated, --allow's syntax) limits their targets; none, or '*': any. */
static int parse_remote_fwds(struct agent_cfg *c, const char *list)
{
	char buf[1024], *save = NULL, err[300];

	c->remote_fwds = true;
	if (!list || !strcmp(list, "*") || !strcmp(list, "any"))
		return 0;
	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "ferry-agent: --remote-forwards list too long\n");
		return -1;
	}
	memcpy(buf, list, strlen(list) + 1);
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (c->nrallows == AGENT_MAX_ALLOW) {
			fprintf(stderr, "ferry-agent: at most %d --remote-forwards targets\n",
				AGENT_MAX_ALLOW);
			return -1;
		}
		if (allow_parse(p, &c->rallows[c->nrallows], err, sizeof(err)) < 0) {
			fprintf(stderr, "ferry-agent: --remote-forwards: %s\n", err);
			return -1;
		}
		c->nrallows++;
	}
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
				fprintf(stderr, "ferry-agent: at most %d -R forwards (-H and -S count with them)\n",
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
		case O_REMOTE_FWDS:
			/* "--remote-forwards LIST" as well as "=LIST": a next word
			 * that is no option is its list. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			e = parse_remote_fwds(c, optarg);
			break;
		case O_CTL_SOCKET:
			e = fy_conf_copy(PROG, c->ctl_socket, sizeof(c->ctl_socket), "ctl-socket", optarg);
			break;
		case O_TRANSPORT:
			if (xport_parse(optarg, &c->transport) < 0) {
				fprintf(stderr, "ferry-agent: --transport must be tls, wss or auto\n");
				e = -1;
			}
			break;
		case O_WSS_PORT: {
			uint32_t v = 0;

			/* Digits only, as every port here: strtoul also takes "+443". */
			if (!*optarg || strspn(optarg, "0123456789") != strlen(optarg)) {
				fprintf(stderr, "ferry-agent: --wss-port must be 1-65535\n");
				e = -1;
			} else {
				e = fy_conf_num(PROG, "wss-port", optarg, 1, 65535, &v);
			}
			c->wss_port = (uint16_t)v;
			break;
		}
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

	/* c comes zeroed (agent.h): clearing it here would write, and so
	 * allocate, every page of its tables. */
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
	if (!c->nfwds && !c->nlfwds && !c->nallows && !c->remote_fwds && !c->ctl_socket[0]) {
		fprintf(stderr, "ferry-agent: nothing to do: give -R, -H, -S, -L, -D, -W, --allow, "
			"--remote-forwards or --ctl-socket\n"
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
