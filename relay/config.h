/* ferry-relay's command line and config file (config.c). */
#ifndef FERRY_RELAY_CONFIG_H
#define FERRY_RELAY_CONFIG_H

#include "relay-t.h"

/* Parses the command line (and --config FILE). -1: run the relay;
 * otherwise the exit code (0 after --help, 2 for bad usage). */
int relay_cfg_parse(struct relay_cfg *c, int argc, char **argv);

#endif
