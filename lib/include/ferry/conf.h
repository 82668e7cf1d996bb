/* Config files for relay and agent: the same names as the long command
 * line options, one per line ("name value" or "name = value"; '#'
 * comments; single-letter names such as R map to -R). The file becomes an
 * argument vector parsed by the same getopt code as the command line, so
 * the two can never disagree. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>

/* Owned by the caller: fy_conf_free releases argv and its strings.
 * argv[0] is a copy of prog. 0 or -1 with err ("relay.conf:4: ..."). */
int fy_conf_load(const char *path, const char *prog, int *argc, char ***argv,
		 char *err, size_t errlen);
void fy_conf_free(int argc, char **argv);

/* Finds "--config FILE" / "--config=FILE" in argv; NULL if absent. */
const char *fy_conf_find(int argc, char **argv);

#endif
