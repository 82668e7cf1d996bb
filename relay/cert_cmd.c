/* ferry-relay cert: make the relay's CA + certificate, print fingerprints.
 *   ferry-relay cert init --dir DIR --name NAME[,NAME...] [--force]
 *   ferry-relay cert fingerprint FILE */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ferry/tls.h"

#include "cmds.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ferry-relay cert init --dir DIR --name NAME[,NAME...] [--force]\n"
		"       ferry-relay cert fingerprint FILE\n"
		"\n"
		"  init          create a private CA and a relay certificate signed by it\n"
		"                (EC P-256): DIR/ca.crt, ca.key, relay.crt, relay.key\n"
		"    -d, --dir DIR     directory to write (created if missing)\n"
		"    -n, --name NAMES  DNS names and/or IP addresses agents use to reach\n"
		"                      the relay, comma-separated; the first is the CN\n"
		"    -f, --force       replace existing files (agents then need the new\n"
		"                      ca.crt or fingerprint)\n"
		"  fingerprint   print the SHA-256 fingerprint of a PEM certificate, the\n"
		"                value an agent pins with --fingerprint\n"
		"  -h, --help    show this help\n");
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *names = NULL;
	char fp[FY_FP_LEN + 16], err[512];
	int force = 0, c;

	optind = 0;	/* glibc: full reset, argv[0] is the action */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:n:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'n': names = optarg; break;
		case 'f': force = 1; break;
		case 'h': usage(stdout); return 0;
		default: return cmd_getopt_error("cert", usage, c, argv);
		}
	}
	if (optind < argc)
		return cmd_bad_usage("cert", usage, "unexpected argument '%s'", argv[optind]);
	if (!dir)
		return cmd_bad_usage("cert", usage, "cert init needs --dir DIR");
	if (!names)
		return cmd_bad_usage("cert", usage, "cert init needs --name NAME[,NAME...] (the DNS "
				 "names or IP addresses agents connect to)");

	if (fy_tls_cert_init(dir, names, force, fp, sizeof(fp), err, sizeof(err))) {
		fprintf(stderr, "ferry-relay cert init: %s\n", err);
		return 1;
	}
	printf("wrote %s/ca.key (keep it private; only needed to issue certificates)\n"
	       "wrote %s/ca.crt\n"
	       "wrote %s/relay.key\n"
	       "wrote %s/relay.crt (valid for: %s)\n"
	       "fingerprint: %s\n"
	       "\n"
	       "The relay serves %s/relay.crt with %s/relay.key.\n"
	       "Agents verify it with either:\n"
	       "  --ca %s/ca.crt (copy it to the agent; connect using one of: %s)\n"
	       "  --fingerprint %s (pins this certificate; update it after --force)\n",
	       dir, dir, dir, dir, names, fp, dir, dir, dir, names, fp);
	return 0;
}

static int cmd_fingerprint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char fp[FY_FP_LEN + 16], err[512];
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		return cmd_getopt_error("cert", usage, c, argv);
	}
	if (optind >= argc)
		return cmd_bad_usage("cert", usage, "cert fingerprint needs a certificate FILE");
	if (optind + 1 < argc)
		return cmd_bad_usage("cert", usage, "unexpected argument '%s'", argv[optind + 1]);
	if (fy_tls_fingerprint_file(argv[optind], fp, sizeof(fp), err, sizeof(err))) {
		fprintf(stderr, "ferry-relay cert fingerprint: %s\n", err);
		return 1;
	}
	printf("%s\n", fp);
	return 0;
}

int fy_relay_cmd_cert(int argc, char **argv)
{
	const char *action = argc > 1 ? argv[1] : NULL;

	if (!action)
		return cmd_bad_usage("cert", usage, "missing action (init or fingerprint)");
	if (!strcmp(action, "-h") || !strcmp(action, "--help") || !strcmp(action, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(action, "init"))
		return cmd_init(argc - 1, argv + 1);
	if (!strcmp(action, "fingerprint"))
		return cmd_fingerprint(argc - 1, argv + 1);
	return cmd_bad_usage("cert", usage, "unknown action '%s' (expected init or fingerprint)", action);
}
