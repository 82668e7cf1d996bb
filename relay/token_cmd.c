/* ferry-relay token: add agent tokens to the relay's token file, list them.
 *   ferry-relay token add --tokens FILE --agent NAME[,NAME...] --ports SPEC [--id LABEL]
 *                         [--max-ports N] [--groups G,...] [--reach AGENT|@GROUP|*,...]
 *   ferry-relay token add --tokens FILE --admin [--id LABEL]   (the admin API's)
 *                         [--names PATTERN,...]
 *   ferry-relay token list --tokens FILE
 * The token is printed once, alone on stdout; the file keeps its hash. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ferry/token.h"

#include "cmds.h"

#define ID_MAX 31		/* fits fy_token_rule.id */
#define ID_SUFFIX 5		/* "-" + 4 hex digits */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ferry-relay token add --tokens FILE --agent NAME[,NAME...] --ports SPEC\n"
		"                             [--id LABEL] [--max-ports N] [--groups G,...]\n"
		"                             [--reach AGENT|@GROUP|*,...] [--names PATTERN,...]\n"
		"       ferry-relay token add --tokens FILE --admin [--id LABEL]\n"
		"       ferry-relay token list --tokens FILE\n"
		"\n"
		"  add    make a new agent token, store its SHA-256 hash in FILE (created\n"
		"         with mode 0600 if missing) and print the token once on stdout\n"
		"    -t, --tokens FILE   the relay's token file\n"
		"    -a, --agent NAMES   agent names the token may act as, comma-separated\n"
		"    -p, --ports SPEC    public ports it may claim, e.g. 2200-2299,3000\n"
		"    -n, --names LIST    names it may claim (-H, -S: HTTP Host/path, TLS SNI),\n"
		"                        e.g. 'pi-*,web' ('*': any run of a-z 0-9 -); a token\n"
		"                        needs --ports, --names or both\n"
		"    -i, --id LABEL      label for logs, up to 31 of A-Z a-z 0-9 . _ -\n"
		"                        (default: first agent name + 4 random hex digits)\n"
		"    -m, --max-ports N   ports one agent may hold at once (default: the\n"
		"                        relay's --max-ports-per-agent)\n"
		"    -g, --groups G,...  groups its agents belong to (for others' --reach @G)\n"
		"    -r, --reach LIST    agents its agents may open streams to (-L, -D, -W):\n"
		"                        names, @group or * (default: none)\n"
		"        --admin         a token for the admin API (ferry-relay ctl, /metrics)\n"
		"                        instead: it connects no agent, agent tokens do not\n"
		"                        open the API\n"
		"  list   show the ids, agents and ports in FILE (never tokens or hashes)\n"
		"  -h, --help  show this help\n");
}

struct token_args {
	const char *tokens, *agents, *ports, *id, *max_ports, *groups, *reach, *names;
	bool admin;
};

/* Parses the shared options; 0 to go on, else *rc is the exit code. */
static int parse_opts(int argc, char **argv, struct token_args *ta, int *rc)
{
	static const struct option opts[] = {
		{ "tokens", required_argument, NULL, 't' },
		{ "agent", required_argument, NULL, 'a' },
		{ "agents", required_argument, NULL, 'a' },
		{ "ports", required_argument, NULL, 'p' },
		{ "id", required_argument, NULL, 'i' },
		{ "max-ports", required_argument, NULL, 'm' },
		{ "groups", required_argument, NULL, 'g' },
		{ "reach", required_argument, NULL, 'r' },
		{ "admin", no_argument, NULL, 'A' },
		{ "names", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;	/* glibc: full reset, argv[0] is the action */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:a:p:i:m:g:r:n:Ah", opts, NULL)) != -1) {
		switch (c) {
		case 't': ta->tokens = optarg; break;
		case 'a': ta->agents = optarg; break;
		case 'p': ta->ports = optarg; break;
		case 'i': ta->id = optarg; break;
		case 'm': ta->max_ports = optarg; break;
		case 'g': ta->groups = optarg; break;
		case 'r': ta->reach = optarg; break;
		case 'A': ta->admin = true; break;
		case 'n': ta->names = optarg; break;
		case 'h': usage(stdout); *rc = 0; return -1;
		default: *rc = cmd_getopt_error("token", usage, c, argv); return -1;
		}
	}
	if (optind < argc) {
		*rc = cmd_bad_usage("token", usage, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!ta->tokens) {
		*rc = cmd_bad_usage("token", usage, "missing --tokens FILE (the relay's token file)");
		return -1;
	}
	return 0;
}

static int id_taken(const struct fy_tokens *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].id, id))
			return 1;
	return 0;
}

