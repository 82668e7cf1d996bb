/* JSON for the admin API (json.c), from plain snapshots: no relay state,
 * so tests/unit/admin_json_test.c builds them alone. Each builder returns
 * a new cJSON tree (the caller's to delete), or NULL when out of memory. */
#ifndef FERRY_ADMIN_JSON_H
#define FERRY_ADMIN_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admin-t.h"

/* wall_ms: the time now (milliseconds since the epoch), for "since". */
cJSON *adm_json_agent(const struct adm_agent *a, uint64_t wall_ms);
cJSON *adm_json_agents(const struct adm_snap *s, uint64_t wall_ms);
cJSON *adm_json_ports(const struct adm_snap *s);
/* {"error": msg, "code": code} */
cJSON *adm_json_error(const char *code, const char *msg);
/* The "spec" of a request body {"spec": "-R 2222:127.0.0.1:22"} into spec
 * (n bytes). 0, or -1 with *why. */
int adm_json_spec(const char *body, size_t len, char *spec, size_t n, const char **why);
/* Prints o without spaces and deletes it: a malloc'd string (the caller
 * frees it) with *len, or NULL. */
char *adm_json_print(cJSON *o, size_t *len);

#endif
