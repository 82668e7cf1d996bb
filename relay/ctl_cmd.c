/* ferry-relay ctl: the admin API's command-line client.
 *   ferry-relay ctl [--admin URL | --admin-socket PATH] [--token-file FILE] [--json]
 *                   agents | agent NAME | ports | streams AGENT [OFFSET [LIMIT]] |
 *                   forwards open AGENT SPEC |
 *                   forwards close AGENT SPEC | kick AGENT | reload
 * The answer is parsed with the same HTTP code as the server (lib/http.c)
 * and cJSON; --json prints the API's JSON as it came. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cmds.h"
#include "ferry/http.h"

#define ANSWER_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ferry-relay ctl [--admin URL | --admin-socket PATH] [--token-file FILE]\n"
		"                       [--json] COMMAND\n"
		"\n"
		"Asks a running relay's admin API (--admin-listen / --admin-socket).\n"
		"commands:\n"
		"  agents                          connected agents\n"
		"  agent NAME                      one of them\n"
		"  ports                           claimed ports\n"
		"  streams AGENT [OFFSET [LIMIT]]  the agent's streams, a page at a time (100)\n"
		"  forwards open AGENT SPEC        opens a forward on a connected agent that\n"
		"                                  allows it (--remote-forwards), e.g.\n"
		"                                  forwards open pi-home -R 2222:127.0.0.1:22\n"
		"  forwards close AGENT SPEC       closes it\n"
		"  kick AGENT                      disconnects the agent (it reconnects after\n"
		"                                  its backoff unless its token is revoked)\n"
		"  reload                          reads the token file and the policy again\n"
		"options:\n"
		"  -a, --admin URL          the API (default http://127.0.0.1:7001)\n"
		"  -s, --admin-socket PATH  the API's unix socket instead\n"
		"  -t, --token-file FILE    file holding an admin token (ferry-relay token add\n"
		"                           --admin); or the environment variable FERRY_ADMIN_TOKEN\n"
		"  -j, --json               print the API's JSON answer\n"
		"  -h, --help               this text\n"
		"exit codes: 0 done, 1 the relay refused or cannot be reached, 2 bad usage\n");
}

/* A connected socket to the URL's host:port or to the unix socket; -1
 * with a message. */
