/* ferry-relay's command line and config file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/conf.h"
#include "ferry/sock.h"

#define PROG "ferry-relay"
#include "backend.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-relay --listen ADDR:PORT --cert FILE --key FILE --tokens FILE [options]\n"
"       ferry-relay cert init|fingerprint ...   a CA and the relay's certificate\n"
"       ferry-relay token add|list ...          agent and admin tokens\n"
"       ferry-relay stats [--prefix NAME]       counters of a running relay on --backend dpdk\n"
"       ferry-relay ctl agents|agent|ports|streams|forwards|kick|reload   the admin API's client\n"
"       (each subcommand has its own --help)\n"
"\n"
"Runs the relay: agents connect to --listen over TLS 1.3 and claim public ports\n"
"(their -R forwards, TCP or UDP) and names (-H, -S: see the ingress options);\n"
"clients connecting to those ports and names reach the agents' services.\n"
"SIGTERM drains and exits; SIGHUP reads the token file and the policy again.\n"
"The admin API (--admin-listen): 'ferry-relay ctl --help', README.md.\n"
"\n"
"options:\n"
"  --listen ADDR:PORT        where agents connect (default 0.0.0.0:7000)\n"
"  --cert FILE, --key FILE   the relay's TLS certificate chain and key\n"
"  --tokens FILE             agent tokens (ferry-relay token add)\n"
"  --client-ca FILE          also accept agent certificates signed by this CA (mTLS)\n"
"  --policy FILE             who may open streams to whom, agent to agent, narrowing\n"
"                            the tokens' reach= (docs/DESIGN.md; read again on SIGHUP)\n"
"  --public-bind ADDR        address that claimed ports listen on (default 0.0.0.0)\n"
"  --workers N               worker threads (default: online CPUs)\n"
"  --keepalive-ms N          ping interval; a tunnel silent for 3 intervals is dead (10000)\n"
"  --handshake-timeout-ms N  TLS + HELLO deadline for new connections (10000)\n"
"  --max-unauth N            unauthenticated connections in total (1024)\n"
"  --max-unauth-per-ip N     unauthenticated connections per source address (32)\n"
"  --max-streams N           streams per tunnel (65536)\n"
"  --initial-window BYTES    per-stream window a stream starts with (64K)\n"
"  --window BYTES            the largest a stream's window grows to while its\n"
"                            reader keeps up (1M)\n"
"  --max-buffer-mem BYTES    stream buffer memory for all streams together: windows\n"
"                            grow beyond their initial size only within it\n"
"                            (default: 1/16 of RAM, 64M to 1G)\n"
"  --max-buffer-per-session BYTES  one agent's share of it (default: 1/8 of it)\n"
"  --max-ports-per-agent N   ports one agent may hold at once, unless its token\n"
"                            says otherwise (maxports=) (64)\n"
"  --udp-idle-ms N           a UDP flow (one source address of a UDP port) with no\n"
"                            datagram either way for this long ends (60000)\n"
"  --max-udp-flows-per-port N  sources one UDP port carries at once; datagrams\n"
"                            from more are dropped and counted (1024)\n"
"  --fd-reserve N            descriptors kept for agents and the relay itself:\n"
"                            public clients are refused beyond the limit minus\n"
"                            this (128)\n"
"  --drain-ms N              on SIGTERM, how long streams may finish (10000)\n"
"  --log-level LEVEL         err, warn, info (default) or debug\n"
"  --backend kernel|dpdk     I/O backend (default kernel; dpdk only in a build with DPDK)\n"
"  --dpdk-eal \"ARGS\"        DPDK EAL arguments, e.g. \"-l 0 --no-huge -m 512\n"
"                            --vdev=net_af_packet0,iface=eth1\" (or a PCI address)\n"
"  --dpdk-port N             DPDK port id (default 0)\n"
"  --dpdk-ip A.B.C.D/P       the relay's address on the DPDK port (required)\n"
"  --dpdk-gateway A.B.C.D    next hop for addresses off the prefix\n"
"  --dpdk-mbufs N            mbufs in the pool (default 8191, at least 32; a NIC\n"
"                            needs at least its RX descriptors, 1024 per queue)\n"
"  --dpdk-mtu N              the port's IP MTU, 576..9000 (default 1500); jumbo\n"
"                            frames where the link and its peers take them\n"
"  --dpdk-conns N            TCP connection slots per lcore, TIME_WAIT included\n"
"                            (default 4096)\n"
"  --dpdk-syn-backlog N      half-open connections per port and lcore; beyond\n"
"                            them SYNs are answered with cookies (default 1024)\n"
"  --dpdk-syncookies auto|always  auto: cookies beyond the backlog; always: every\n"
"                            SYN gets one (to measure their cost; default auto)\n"
"  --dpdk-offload on|off     use the port's checksum offloads when it has them\n"
"                            (default on; off: computed in software)\n"
"  --admin-listen ADDR:PORT  the admin API (HTTP + JSON, /metrics, a status page at /)\n"
"                            here, e.g. 127.0.0.1:7001; it takes admin tokens only\n"
"                            (ferry-relay token add --admin). Keep it on loopback.\n"
"  --admin-socket PATH       the admin API on a unix socket too (mode 0600)\n"
"  --admin-timeout-ms N      an admin request must arrive whole within N ms (5000)\n"
"\n"
"HTTP/HTTPS/SNI ingress (agents claim names with -H NAME:host:port, -S for TLS):\n"
"  --http-listen ADDR:PORT   plain HTTP, routed by Host (NAME.DOMAIN) or path\n"
"  --https-listen ADDR:PORT  TLS: names claimed with -H are terminated with the\n"
"                            certificates below; names claimed with -S pass through\n"
"  --sni-listen ADDR:PORT    TLS passed through by SNI (-S names); the same address\n"
"                            as --https-listen shares that listener\n"
"  --domain DOMAIN           NAME.DOMAIN in Host or SNI names the agent's claim NAME\n"
"  --https-cert FILE, --https-key FILE  a certificate chain and its key (repeat\n"
"                            both, up to 8; picked by SNI, wildcards allowed)\n"
"  --http-path-prefix PFX    /PFX/NAME/rest reaches NAME as /rest (/forward/)\n"
"  --http-header-timeout-ms N  a request head must arrive within this (10000)\n"
"  --http-max-header BYTES   largest request head; larger is refused with 431 (16K)\n"
"  --wss-path PATH|off       agents reach the relay with --transport wss through\n"
"                            --https-listen at this path (/_ferry/tunnel); off: not\n"
"                            served (nor on --backend dpdk, which answers 501)\n"
"  --config FILE             read options from FILE (same names, one per line)\n"
"  --help                    this text\n");
}

enum {
	O_LISTEN = 256, O_CERT, O_KEY, O_TOKENS, O_CLIENT_CA, O_PUBLIC_BIND, O_WORKERS,
	O_KEEPALIVE, O_HANDSHAKE, O_MAX_UNAUTH, O_MAX_UNAUTH_IP, O_MAX_STREAMS, O_WINDOW,
	O_DRAIN, O_LOG, O_CONFIG, O_HELP, O_BACKEND, O_DPDK_EAL, O_DPDK_PORT, O_DPDK_IP,
	O_DPDK_GW, O_DPDK_MBUFS, O_DPDK_CONNS, O_DPDK_OFFLOAD, O_DPDK_SYN_BACKLOG,
	O_DPDK_SYNCOOKIES, O_DPDK_MTU,
	O_INITIAL_WINDOW, O_MAX_BUFFER_MEM, O_MAX_BUFFER_SESSION, O_MAX_PORTS, O_FD_RESERVE,
	O_POLICY, O_UDP_IDLE, O_MAX_UDP_FLOWS, O_ADMIN_LISTEN, O_ADMIN_SOCKET, O_ADMIN_TIMEOUT,
	O_HTTP_LISTEN, O_HTTPS_LISTEN, O_SNI_LISTEN,
	O_DOMAIN, O_HTTPS_CERT, O_HTTPS_KEY, O_HTTP_PREFIX, O_HTTP_HEADER_MS, O_HTTP_MAX_HEADER,
	O_WSS_PATH,
};

static const struct option opts[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "tokens", required_argument, NULL, O_TOKENS },
	{ "client-ca", required_argument, NULL, O_CLIENT_CA },
	{ "public-bind", required_argument, NULL, O_PUBLIC_BIND },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "keepalive-ms", required_argument, NULL, O_KEEPALIVE },
	{ "handshake-timeout-ms", required_argument, NULL, O_HANDSHAKE },
	{ "max-unauth", required_argument, NULL, O_MAX_UNAUTH },
	{ "max-unauth-per-ip", required_argument, NULL, O_MAX_UNAUTH_IP },
	{ "max-streams", required_argument, NULL, O_MAX_STREAMS },
	{ "window", required_argument, NULL, O_WINDOW },
	{ "drain-ms", required_argument, NULL, O_DRAIN },
	{ "log-level", required_argument, NULL, O_LOG },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "help", no_argument, NULL, O_HELP },
	{ "backend", required_argument, NULL, O_BACKEND },
	{ "dpdk-eal", required_argument, NULL, O_DPDK_EAL },
	{ "dpdk-port", required_argument, NULL, O_DPDK_PORT },
	{ "dpdk-ip", required_argument, NULL, O_DPDK_IP },
	{ "dpdk-gateway", required_argument, NULL, O_DPDK_GW },
	{ "dpdk-mbufs", required_argument, NULL, O_DPDK_MBUFS },
	{ "dpdk-mtu", required_argument, NULL, O_DPDK_MTU },
	{ "dpdk-conns", required_argument, NULL, O_DPDK_CONNS },
	{ "dpdk-syn-backlog", required_argument, NULL, O_DPDK_SYN_BACKLOG },
	{ "dpdk-offload", required_argument, NULL, O_DPDK_OFFLOAD },
	{ "dpdk-syncookies", required_argument, NULL, O_DPDK_SYNCOOKIES },
	{ "initial-window", required_argument, NULL, O_INITIAL_WINDOW },
	{ "max-buffer-mem", required_argument, NULL, O_MAX_BUFFER_MEM },
	{ "max-buffer-per-session", required_argument, NULL, O_MAX_BUFFER_SESSION },
	{ "max-ports-per-agent", required_argument, NULL, O_MAX_PORTS },
	{ "fd-reserve", required_argument, NULL, O_FD_RESERVE },
	{ "policy", required_argument, NULL, O_POLICY },
	{ "udp-idle-ms", required_argument, NULL, O_UDP_IDLE },
	{ "max-udp-flows-per-port", required_argument, NULL, O_MAX_UDP_FLOWS },
	{ "admin-listen", required_argument, NULL, O_ADMIN_LISTEN },
	{ "admin-socket", required_argument, NULL, O_ADMIN_SOCKET },
	{ "admin-timeout-ms", required_argument, NULL, O_ADMIN_TIMEOUT },
	{ "http-listen", required_argument, NULL, O_HTTP_LISTEN },
	{ "https-listen", required_argument, NULL, O_HTTPS_LISTEN },
	{ "sni-listen", required_argument, NULL, O_SNI_LISTEN },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "https-cert", required_argument, NULL, O_HTTPS_CERT },
	{ "https-key", required_argument, NULL, O_HTTPS_KEY },
	{ "http-path-prefix", required_argument, NULL, O_HTTP_PREFIX },
	{ "wss-path", required_argument, NULL, O_WSS_PATH },
	{ "http-header-timeout-ms", required_argument, NULL, O_HTTP_HEADER_MS },
	{ "http-max-header", required_argument, NULL, O_HTTP_MAX_HEADER },
	{ NULL, 0, NULL, 0 },
};

/* ADDR:PORT of an ingress listener into host and *port (0 when not
 * given). */
