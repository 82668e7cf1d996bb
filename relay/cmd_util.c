/* Error reporting shared by ferry-relay's subcommands. */
#include <getopt.h>

#include "cmds.h"

int cmd_usage_error(const char *cmd, cmd_usage_fn usage, const char *fmt, va_list ap)
{
	fprintf(stderr, "ferry-relay %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n\n");
	usage(stderr);
	return 2;
}

int cmd_bad_usage(const char *cmd, cmd_usage_fn usage, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cmd_usage_error(cmd, usage, fmt, ap);
	va_end(ap);
	return rc;
}

int cmd_getopt_error(const char *cmd, cmd_usage_fn usage, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cmd_bad_usage(cmd, usage, "option '%s' needs a value", opt);
	return cmd_bad_usage(cmd, usage, "unknown option '%s'", opt);
}
