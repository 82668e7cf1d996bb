/* The admin API's JSON answers, built with cJSON from a snapshot (plain
 * data, see admin-t.h): never by hand, so names and strings are always
 * escaped right. */
#include <stdio.h>
#include <time.h>

#include "json.h"

/* "2024-05-01T12:00:00Z" for a wall-clock time in milliseconds. */
static void iso8601(uint64_t wall_ms, char *out, size_t n)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

static cJSON *port_obj(const struct adm_port *p, bool with_agent)
{
	cJSON *o = cJSON_CreateObject();

	if (p->name[0]) {
		cJSON_AddStringToObject(o, "name", p->name);
		cJSON_AddStringToObject(o, "kind", p->kind == FY_NAME_TLS ? "tls" : "http");
		cJSON_AddBoolToObject(o, "gone", p->gone);
	} else {
		cJSON_AddNumberToObject(o, "port", p->port);
		cJSON_AddStringToObject(o, "proto", p->udp ? "udp" : "tcp");
	}
	cJSON_AddNumberToObject(o, "worker", p->owner);
	if (with_agent)
		cJSON_AddStringToObject(o, "agent", p->agent);
	return o;
}

cJSON *adm_json_agent(const struct adm_agent *a, uint64_t wall_ms)
{
	cJSON *o = cJSON_CreateObject(), *ports, *names, *workers;
	char since[40];

	iso8601(wall_ms - a->age_ms, since, sizeof(since));
	cJSON_AddStringToObject(o, "name", a->name);
	cJSON_AddStringToObject(o, "address", a->peer);
	cJSON_AddStringToObject(o, "since", since);
	cJSON_AddNumberToObject(o, "connected_seconds", (double)(a->age_ms / 1000));
	cJSON_AddNumberToObject(o, "protocol", a->version);
	cJSON_AddNumberToObject(o, "tunnels", a->tunnels);
	cJSON_AddNumberToObject(o, "tunnels_expected", a->tunnels_expected);
	workers = cJSON_AddArrayToObject(o, "workers");
	for (unsigned w = 0; w < 64; w++)
		if (a->workers & (1ull << w))
			cJSON_AddItemToArray(workers, cJSON_CreateNumber(w));
	cJSON_AddBoolToObject(o, "draining", a->draining);
	ports = cJSON_AddArrayToObject(o, "ports");
	names = cJSON_AddArrayToObject(o, "names");
	for (unsigned i = 0; i < a->nports; i++)
		cJSON_AddItemToArray(a->ports[i].name[0] ? names : ports,
				     port_obj(&a->ports[i], false));
	if (a->ports_more)
		cJSON_AddBoolToObject(o, "ports_more", true);
	cJSON_AddNumberToObject(o, "bytes_in", (double)a->bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)a->bytes_out);
	cJSON_AddNumberToObject(o, "streams_open", (double)a->streams_open);
	cJSON_AddNumberToObject(o, "streams_opened", (double)a->streams_opened);
	return o;
}

cJSON *adm_json_agents(const struct adm_snap *s, uint64_t wall_ms)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "agents");

	for (size_t i = 0; i < s->n; i++)
		cJSON_AddItemToArray(arr, adm_json_agent(&s->agents[i], wall_ms));
	return o;
}

cJSON *adm_json_ports(const struct adm_snap *s)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "ports");
	cJSON *names = cJSON_AddArrayToObject(o, "names");

	for (size_t i = 0; i < s->nports; i++)
		cJSON_AddItemToArray(s->ports[i].name[0] ? names : arr, port_obj(&s->ports[i], true));
	return o;
}

cJSON *adm_json_error(const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "error", msg);
	cJSON_AddStringToObject(o, "code", code);
	return o;
}

int adm_json_spec(const char *body, size_t len, char *spec, size_t n, const char **why)
{
	cJSON *o = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *v;
	int rc = -1;

	if (!o) {
		*why = body ? "the body is not JSON" : "a JSON body {\"spec\": \"-R ...\"} is needed";
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "spec");
	if (!cJSON_IsObject(o) || !cJSON_IsString(v) || !v->valuestring[0])
		*why = "the body must be an object with a string \"spec\", e.g. "
		       "{\"spec\": \"-R 2222:127.0.0.1:22\"}";
	else if (strlen(v->valuestring) >= n)
		*why = "\"spec\" is too long";
	else {
		memcpy(spec, v->valuestring, strlen(v->valuestring) + 1);
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

char *adm_json_print(cJSON *o, size_t *len)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (s)
		*len = strlen(s);
	return s;
}