static int dial(const char *url, const char *sock)
{
	struct timeval tv = { .tv_sec = 20 };
	int fd = -1;

	if (sock) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(sock) >= sizeof(sa.sun_path)) {
			fprintf(stderr, "ferry-relay ctl: socket path too long: %s\n", sock);
			return -1;
		}
		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "ferry-relay ctl: cannot reach %s: %s\n", sock, strerror(errno));
			goto fail;
		}
	} else {
		struct http_parser_url u;
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL, *a;
		char host[256], port[8] = "80";

		http_parser_url_init(&u);
		if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 ||
		    !(u.field_set & (1 << UF_HOST)) || u.field_data[UF_HOST].len >= sizeof(host) ||
		    strncmp(url, "http://", 7) != 0) {
			fprintf(stderr, "ferry-relay ctl: --admin '%s' is not http://HOST:PORT\n", url);
			return -1;
		}
		snprintf(host, sizeof(host), "%.*s", (int)u.field_data[UF_HOST].len,
			 url + u.field_data[UF_HOST].off);
		if (u.field_set & (1 << UF_PORT))
			snprintf(port, sizeof(port), "%u", u.port);
		if (getaddrinfo(host, port, &hints, &ai) != 0) {
			fprintf(stderr, "ferry-relay ctl: cannot resolve %s\n", host);
			return -1;
		}
		for (a = ai; a; a = a->ai_next) {
			fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
				break;
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
		if (fd < 0) {
			fprintf(stderr, "ferry-relay ctl: cannot reach %s: %s (is the relay running "
				"with --admin-listen?)\n", url, strerror(errno));
			return -1;
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One request; the answer in m (initialised here). 0, or -1 with a message. */
static int request(const char *url, const char *sock, const char *token, const char *method,
		   const char *path, const char *body, struct fy_http_msg *m)
{
	char head[1024], buf[16384];
	int fd = dial(url, sock), n, r = 0;

	fy_http_init(m, HTTP_RESPONSE, 16384, ANSWER_MAX);
	if (fd < 0)
		return -1;
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: ferry-relay\r\n"
		     "Authorization: Bearer %s\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", method, path,
		     token, body ? strlen(body) : 0);
	if (n < 0 || (size_t)n >= sizeof(head) || send_all(fd, head, (size_t)n) < 0 ||
	    (body && send_all(fd, body, strlen(body)) < 0)) {
		fprintf(stderr, "ferry-relay ctl: cannot send the request: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	while (r == 0) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k < 0) {
			fprintf(stderr, "ferry-relay ctl: no answer: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		r = fy_http_feed(m, buf, (size_t)k);
	}
	close(fd);
	if (r < 0) {
		fprintf(stderr, "ferry-relay ctl: bad answer from the relay: %s\n", m->why);
		return -1;
	}
	return 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void ports_str(const cJSON *a, char *out, size_t n)
{
	const cJSON *p;
	size_t off = 0;

	out[0] = 0;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(a, "ports")) {
		int w = snprintf(out + off, n - off, "%s%.0f%s", off ? "," : "", num(p, "port"),
				 strcmp(str(p, "proto"), "udp") ? "" : "/udp");

		if (w < 0 || (size_t)w >= n - off)
			break;
		off += (size_t)w;
	}
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(a, "names")) {
		int w = snprintf(out + off, n - off, "%s%s(%s)", off ? "," : "", str(p, "name"),
				 str(p, "kind"));

		if (w < 0 || (size_t)w >= n - off)
			break;
		off += (size_t)w;
	}
	if (!out[0])
		snprintf(out, n, "-");
}

static void print_agent(const cJSON *a)
{
	char ports[256];

	ports_str(a, ports, sizeof(ports));
	printf("%-20s %-22s %-20s %3.0f/%-3.0f %-16s %7.0f %12.0f %12.0f\n", str(a, "name"),
	       str(a, "address"), str(a, "since"), num(a, "tunnels"), num(a, "tunnels_expected"),
	       ports, num(a, "streams_open"), num(a, "bytes_in"), num(a, "bytes_out"));
}

static void agents_header(void)
{
	printf("%-20s %-22s %-20s %7s %-16s %7s %12s %12s\n", "NAME", "ADDRESS", "SINCE",
	       "TUNNELS", "PORTS", "STREAMS", "BYTES_IN", "BYTES_OUT");
}

/* The answer, as text. */
static void print_text(const char *cmd, const cJSON *o)
{
	const cJSON *v;

	if (!strcmp(cmd, "agents")) {
		agents_header();
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "agents"))
			print_agent(v);
	} else if (!strcmp(cmd, "agent")) {
		agents_header();
		print_agent(o);
	} else if (!strcmp(cmd, "ports")) {
		printf("%-6s %-5s %-20s %s\n", "PORT", "PROTO", "AGENT", "WORKER");
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "ports"))
			printf("%-6.0f %-5s %-20s %.0f\n", num(v, "port"), str(v, "proto"),
			       str(v, "agent"), num(v, "worker"));
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "names"))
			printf("%-6s %-5s %-20s %.0f%s\n", str(v, "name"), str(v, "kind"),
			       str(v, "agent"), num(v, "worker"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "gone")) ?
			       " (agent gone)" : "");
	} else if (!strcmp(cmd, "streams")) {
		printf("%-6s %-6s %-10s %-6s %-6s %-22s %12s %12s\n", "WORKER", "TUNNEL", "STREAM",
		       "KIND", "PORT", "PEER", "BYTES_IN", "BYTES_OUT");
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(o, "streams"))
			printf("%-6.0f %-6.0f %-10.0f %-6s %-6.0f %-22s %12.0f %12.0f\n",
			       num(v, "worker"), num(v, "tunnel"), num(v, "id"), str(v, "kind"),
			       num(v, "port"), str(v, "peer"), num(v, "bytes_in"), num(v, "bytes_out"));
		printf("%.0f stream(s) in all\n", num(o, "total"));
	} else if (!strcmp(cmd, "forwards")) {
		printf("agent '%s': %s %s: %s\n", str(o, "agent"), str(o, "spec"),
		       !strcmp(str(o, "op"), "open") ? "opened" : "closed", str(o, "message"));
	} else {
		printf("%s\n", str(o, "message"));
	}
}

