/* Config file -> argument vector. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/conf.h"

static int push(char ***argv, int *argc, int *cap, const char *s, size_t n)
{
	char *dup;

	if (*argc + 2 > *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		char **nv = realloc(*argv, (size_t)ncap * sizeof(char *));

		if (!nv)
			return -1;
		*argv = nv;
		*cap = ncap;
	}
	dup = strndup(s, n);
	if (!dup)
		return -1;
	(*argv)[(*argc)++] = dup;
	(*argv)[*argc] = NULL;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

int fy_conf_load(const char *path, const char *prog, int *argc, char ***argv,
		 char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[1024], opt[80];
	int cap = 0, lineno = 0, rc = -1;

	*argc = 0;
	*argv = NULL;
	if (!f) {
		snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
		return -1;
	}
	if (push(argv, argc, &cap, prog, strlen(prog)) < 0)
		goto oom;
	while (fgets(line, sizeof(line), f)) {
		char *s, *key, *val, *hash;
		size_t klen;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		s = trim(line);
		if (!*s)
			continue;
		key = s;
		klen = strcspn(key, " \t=");
		val = key + klen;
		if (*val)
			*val++ = 0;
		val = trim(val);
		if (*val == '=')
			val = trim(val + 1);
		if (klen == 0 || klen > 60) {
			snprintf(err, errlen, "%s:%d: expected 'name value'", path, lineno);
			goto out;
		}
		if (!strcmp(key, "config")) {
			snprintf(err, errlen, "%s:%d: config files do not nest", path, lineno);
			goto out;
		}
		snprintf(opt, sizeof(opt), "%s%s", klen == 1 ? "-" : "--", key);
		if (push(argv, argc, &cap, opt, strlen(opt)) < 0)
			goto oom;
		if (*val && push(argv, argc, &cap, val, strlen(val)) < 0)
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory reading %s", path);
out:
	fclose(f);
	if (rc < 0) {
		fy_conf_free(*argc, *argv);
		*argc = 0;
		*argv = NULL;
	}
	return rc;
}

void fy_conf_free(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

const char *fy_conf_find(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}
