/* The admin API's parsers and builders, without a relay: lib/http.c
 * (requests split at every byte, limits, pipelining, responses, paths,
 * queries, bearer tokens), relay/admin/json.c (agents and ports from a
 * snapshot, parsed back with cJSON; request bodies), lib/fwdspec.c (specs
 * spelled back canonically). */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include <ferry/fwdspec.h>
#include <ferry/http.h>

#include "cu_run.h"
#include "json.h"

/* Feeds s in pieces of step bytes: the last fy_http_feed result. */
static int feed(struct fy_http_msg *m, const char *s, size_t step)
{
	size_t n = strlen(s);
	int r = 0;

	for (size_t off = 0; off < n && r == 0; off += step)
		r = fy_http_feed(m, s + off, off + step > n ? n - off : step);
	return r;
}

static void test_request_split(void)
{
	static const char req[] = "POST /agents/pi/forwards?x=1 HTTP/1.1\r\nHost: a\r\n"
				  "AUTHORIZATION: Bearer  fyt_abc\r\nContent-Length: 11\r\n\r\n"
				  "{\"spec\":1}\n";
	char path[64], query[64];

	for (size_t step = 1; step <= sizeof(req); step++) {
		struct fy_http_msg m;

		fy_http_init(&m, HTTP_REQUEST, 1024, 1024);
		CU_ASSERT_EQUAL_FATAL(feed(&m, req, step), 1);
		CU_ASSERT_STRING_EQUAL(fy_http_method(&m), "POST");
		CU_ASSERT_STRING_EQUAL(fy_http_bearer(&m), "fyt_abc");
		CU_ASSERT_EQUAL(m.body_len, 11);
		CU_ASSERT_STRING_EQUAL(m.body, "{\"spec\":1}\n");
		CU_ASSERT_EQUAL(fy_http_path(&m, path, sizeof(path), query, sizeof(query)), 0);
		CU_ASSERT_STRING_EQUAL(path, "/agents/pi/forwards");
		CU_ASSERT_STRING_EQUAL(query, "x=1");
		fy_http_fini(&m);
	}
}

static void test_request_limits(void)
{
	static const struct {
		const char *req;
		int error;
	} bad[] = {
		{ "GET / HTTP/1.1\r\nX: 0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789\r\n\r\n", 431 },
		{ "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 413 },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n", 0 },
		{ "\x16\x03\x01 not http\r\n\r\n", 400 },
		{ "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400 },
	};
	struct fy_http_msg m;
	char big[2048];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		fy_http_init(&m, HTTP_REQUEST, 64, 32);
		if (bad[i].error) {
			CU_ASSERT_EQUAL(feed(&m, bad[i].req, 7), -1);
			CU_ASSERT_EQUAL(m.error, bad[i].error);
			CU_ASSERT_PTR_NOT_NULL(m.why);
		} else {
			/* A chunk over the body limit: refused as it arrives. */
			int r = feed(&m, bad[i].req, 7);

			r = r ? r : fy_http_feed(&m, "0123456789012345678901234567890123456789", 40);
			CU_ASSERT_EQUAL(r, -1);
			CU_ASSERT_EQUAL(m.error, 413);
		}
		fy_http_fini(&m);
	}
	/* Too many header fields. */
	fy_http_init(&m, HTTP_REQUEST, 1 << 20, 32);
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < FY_HTTP_HEADERS_MAX + 1; i++)
		strcat(big, "X: 1\r\n");
	strcat(big, "\r\n");
	CU_ASSERT_EQUAL(feed(&m, big, 100), -1);
	CU_ASSERT_EQUAL(m.error, 431);
	fy_http_fini(&m);
	/* The peer closing mid-request. */
	fy_http_init(&m, HTTP_REQUEST, 1024, 32);
	CU_ASSERT_EQUAL(feed(&m, "GET / HTTP/1.1\r\nHost:", 5), 0);
	CU_ASSERT_EQUAL(fy_http_feed(&m, NULL, 0), -1);
	fy_http_fini(&m);
}

