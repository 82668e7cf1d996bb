/* Config files for relay and agent: the same names as the long command
 * line options, one per line ("name value" or "name = value"; '#'
 * comments; single-letter names such as R map to -R). The file becomes an
 * argument vector parsed by the same getopt code as the command line, so
 * the two can never disagree. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>
#include <stdint.h>

/* Owned by the caller: fy_conf_free releases argv and its strings.
 * argv[0] is a copy of prog. 0 or -1 with err ("relay.conf:4: ..."). */
int fy_conf_load(const char *path, const char *prog, int *argc, char ***argv,
		 char *err, size_t errlen);
void fy_conf_free(int argc, char **argv);

/* Finds "--config FILE" / "--config=FILE" in argv; NULL if absent. */
const char *fy_conf_find(int argc, char **argv);

/* One getopt pass over a vector: -1 to go on, else the exit code.
 * file: the config file this vector came from, NULL for the command line. */
typedef int (*fy_conf_pass_fn)(void *cfg, int argc, char **argv, const char *file);
/* The file named by --config (if any) first, then the command line, so
 * the command line wins. -1 to go on, else the exit code (2 when the file
 * cannot be read, with a message on stderr naming prog). */
int fy_conf_parse(const char *prog, int argc, char **argv, fy_conf_pass_fn pass, void *cfg);

/* Option value helpers for the passes: 0, or -1 after a message on
 * stderr ("prog: --name must be a number from lo to hi (got 'x')"). */
int fy_conf_num(const char *prog, const char *name, const char *s, unsigned long lo,
		unsigned long hi, uint32_t *out);
int fy_conf_copy(const char *prog, char *dst, size_t n, const char *name, const char *s);
/* Warns on stderr when path (a key or token file) can be read or written
 * by group or others: "prog: warning: what FILE can be read by every
 * local user (mode 0644): chmod 600 FILE" ("changed by" for write bits). */
void fy_conf_warn_private(const char *prog, const char *path, const char *what);
/* A size in bytes, with an optional K, M or G suffix (powers of two). */
int fy_conf_size(const char *prog, const char *name, const char *s, uint64_t lo, uint64_t hi,
		 uint64_t *out);
int fy_conf_size32(const char *prog, const char *name, const char *s, uint32_t lo, uint32_t hi,
		   uint32_t *out);

#endif
