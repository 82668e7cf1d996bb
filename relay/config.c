/* ferry-relay's command line and config file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry/conf.h"

#define PROG "ferry-relay"
#include "backend.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: ferry-relay --listen ADDR:PORT --cert FILE --key FILE --tokens FILE [options]\n"
"       ferry-relay cert init --dir DIR --name NAME[,NAME...]   make a CA and relay certificate\n"
"       ferry-relay token add --tokens FILE --agent NAME --ports RANGES   make an agent token\n"
"       ferry-relay stats [--prefix NAME]   counters of a running relay on --backend dpdk\n"
"\n"
"Runs the relay: agents connect to --listen over TLS 1.3 and claim public ports\n"
"(their -R forwards, TCP or UDP); clients connecting to those ports reach the\n"
"agents' services.\n"
"SIGTERM drains and exits; SIGHUP reads the token file again.\n"
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
"  --backend kernel|dpdk     I/O backend (default kernel; dpdk when built with DPDK)\n"
"  --dpdk-eal \"ARGS\"        DPDK EAL arguments, e.g. \"-l 0 --no-huge -m 512\n"
"                            --vdev=net_af_packet0,iface=eth1\" (or a PCI address)\n"
"  --dpdk-port N             DPDK port id (default 0)\n"
"  --dpdk-ip A.B.C.D/P       the relay's address on the DPDK port (required)\n"
"  --dpdk-gateway A.B.C.D    next hop for addresses off the prefix\n"
"  --dpdk-mbufs N            mbufs in the pool (default 8191, at least 32; a NIC\n"
"                            needs at least its RX descriptors, 1024 per queue)\n"
"  --dpdk-conns N            TCP connection slots per lcore, TIME_WAIT included\n"
"                            (default 4096)\n"
"  --dpdk-syn-backlog N      half-open connections per port and lcore; beyond\n"
"                            them SYNs are answered with cookies (default 1024)\n"
"  --dpdk-syncookies auto|always  auto: cookies beyond the backlog; always: every\n"
"                            SYN gets one (to measure their cost; default auto)\n"
"  --dpdk-offload on|off     use the port's checksum offloads when it has them\n"
"                            (default on; off: computed in software)\n"
"  --config FILE             read options from FILE (same names, one per line)\n"
"  --help                    this text\n");
}

enum {
	O_LISTEN = 256, O_CERT, O_KEY, O_TOKENS, O_CLIENT_CA, O_PUBLIC_BIND, O_WORKERS,
	O_KEEPALIVE, O_HANDSHAKE, O_MAX_UNAUTH, O_MAX_UNAUTH_IP, O_MAX_STREAMS, O_WINDOW,
	O_DRAIN, O_LOG, O_CONFIG, O_HELP, O_BACKEND, O_DPDK_EAL, O_DPDK_PORT, O_DPDK_IP,
	O_DPDK_GW, O_DPDK_MBUFS, O_DPDK_CONNS, O_DPDK_OFFLOAD, O_DPDK_SYN_BACKLOG,
	O_DPDK_SYNCOOKIES,
	O_INITIAL_WINDOW, O_MAX_BUFFER_MEM, O_MAX_BUFFER_SESSION, O_MAX_PORTS, O_FD_RESERVE,
	O_POLICY, O_UDP_IDLE, O_MAX_UDP_FLOWS,
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
	{ NULL, 0, NULL, 0 },
};

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
	c->dpdk_conns = 4096;
	c->dpdk_syn_backlog = 1024;
	c->backend = relay_backend_find("kernel");

	rc = fy_conf_parse(PROG, argc, argv, parse_vec, c);
	if (rc >= 0)
		return rc;
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