static void test_pipelined_and_response(void)
{
	struct fy_http_msg m;

	/* One message per parse: what follows is not taken. */
	fy_http_init(&m, HTTP_REQUEST, 1024, 1024);
	CU_ASSERT_EQUAL(feed(&m, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 1000), 1);
	CU_ASSERT_STRING_EQUAL(m.url, "/a");
	CU_ASSERT_PTR_NULL(fy_http_bearer(&m));
	fy_http_fini(&m);
	/* A response, with and without a length. */
	fy_http_init(&m, HTTP_RESPONSE, 1024, 1024);
	CU_ASSERT_EQUAL(feed(&m, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}", 3), 1);
	CU_ASSERT_EQUAL(m.p.status_code, 403);
	CU_ASSERT_STRING_EQUAL(m.body, "{}");
	fy_http_fini(&m);
	fy_http_init(&m, HTTP_RESPONSE, 1024, 1024);
	CU_ASSERT_EQUAL(feed(&m, "HTTP/1.1 200 OK\r\n\r\nhello", 4), 0);
	CU_ASSERT_EQUAL(fy_http_feed(&m, NULL, 0), 1);
	CU_ASSERT_STRING_EQUAL(m.body, "hello");
	fy_http_fini(&m);
}

static void test_query(void)
{
	char v[8];

	CU_ASSERT_EQUAL(fy_http_query_get("offset=10&limit=5", "limit", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "5");
	CU_ASSERT_EQUAL(fy_http_query_get("offset=10&limit=5", "offset", v, sizeof(v)), 0);
	CU_ASSERT_STRING_EQUAL(v, "10");
	CU_ASSERT_EQUAL(fy_http_query_get("offsetx=1", "offset", v, sizeof(v)), -1);
	CU_ASSERT_EQUAL(fy_http_query_get("a=123456789", "a", v, sizeof(v)), -1);
	CU_ASSERT_EQUAL(fy_http_query_get("", "a", v, sizeof(v)), -1);
	CU_ASSERT_STRING_EQUAL(fy_http_reason(431), "Request Header Fields Too Large");
}

static void test_json_agents(void)
{
	struct adm_agent ag[2];
	struct adm_port ports[1] = { { .port = 2222, .udp = false, .owner = 1 } };
	struct adm_snap s = { .agents = ag, .n = 2, .ports = ports, .nports = 1 };
	cJSON *o, *a, *p;
	size_t len;
	char *txt;

	memset(ag, 0, sizeof(ag));
	strcpy(ag[0].name, "pi \"home\"");	/* escaped, never cut */
	strcpy(ag[0].peer, "192.0.2.1:4000");
	ag[0].version = 2;
	ag[0].age_ms = 61000;
	ag[0].tunnels = ag[0].tunnels_expected = 2;
	ag[0].workers = 3;
	ag[0].bytes_in = 1ull << 40;
	ag[0].nports = 1;
	ag[0].ports[0] = ports[0];
	strcpy(ag[1].name, "b");
	strcpy(ports[0].agent, ag[0].name);
	txt = adm_json_print(adm_json_agents(&s, 86400000ull * 365 * 30), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(txt);
	CU_ASSERT_EQUAL(strlen(txt), len);
	o = cJSON_Parse(txt);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	a = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "agents"), 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "name")->valuestring, "pi \"home\"");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "since")->valuestring, "1999-12-24T23:58:59Z");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(a, "connected_seconds")->valuedouble, 61);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(a, "bytes_in")->valuedouble, 1099511627776.0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(a, "workers")), 2);
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "ports"), 0);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(p, "port")->valuedouble, 2222);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(p, "proto")->valuestring, "tcp");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(o, "agents")), 2);
	cJSON_Delete(o);
	free(txt);
	txt = adm_json_print(adm_json_ports(&s), &len);
	o = cJSON_Parse(txt);
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "ports"), 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(p, "agent")->valuestring, "pi \"home\"");
	cJSON_Delete(o);
	free(txt);
}

static void test_json_spec(void)
{
	static const char *const bad[] = {
		"", "{", "[]", "{\"spec\": 1}", "{\"spec\": \"\"}", "\"-R 1:h:2\"", "{\"x\": \"-R\"}",
	};
	char spec[16];
	const char *why;

	CU_ASSERT_EQUAL(adm_json_spec("{\"spec\":\"-R 1:h:2\"}", 19, spec, sizeof(spec), &why), 0);
	CU_ASSERT_STRING_EQUAL(spec, "-R 1:h:2");
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(adm_json_spec(bad[i], strlen(bad[i]), spec, sizeof(spec), &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_EQUAL(adm_json_spec(NULL, 0, spec, sizeof(spec), &why), -1);
	CU_ASSERT_EQUAL(adm_json_spec("{\"spec\":\"-R 12345:hostname:22\"}", 31, spec, sizeof(spec),
				      &why), -1);	/* does not fit */
}

static void test_fwdspec(void)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "-R 2222:127.0.0.1:22", "-R 2222:127.0.0.1:22" },
		{ "-R2222:127.0.0.1:22", "-R 2222:127.0.0.1:22" },
		{ "-R   udp:[::]:53:[fd00::53]:53", "-R udp:[::]:53:[fd00::53]:53" },
		{ "-L 8080:web:10.0.0.5:80", "-L 8080:web:10.0.0.5:80" },
		{ "-D 1080", "-D 1080" },
		{ "-W b:db:5432", "-W b:db:5432" },
		{ "-H Web:127.0.0.1:8080", "-H web:127.0.0.1:8080" },
		{ "-S api:[::1]:443,proxy-protocol", "-S api:[::1]:443,proxy-protocol" },
		{ "-R 2222:127.0.0.1:22,proxy-protocol", "-R 2222:127.0.0.1:22,proxy-protocol" },
	};
	static const char *const bad[] = { "", "R 1:h:2", "-X 1:h:2", "-R", "-R 0:h:2", "-L 1:h:2",
					   "-H web:80", "-H we.b:h:80", "-H -web:h:80", "-S web:h:0",
					   "-R udp:53:h:53,proxy-protocol", "-H web:h:80,proxy" };
	struct fy_fwdspec fs;
	char out[FY_SPEC_MAX + 1], err[300];

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		CU_ASSERT_EQUAL_FATAL(fy_fwdspec_parse(good[i].in, &fs, err, sizeof(err)), 0);
		fy_fwdspec_str(&fs, out, sizeof(out));
		CU_ASSERT_STRING_EQUAL(out, good[i].out);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		err[0] = 0;
		CU_ASSERT_EQUAL(fy_fwdspec_parse(bad[i], &fs, err, sizeof(err)), -1);
		CU_ASSERT_NOT_EQUAL(err[0], 0);
	}
}

int main(void)
{
	static const struct cu_test tests[] = {
		{ "http request split at every byte", test_request_split },
		{ "http limits and malformed requests", test_request_limits },
		{ "http pipelining and responses", test_pipelined_and_response },
		{ "http query strings", test_query },
		{ "json agents and ports", test_json_agents },
		{ "json request body", test_json_spec },
		{ "forward specs", test_fwdspec },
	};

	return cu_run("admin", tests, ARRAY_LEN(tests));
}
