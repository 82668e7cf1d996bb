/* Config file -> argument vector. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int fy_conf_parse(const char *prog, int argc, char **argv, fy_conf_pass_fn pass, void *cfg)
{
	const char *conf = fy_conf_find(argc, argv);
	int rc;

	if (conf) {
		int cargc;
		char **cargv, err[300];

		if (fy_conf_load(conf, prog, &cargc, &cargv, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", prog, err);
			return 2;
		}
		rc = pass(cfg, cargc, cargv, conf);
		fy_conf_free(cargc, cargv);
		if (rc >= 0)
			return rc;
	}
	return pass(cfg, argc, argv, NULL);
}

int fy_conf_num(const char *prog, const char *name, const char *s, unsigned long lo,
		unsigned long hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: --%s must be a number from %lu to %lu (got '%s')\n",
			prog, name, lo, hi, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

void fy_conf_warn_private(const char *prog, const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st) < 0 || !(st.st_mode & 077))
		return;
	fprintf(stderr, "%s: warning: %s %s can be %s by %s (mode %04o): chmod 600 %s\n",
		prog, what, path, st.st_mode & 044 ? "read" : "changed",
		st.st_mode & 006 ? "every local user" : "its group",
		(unsigned)(st.st_mode & 07777), path);
}

int fy_conf_size(const char *prog, const char *name, const char *s, uint64_t lo, uint64_t hi,
		 uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end != s && *end && !end[1]) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		default: break;
		}
	}
	if (errno || *end || end == s || s[0] == '-' || v > (hi >> shift) ||
	    (v << shift) < lo) {
		fprintf(stderr, "%s: --%s must be a size from %llu to %llu bytes, with an "
			"optional K, M or G (got '%s')\n", prog, name, (unsigned long long)lo,
			(unsigned long long)hi, s);
		return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

int fy_conf_size32(const char *prog, const char *name, const char *s, uint32_t lo, uint32_t hi,
		   uint32_t *out)
{
	uint64_t v;

	if (fy_conf_size(prog, name, s, lo, hi, &v) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int fy_conf_copy(const char *prog, char *dst, size_t n, const char *name, const char *s)
{
	if (strlen(s) >= n) {
		fprintf(stderr, "%s: --%s value too long\n", prog, name);
		return -1;
	}
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}