static int listen_port(const char *opt, const char *v, char *host, uint16_t *port)
{
	*port = 0;
	if (!v[0])
		return 0;
	if (fy_sock_split_hostport(v, host, 128, port) < 0 || !*port) {
		fprintf(stderr, "ferry-relay: --%s '%s' is not ADDR:PORT\n", opt, v);
		return -1;
	}
	return 0;
}

/* The ingress options together: ports, certificates in pairs, a prefix
 * that is a path, a domain without a leading dot. */
static int ingress_cfg_check(struct relay_cfg *c)
{
	size_t pl = strlen(c->http_prefix);

	if (listen_port("http-listen", c->http_listen, c->http_bind, &c->http_port) < 0 ||
	    listen_port("https-listen", c->https_listen, c->https_bind, &c->https_port) < 0 ||
	    listen_port("sni-listen", c->sni_listen, c->sni_bind, &c->sni_port) < 0)
		return -1;
	if (c->nhttps_cert != c->nhttps_key) {
		fprintf(stderr, "ferry-relay: --https-cert and --https-key come in pairs (%u and %u "
			"given)\n", c->nhttps_cert, c->nhttps_key);
		return -1;
	}
	if (c->https_port && !c->nhttps_cert) {
		fprintf(stderr, "ferry-relay: --https-listen needs --https-cert and --https-key "
			"(use --sni-listen to pass TLS through without certificates)\n");
		return -1;
	}
	if (c->sni_port && c->sni_port == c->https_port && strcmp(c->sni_listen, c->https_listen)) {
		fprintf(stderr, "ferry-relay: --sni-listen and --https-listen share port %u: give "
			"them the same ADDR:PORT\n", c->sni_port);
		return -1;
	}
	if (c->sni_port && c->sni_port == c->https_port)
		c->sni_port = 0;	/* one listener serves both */
	if (c->http_port && (c->http_port == c->https_port || c->http_port == c->sni_port)) {
		fprintf(stderr, "ferry-relay: --http-listen cannot share a port with TLS\n");
		return -1;
	}
	if (pl < 3 || c->http_prefix[0] != '/' || c->http_prefix[pl - 1] != '/') {
		fprintf(stderr, "ferry-relay: --http-path-prefix must start and end with '/' "
			"(e.g. /forward/)\n");
		return -1;
	}
	for (const char *p = c->wss_path; *p; p++) {
		if (c->wss_path[0] != '/' || *p <= ' ' || *p > '~' || *p == '?') {
			fprintf(stderr, "ferry-relay: --wss-path must start with '/' and hold visible "
				"ASCII without '?' (or be 'off')\n");
			return -1;
		}
	}
	if (c->domain[0] == '.') {
		fprintf(stderr, "ferry-relay: --domain is written without a leading dot\n");
		return -1;
	}
	for (char *p = c->domain; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return 0;
}

/* One pass of getopt over a vector (config file or command line). */
static int parse_vec(void *cfg, int argc, char **argv, const char *file)
{
	struct relay_cfg *c = cfg;
	int o, idx;

	if (!file)	/* getopt's own messages name the program, not its path */
		argv[0] = (char *)PROG;
	optind = 1;
	while ((idx = -1, o = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		/* getopt_long says which entry matched: the name comes from it,
		 * never from the enum's order. */
		const char *name = idx >= 0 ? opts[idx].name : "?";
		int e = 0;

		switch (o) {
		case O_LISTEN: e = fy_conf_copy(PROG, c->listen, sizeof(c->listen), name, optarg); break;
		case O_CERT: e = fy_conf_copy(PROG, c->cert, sizeof(c->cert), name, optarg); break;
		case O_KEY: e = fy_conf_copy(PROG, c->key, sizeof(c->key), name, optarg); break;
		case O_TOKENS: e = fy_conf_copy(PROG, c->tokens, sizeof(c->tokens), name, optarg); break;
		case O_CLIENT_CA: e = fy_conf_copy(PROG, c->client_ca, sizeof(c->client_ca), name, optarg); break;
		case O_PUBLIC_BIND:
			e = fy_conf_copy(PROG, c->public_bind, sizeof(c->public_bind), name, optarg);
			break;
		case O_WORKERS: e = fy_conf_num(PROG, name, optarg, 1, REG_MAX_WORKERS, &c->workers); break;
		case O_KEEPALIVE: e = fy_conf_num(PROG, name, optarg, 100, 3600000, &c->keepalive_ms); break;
		case O_HANDSHAKE: e = fy_conf_num(PROG, name, optarg, 100, 600000, &c->handshake_ms); break;
		case O_MAX_UNAUTH: e = fy_conf_num(PROG, name, optarg, 1, 1000000, &c->max_unauth); break;
		case O_MAX_UNAUTH_IP: e = fy_conf_num(PROG, name, optarg, 1, 65535, &c->max_unauth_per_ip); break;
		case O_MAX_STREAMS: e = fy_conf_num(PROG, name, optarg, 1, 10000000, &c->max_streams); break;
		case O_WINDOW: e = fy_conf_size32(PROG, name, optarg, 16384, FY_WINDOW_MAX, &c->window); break;
		case O_INITIAL_WINDOW:
			e = fy_conf_size32(PROG, name, optarg, 16384, FY_WINDOW_MAX, &c->initial_window);
			break;
		case O_MAX_BUFFER_MEM:
			e = fy_conf_size(PROG, name, optarg, 1u << 20, 1ull << 40, &c->max_buffer_mem);
			break;
		case O_MAX_BUFFER_SESSION:
			e = fy_conf_size(PROG, name, optarg, 1u << 16, 1ull << 40, &c->max_buffer_session);
			break;
		case O_MAX_PORTS: e = fy_conf_num(PROG, name, optarg, 1, 65535, &c->max_ports); break;
		case O_FD_RESERVE: e = fy_conf_num(PROG, name, optarg, 16, 1u << 20, &c->fd_reserve); break;
		case O_POLICY: e = fy_conf_copy(PROG, c->policy, sizeof(c->policy), name, optarg); break;
		case O_UDP_IDLE: e = fy_conf_num(PROG, name, optarg, 1000, 86400000, &c->udp_idle_ms); break;
		case O_MAX_UDP_FLOWS:
			e = fy_conf_num(PROG, name, optarg, 1, 1000000, &c->max_udp_flows);
			break;
		case O_DRAIN: e = fy_conf_num(PROG, name, optarg, 0, 3600000, &c->drain_ms); break;
		case O_ADMIN_LISTEN:
			e = fy_conf_copy(PROG, c->admin_listen, sizeof(c->admin_listen), name, optarg);
			break;
		case O_ADMIN_SOCKET:
			e = fy_conf_copy(PROG, c->admin_socket, sizeof(c->admin_socket), name, optarg);
			break;
		case O_ADMIN_TIMEOUT:
			e = fy_conf_num(PROG, name, optarg, 100, 600000, &c->admin_timeout_ms);
			break;
		case O_LOG:
			if (fy_log_parse_level(optarg, &c->log_level) < 0) {
				fprintf(stderr, "ferry-relay: --log-level must be err, warn, info or debug\n");
				e = -1;
			}
			break;
		case O_CONFIG: break;	/* read before this pass */
		case O_BACKEND:
			c->backend = relay_backend_find(optarg);
			if (!c->backend) {
				fprintf(stderr, "ferry-relay: --backend must be one of %s\n",
					relay_backend_names());
				e = -1;
			}
			break;
		case O_DPDK_EAL: e = fy_conf_copy(PROG, c->dpdk_eal, sizeof(c->dpdk_eal), name, optarg); break;
		case O_DPDK_PORT: e = fy_conf_num(PROG, name, optarg, 0, 1023, &c->dpdk_port); break;
		case O_DPDK_IP: e = fy_conf_copy(PROG, c->dpdk_ip, sizeof(c->dpdk_ip), name, optarg); break;
		case O_DPDK_GW: e = fy_conf_copy(PROG, c->dpdk_gw, sizeof(c->dpdk_gw), name, optarg); break;
		case O_DPDK_MBUFS: e = fy_conf_num(PROG, name, optarg, 32, 16777215, &c->dpdk_mbufs); break;
		case O_DPDK_MTU: e = fy_conf_num(PROG, name, optarg, 576, 9000, &c->dpdk_mtu); break;
		case O_DPDK_CONNS: e = fy_conf_num(PROG, name, optarg, 16, 1u << 20, &c->dpdk_conns); break;
		case O_DPDK_SYN_BACKLOG:
			e = fy_conf_num(PROG, name, optarg, 1, 1u << 20, &c->dpdk_syn_backlog);
			break;
		case O_DPDK_OFFLOAD:
			if (!strcmp(optarg, "on") || !strcmp(optarg, "off")) {
				c->dpdk_no_offload = !strcmp(optarg, "off");
			} else {
				fprintf(stderr, "ferry-relay: --dpdk-offload must be on or off\n");
				e = -1;
			}
			break;
		case O_HTTP_LISTEN:
			e = fy_conf_copy(PROG, c->http_listen, sizeof(c->http_listen), name, optarg);
			break;
		case O_HTTPS_LISTEN:
			e = fy_conf_copy(PROG, c->https_listen, sizeof(c->https_listen), name, optarg);
			break;
		case O_SNI_LISTEN:
			e = fy_conf_copy(PROG, c->sni_listen, sizeof(c->sni_listen), name, optarg);
			break;
		case O_DOMAIN: e = fy_conf_copy(PROG, c->domain, sizeof(c->domain), name, optarg); break;
		case O_HTTPS_CERT:
		case O_HTTPS_KEY: {
			unsigned *n = o == O_HTTPS_CERT ? &c->nhttps_cert : &c->nhttps_key;
			char (*v)[256] = o == O_HTTPS_CERT ? c->https_cert : c->https_key;

			if (*n == RELAY_MAX_CERTS) {
				fprintf(stderr, "ferry-relay: at most %d --%s\n", RELAY_MAX_CERTS, name);
				e = -1;
				break;
			}
			e = fy_conf_copy(PROG, v[*n], sizeof(v[0]), name, optarg);
			(*n)++;
			break;
		}
		case O_HTTP_PREFIX:
			e = fy_conf_copy(PROG, c->http_prefix, sizeof(c->http_prefix), name, optarg);
			break;
		case O_WSS_PATH:
			e = fy_conf_copy(PROG, c->wss_path, sizeof(c->wss_path), name,
					 strcmp(optarg, "off") ? optarg : "");
			break;
		case O_HTTP_HEADER_MS:
			e = fy_conf_num(PROG, name, optarg, 100, 3600000, &c->http_header_ms);
			break;
		case O_HTTP_MAX_HEADER:
			e = fy_conf_size32(PROG, name, optarg, 1024, 65536, &c->http_max_header);
			break;
		case O_DPDK_SYNCOOKIES:
			if (!strcmp(optarg, "auto") || !strcmp(optarg, "always")) {
				c->dpdk_syncookies_always = !strcmp(optarg, "always");
			} else {
				fprintf(stderr, "ferry-relay: --dpdk-syncookies must be auto or always\n");
				e = -1;
			}
			break;
		case O_HELP: usage(stdout); return 0;
		default: e = -1; break;
		}
		if (e < 0) {
			fprintf(stderr, "Try 'ferry-relay --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ferry-relay: unexpected argument '%s'\nTry 'ferry-relay --help'.\n",
			argv[optind]);
		return 2;
	}
	return -1;	/* go on */
}

/* 1/16 of the machine's memory, from 64 MiB to 1 GiB: growth beyond the
 * initial windows never takes a large part of a small box, and a big one
 * does not hand gigabytes to slow readers. */
static uint64_t default_buffer_mem(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t v = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 16 : 0;

	if (v < (64ull << 20))
		v = 64ull << 20;
	if (v > (1ull << 30))
		v = 1ull << 30;
	return v;
}

int relay_cfg_parse(struct relay_cfg *c, int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "0.0.0.0:7000");
	snprintf(c->public_bind, sizeof(c->public_bind), "0.0.0.0");
	c->workers = ncpu > 0 ? (unsigned)(ncpu > REG_MAX_WORKERS ? REG_MAX_WORKERS : ncpu) : 1;
	c->keepalive_ms = 10000;
	c->handshake_ms = 10000;
	c->window = 1024 * 1024;
	c->initial_window = 64 * 1024;
	c->max_ports = 64;
	c->fd_reserve = 128;
	c->drain_ms = 10000;
	c->max_unauth = 1024;
	c->max_unauth_per_ip = 32;
	c->max_streams = 65536;
	c->udp_idle_ms = 60000;
	c->max_udp_flows = 1024;
	c->log_level = FY_LOG_INFO;
	c->dpdk_mbufs = 8191;
	c->dpdk_mtu = 1500;
	c->dpdk_conns = 4096;
	c->dpdk_syn_backlog = 1024;
	c->backend = relay_backend_find("kernel");
	c->admin_timeout_ms = 5000;
	snprintf(c->http_prefix, sizeof(c->http_prefix), "/forward/");
	snprintf(c->wss_path, sizeof(c->wss_path), "/_ferry/tunnel");
	c->http_header_ms = 10000;
	c->http_max_header = 16384;

	rc = fy_conf_parse(PROG, argc, argv, parse_vec, c);
	if (rc >= 0)
		return rc;
	if (ingress_cfg_check(c) < 0)
		return 2;
	if (!c->cert[0] || !c->key[0] || !c->tokens[0]) {
		fprintf(stderr, "ferry-relay: --cert, --key and --tokens are required\n"
			"Make them with 'ferry-relay cert init' and 'ferry-relay token add'; "
			"see 'ferry-relay --help'.\n");
		return 2;
	}
	if (c->initial_window > c->window) {
		fprintf(stderr, "ferry-relay: --initial-window (%u) is larger than --window (%u), "
			"the largest a window may grow to\n", c->initial_window, c->window);
		return 2;
	}
	if (!c->max_buffer_mem)
		c->max_buffer_mem = default_buffer_mem();
	if (!c->max_buffer_session)
		c->max_buffer_session = c->max_buffer_mem / 8;
	if (!c->backend->run) {
		fprintf(stderr, "ferry-relay: --backend %s: %s\n", c->backend->name,
			c->backend->missing);
		return 2;
	}
	if (!strcmp(c->backend->name, "dpdk") && !c->dpdk_ip[0]) {
		fprintf(stderr, "ferry-relay: --backend dpdk needs --dpdk-ip A.B.C.D/P (the relay's "
			"address on the DPDK port)\n");
		return 2;
	}
	return -1;
}