/* "<first agent, cut to fit>-<4 hex>", not yet used in the file. */
static int default_id(const char *path, const char *agents, char *id, size_t n,
		      char *err, size_t errlen)
{
	struct fy_tokens t = { 0 };
	size_t alen = strcspn(agents, ",");
	int ret = -1;

	if (access(path, F_OK) == 0 && fy_tokens_load(path, &t, err, errlen))
		return -1;
	if (alen > ID_MAX - ID_SUFFIX)
		alen = ID_MAX - ID_SUFFIX;
	for (int tries = 0; tries < 16; tries++) {
		unsigned char r[2];

		if (RAND_bytes(r, sizeof(r)) != 1)
			break;
		snprintf(id, n, "%.*s-%02x%02x", (int)alen, agents, r[0], r[1]);
		if (!id_taken(&t, id)) {
			ret = 0;
			break;
		}
	}
	if (ret)
		snprintf(err, errlen, "cannot pick a free id; give one with --id");
	fy_tokens_free(&t);
	return ret;
}

static int cmd_add(int argc, char **argv)
{
	struct token_args ta = { 0 };
	const char *path, *agents, *ports, *id;
	char idbuf[ID_MAX + 1], token[64], err[512], pstr[FY_TOKEN_RANGES_MAX * 12];
	struct fy_token_rule probe;
	struct fy_token_spec spec = { 0 };
	int rc = 0;

	if (parse_opts(argc, argv, &ta, &rc))
		return rc;
	path = ta.tokens;
	agents = ta.agents;
	ports = ta.ports;
	id = ta.id;
	if (ta.max_ports) {
		char *end;
		unsigned long v = strtoul(ta.max_ports, &end, 10);

		if (*end || end == ta.max_ports || v < 1 || v > 65535)
			return cmd_bad_usage("token", usage, "--max-ports must be a number from 1 "
					     "to 65535 (got '%s')", ta.max_ports);
		spec.max_ports = (unsigned)v;
	}
	if (ta.admin) {
		if (agents || ports || ta.max_ports || ta.groups || ta.reach)
			return cmd_bad_usage("token", usage, "an --admin token takes no --agent, "
					     "--ports, --max-ports, --groups or --reach");
		agents = "admin";	/* for the default id only */
		ports = "1";
	}
	if (!agents || !*agents)
		return cmd_bad_usage("token", usage, "token add needs --agent NAME[,NAME...]");
	if ((!ports || !*ports) && !ta.names)
		return cmd_bad_usage("token", usage, "token add needs --ports SPEC (e.g. 2200-2299,3000) "
				     "or --names LIST (e.g. 'pi-*,web')");
	memset(&probe, 0, sizeof(probe));
	if (ports && fy_token_parse_ranges(ports, &probe, err, sizeof(err)))
		return cmd_bad_usage("token", usage, "--ports: %s", err);
	if (ta.names && fy_token_parse_names(ta.names, &probe, err, sizeof(err)))
		return cmd_bad_usage("token", usage, "--names: %s", err);
	fy_token_ranges_str(&probe, pstr, sizeof(pstr));
	if (!probe.nranges)
		snprintf(pstr, sizeof(pstr), "none");

	if (!id) {
		if (default_id(path, agents, idbuf, sizeof(idbuf), err, sizeof(err))) {
			fprintf(stderr, "ferry-relay token add: %s\n", err);
			return 1;
		}
		id = idbuf;
	}
	if (fy_token_generate(token, sizeof(token))) {
		fprintf(stderr, "ferry-relay token add: cannot get random bytes for a token; "
			"check that the system's random source works\n");
		return 1;
	}
	spec.id = id;
	spec.agents = agents;
	spec.ports = ports && *ports ? ports : NULL;
	spec.groups = ta.groups;
	spec.reach = ta.reach;
	spec.admin = ta.admin;
	spec.names = ta.names;
	if (fy_tokens_append(path, token, &spec, err, sizeof(err))) {
		OPENSSL_cleanse(token, sizeof(token));
		fprintf(stderr, "ferry-relay token add: %s\n", err);
		return 1;
	}
	printf("%s\n", token);
	fflush(stdout);
	OPENSSL_cleanse(token, sizeof(token));
	if (ta.admin)
		fprintf(stderr, "added admin token '%s' to %s: it opens the admin API "
			"(--admin-listen) and connects no agent.\n", id, path);
	else
		fprintf(stderr,
		"added token '%s' to %s (agents %s, ports %s).\n"
		"Only its SHA-256 hash is stored: copy the token above now, it cannot be\n"
		"shown again. To replace a lost token, add a new one and delete the\n"
		"old line from %s.\n",
		id, path, agents, pstr, path);
	if (ta.admin)
		fprintf(stderr, "Only its SHA-256 hash is stored: copy the token above now.\n");
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	struct token_args ta = { 0 };
	const char *path;
	struct fy_tokens t = { 0 };
	char err[512];
	int rc = 0, wid = 2, wag = 6;

	if (parse_opts(argc, argv, &ta, &rc))
		return rc;
	path = ta.tokens;
	if (ta.agents || ta.ports || ta.id || ta.max_ports || ta.groups || ta.reach || ta.admin ||
	    ta.names)
		return cmd_bad_usage("token", usage, "token list takes only --tokens FILE");
	if (fy_tokens_load(path, &t, err, sizeof(err))) {
		fprintf(stderr, "ferry-relay token list: %s\n", err);
		if (access(path, F_OK) != 0)
			fprintf(stderr, "(create it with 'ferry-relay token add --tokens %s ...')\n",
				path);
		return 1;
	}
	if (t.n == 0) {
		fprintf(stderr, "no tokens in %s\n", path);
		fy_tokens_free(&t);
		return 0;
	}
	/* Column widths; agent lists joined with ','. */
	for (size_t i = 0; i < t.n; i++) {
		int w = 0;

		if ((int)strlen(t.v[i].id) > wid)
			wid = (int)strlen(t.v[i].id);
		for (unsigned a = 0; a < t.v[i].nagents; a++)
			w += (int)strlen(t.v[i].agents[a]) + (a ? 1 : 0);
		if (w > wag)
			wag = w;
	}
	printf("%-*s  %-*s  %s\n", wid, "ID", wag, "AGENTS", "PORTS");
	for (size_t i = 0; i < t.n; i++) {
		const struct fy_token_rule *r = &t.v[i];
		char pstr[FY_TOKEN_RANGES_MAX * 12];
		int w = 0;

		printf("%-*s  ", wid, r->id);
		if (r->admin) {
			printf("%-*s  admin API\n", wag, "(admin)");
			continue;
		}
		for (unsigned a = 0; a < r->nagents; a++)
			w += printf("%s%s", a ? "," : "", r->agents[a]);
		fy_token_ranges_str(r, pstr, sizeof(pstr));
		printf("%*s  %s", wag - w, "", pstr);
		if (r->max_ports)
			printf(" (at most %u at once)", r->max_ports);
		for (unsigned g = 0; g < r->ngroups; g++)
			printf("%s%s", g ? "," : "  groups ", r->groups[g]);
		if (r->nreach) {
			char rstr[FY_TOKEN_REACH_MAX * 66];

			fy_token_reach_str(r, rstr, sizeof(rstr));
			printf("  reach %s", rstr);
		}
		if (r->nnames) {
			char nstr[FY_TOKEN_NAMES_MAX * 66];

			fy_token_names_str(r, nstr, sizeof(nstr));
			printf("  names %s", nstr);
		}
		printf("\n");
	}
	fy_tokens_free(&t);
	return 0;
}

int fy_relay_cmd_token(int argc, char **argv)
{
	const char *action = argc > 1 ? argv[1] : NULL;

	if (!action)
		return cmd_bad_usage("token", usage, "missing action (add or list)");
	if (!strcmp(action, "-h") || !strcmp(action, "--help") || !strcmp(action, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(action, "add"))
		return cmd_add(argc - 1, argv + 1);
	if (!strcmp(action, "list"))
		return cmd_list(argc - 1, argv + 1);
	return cmd_bad_usage("token", usage, "unknown action '%s' (expected add or list)", action);
}
