/* Subcommands of ferry-relay: "cert" and "token" (offline), "stats" (asks a
 * running DPDK relay).
 * argv[0] is the subcommand name ("cert" / "token"), argv[1] its action.
 * Each returns the process exit code: 0 done, 1 runtime failure (the
 * message says what to do), 2 bad usage (message + usage on stderr).
 * They use getopt_long and reset optind themselves. */
#ifndef FERRY_RELAY_CMDS_H
#define FERRY_RELAY_CMDS_H

int fy_relay_cmd_cert(int argc, char **argv);
int fy_relay_cmd_token(int argc, char **argv);
int fy_relay_cmd_stats(int argc, char **argv);
/* ctl_cmd.c: the admin API's client. */
int fy_relay_cmd_ctl(int argc, char **argv);

/* Shared by the subcommands (cmd_util.c). */
#include <stdarg.h>
#include <stdio.h>
typedef void (*cmd_usage_fn)(FILE *f);
/* "ferry-relay CMD: message", a blank line, usage; returns 2. */
int cmd_usage_error(const char *cmd, cmd_usage_fn usage, const char *fmt, va_list ap);
/* The same with the message's arguments inline. */
int cmd_bad_usage(const char *cmd, cmd_usage_fn usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* For getopt_long's '?' / ':' results; returns 2. */
int cmd_getopt_error(const char *cmd, cmd_usage_fn usage, int c, char **argv);

#endif
