/* ferry-relay stats: the counters of a running DPDK relay, read through
 * the DPDK telemetry socket its EAL opened (stats.c registers /ferry/...).
 *   ferry-relay stats [--prefix NAME | --socket PATH] [--worker N] [--all] [--json]
 * Needs nothing from DPDK itself: the socket speaks JSON. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmds.h"

#define REPLY_MAX 65536

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ferry-relay stats [--prefix NAME | --socket PATH] [--worker N] [--all]\n"
		"                         [--json]\n"
		"\n"
		"Prints the counters of a running relay on the DPDK backend (drops by\n"
		"reason, frames, connections, the mbuf pool), one \"name value\" per line,\n"
		"read through DPDK telemetry while it runs.\n"
		"  -p, --prefix NAME   the relay's EAL --file-prefix (default rte): the\n"
		"                      socket is /var/run/dpdk/NAME/dpdk_telemetry.v2\n"
		"                      ($XDG_RUNTIME_DIR/dpdk/NAME/... when not root)\n"
		"  -s, --socket PATH   the telemetry socket itself\n"
		"  -w, --worker N      one worker lcore's counters instead of the sum\n"
		"  -a, --all           zeros too (default: non-zero counters only)\n"
		"  -j, --json          the reply as the relay sent it\n"
		"  -h, --help          show this help\n");
}

static void default_socket(char *buf, size_t n, const char *prefix)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (getuid() == 0)
		snprintf(buf, n, "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
	else
		snprintf(buf, n, "%s/dpdk/%s/dpdk_telemetry.v2", xdg ? xdg : "/tmp", prefix);
}

/* Sends cmd, reads the one reply (after the greeting the server sends
 * on connect). Returns its length or -1 with a message printed. */
static long query(const char *path, const char *cmd, char *reply, size_t n)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd;
	long len;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ferry-relay stats: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "ferry-relay stats: cannot reach %s: %s (is a relay with "
			"--backend dpdk running, with this --file-prefix, and telemetry on?)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	len = recv(fd, reply, n - 1, 0);	/* the greeting */
	if (len > 0 && send(fd, cmd, strlen(cmd), 0) > 0)
		len = recv(fd, reply, n - 1, 0);
	else
		len = -1;
	close(fd);
	if (len <= 0) {
		fprintf(stderr, "ferry-relay stats: no reply from %s\n", path);
		return -1;
	}
	reply[len] = 0;
	return len;
}

/* Prints the "name":number pairs of the reply's inner object. */
static int print_pairs(const char *reply, const char *cmd, int all)
{
	const char *p = strchr(reply, ':');
	int printed = 0;

	p = p ? strchr(p, '{') : NULL;
	if (!p) {
		fprintf(stderr, "ferry-relay stats: %s: no counters in the reply (%s)%s\n", cmd,
			reply, strstr(reply, "null") ? ": no such worker, or the relay is "
			"starting or stopping" : "");
		return 1;
	}
	while ((p = strchr(p, '"'))) {
		const char *name = p + 1, *q = strchr(name, '"');
		char *end;
		unsigned long long v;

		if (!q || q[1] != ':')
			break;
		v = strtoull(q + 2, &end, 10);
		if (end == q + 2)
			break;
		if (all || v)
			printf("%.*s %llu\n", (int)(q - name), name, v);
		printed++;
		p = end;
	}
	return printed ? 0 : 1;
}

int fy_relay_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "worker", required_argument, NULL, 'w' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = "rte", *sock = NULL, *worker = NULL;
	char path[256], cmd[64], *reply, *end;
	int c, all = 0, json = 0, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:s:w:ajh", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prefix = optarg; break;
		case 's': sock = optarg; break;
		case 'w': worker = optarg; break;
		case 'a': all = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: return cmd_getopt_error("stats", usage, c, argv);
		}
	}
	if (optind < argc)
		return cmd_bad_usage("stats", usage, "unexpected argument '%s'", argv[optind]);
	if (strchr(prefix, '/') || !*prefix)
		return cmd_bad_usage("stats", usage, "--prefix is a name, not a path: '%s'", prefix);
	if (worker && (strtoul(worker, &end, 10) > 1023 || *end || !*worker))
		return cmd_bad_usage("stats", usage, "--worker takes a worker number, not '%s'", worker);
	if (sock)
		snprintf(path, sizeof(path), "%s", sock);
	else
		default_socket(path, sizeof(path), prefix);
	if (worker)
		snprintf(cmd, sizeof(cmd), "/ferry/worker,%s", worker);
	else
		snprintf(cmd, sizeof(cmd), "/ferry/counters");
	reply = malloc(REPLY_MAX);
	if (!reply)
		return 1;
	if (query(path, cmd, reply, REPLY_MAX) < 0) {
		rc = 1;
	} else if (json) {
		printf("%s\n", reply);
		rc = strstr(reply, "null") ? 1 : 0;
	} else {
		rc = print_pairs(reply, cmd, all);
	}
	free(reply);
	return rc;
}