static int read_token(const char *file, char *tok, size_t n)
{
	const char *env = getenv("FERRY_ADMIN_TOKEN");
	FILE *f;

	if (!file) {
		if (!env || !*env || strlen(env) >= n) {
			fprintf(stderr, "ferry-relay ctl: an admin token is needed: --token-file FILE or "
				"FERRY_ADMIN_TOKEN (ferry-relay token add --admin makes one)\n");
			return -1;
		}
		snprintf(tok, n, "%s", env);
		return 0;
	}
	f = fopen(file, "re");
	if (!f || !fgets(tok, (int)n, f)) {
		fprintf(stderr, "ferry-relay ctl: cannot read a token from %s: %s\n", file,
			f ? "empty file" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	tok[strcspn(tok, "\r\n")] = 0;
	return tok[0] ? 0 : -1;
}

/* "-R 2222:127.0.0.1:22" from the words after the agent, as one string. */
static int join_words(int argc, char **argv, char *out, size_t n)
{
	size_t off = 0;

	out[0] = 0;
	for (int i = 0; i < argc; i++) {
		int w = snprintf(out + off, n - off, "%s%s", i ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= n - off)
			return -1;
		off += (size_t)w;
	}
	return argc ? 0 : -1;
}

int fy_relay_cmd_ctl(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "admin", required_argument, NULL, 'a' },
		{ "admin-socket", required_argument, NULL, 's' },
		{ "token-file", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = "http://127.0.0.1:7001", *sock = NULL, *tfile = NULL, *cmd;
	const char *method = "GET";
	char token[300], path[200], spec[300], *body = NULL;
	struct fy_http_msg m;
	cJSON *o, *b;
	int c, json = 0, rc;

	optind = 0;
	opterr = 0;
	/* '+': options end at the command, so a spec's "-R" is not one. */
	while ((c = getopt_long(argc, argv, "+:a:s:t:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': url = optarg; break;
		case 's': sock = optarg; break;
		case 't': tfile = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: return cmd_getopt_error("ctl", usage, c, argv);
		}
	}
	if (optind >= argc)
		return cmd_bad_usage("ctl", usage, "missing command");
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;
	if (!strcmp(cmd, "agents") && argc == 0) {
		snprintf(path, sizeof(path), "/agents");
	} else if (!strcmp(cmd, "agent") && argc == 1) {
		snprintf(path, sizeof(path), "/agents/%.64s", argv[0]);
	} else if (!strcmp(cmd, "streams") && argc >= 1 && argc <= 3) {
		snprintf(path, sizeof(path), "/agents/%.64s/streams?offset=%.12s&limit=%.12s", argv[0],
			 argc > 1 ? argv[1] : "0", argc > 2 ? argv[2] : "100");
	} else if (!strcmp(cmd, "ports") && argc == 0) {
		snprintf(path, sizeof(path), "/ports");
	} else if (!strcmp(cmd, "kick") && argc == 1) {
		method = "DELETE";
		snprintf(path, sizeof(path), "/agents/%.64s", argv[0]);
	} else if (!strcmp(cmd, "reload") && argc == 0) {
		method = "POST";
		snprintf(path, sizeof(path), "/reload");
	} else if (!strcmp(cmd, "forwards") && argc >= 3 &&
		   (!strcmp(argv[0], "open") || !strcmp(argv[0], "close"))) {
		method = !strcmp(argv[0], "open") ? "POST" : "DELETE";
		snprintf(path, sizeof(path), "/agents/%.64s/forwards", argv[1]);
		if (join_words(argc - 2, argv + 2, spec, sizeof(spec)) < 0)
			return cmd_bad_usage("ctl", usage, "forward spec too long");
		b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "spec", spec);
		body = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
		if (!body)
			return 1;
	} else {
		return cmd_bad_usage("ctl", usage, "unknown command or wrong arguments: '%s'", cmd);
	}
	if (read_token(tfile, token, sizeof(token)) < 0) {
		free(body);
		return 2;
	}
	rc = request(url, sock, token, method, path, body, &m);
	free(body);
	if (rc < 0) {
		fy_http_fini(&m);
		return 1;
	}
	o = m.body ? cJSON_ParseWithLength(m.body, m.body_len) : NULL;
	if (m.p.status_code >= 400) {
		fprintf(stderr, "ferry-relay ctl: %s (HTTP %u)\n",
			o ? str(o, "error") : "the relay refused", m.p.status_code);
		if (json && m.body)
			printf("%s\n", m.body);
		rc = 1;
	} else if (json) {
		printf("%s\n", m.body ? m.body : "");
	} else if (!o) {
		fprintf(stderr, "ferry-relay ctl: the answer is not JSON\n");
		rc = 1;
	} else {
		print_text(cmd, o);
	}
	cJSON_Delete(o);
	fy_http_fini(&m);
	return rc;
}
