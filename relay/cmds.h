/* Offline subcommands of ferry-relay: "cert" and "token".
 * argv[0] is the subcommand name ("cert" / "token"), argv[1] its action.
 * Each returns the process exit code: 0 done, 1 runtime failure (the
 * message says what to do), 2 bad usage (message + usage on stderr).
 * They use getopt_long and reset optind themselves. */
#ifndef FERRY_RELAY_CMDS_H
#define FERRY_RELAY_CMDS_H

int fy_relay_cmd_cert(int argc, char **argv);
int fy_relay_cmd_token(int argc, char **argv);

#endif
