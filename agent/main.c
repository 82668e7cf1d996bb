/* ferry-agent: one thread, one event loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "agent.h"
#include "ferry/sock.h"
#include "ferry/tls.h"
#include "ferry/zpages.h"
#include "ferry_config.h"

#define TICK_MS 100

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static unsigned live_streams(struct agent *a)
{
	return (unsigned)fy_sess_count(&a->streams);
}

/* --proxy, or https_proxy / HTTPS_PROXY unless no_proxy names the relay.
 * The URL (credentials and all) is wiped once parsed. */
static int pick_proxy(struct agent *a)
{
	char err[300];
	int r = 0;

	if (a->cfg.proxy_given) {
		if (strcmp(a->cfg.proxy_url, "none"))
			r = proxy_parse(a->cfg.proxy_url, &a->proxy, err, sizeof(err)) < 0 ? -1 : 1;
		OPENSSL_cleanse(a->cfg.proxy_url, sizeof(a->cfg.proxy_url));
	} else {
		r = proxy_from_env(a->relay_host, &a->proxy, err, sizeof(err));
	}
	if (r < 0) {
		fprintf(stderr, "ferry-agent: %s\n", err);
		return -1;
	}
	if (r == 1 && !FERRY_HAVE_HTTP_TRANSPORTS) {
		fprintf(stderr, "ferry-agent: note: %s is not used: this build has no HTTP proxy "
			"support\n", a->proxy.from);
		r = 0;
	}
	a->use_proxy = r == 1;
	return 0;
}

static int run(struct agent *a)
{
	uint64_t last_tick = 0;

	a->now_ms = fy_now_ms();
	agent_connect(a);
	for (;;) {
		uint64_t now;

		fy_loop_run_once(a->loop, TICK_MS / 2);
		now = a->now_ms = fy_now_ms();
		if (got_signal && a->st != AG_DRAINING) {
			FY_INFO("agent", "signal %d: finishing %u open stream(s), up to %u ms",
				(int)got_signal, live_streams(a), a->cfg.drain_ms);
			agent_drain(a);
			got_signal = 0;
		}
		if (now - last_tick >= TICK_MS) {
			agent_tick(a, now);
			udp_tick(a);
			local_tick(a);
			actl_tick(a);
			last_tick = now;
		}
		agent_read_more(a);
		agent_flush(a);
		agent_gc(a);
		if (a->fatal)
			break;
		if (a->stdio_done)
			break;
		if (a->st == AG_DRAINING) {
			if (got_signal) {
				FY_INFO("agent", "second signal: stopping now");
				break;
			}
			if (!live_streams(a) || now >= a->drain_deadline_ms)
				break;
		}
	}
	agent_flush(a);
	agent_teardown(a, "agent stopped");
	agent_gc(a);
	if (a->fatal)
		return a->exit_code;
	return a->stdio_done ? a->stdio_rc : 0;
}

int main(int argc, char **argv)
{
	/* Zeroed pages, not calloc: most of struct agent is its configuration's
	 * tables (~94 KiB for up to AGENT_MAX_FWDS forwards and allow rules),
	 * and pages the parser never writes then take no memory (issue 10). */
	struct agent *a = fy_zpages_alloc(sizeof(*a));
	struct sigaction sa;
	char err[512];
	int rc;

	if (argc > 1 && !strcmp(argv[1], "ctl")) {
		fy_zpages_free(a, sizeof(*a));
		return actl_client(argc - 1, argv + 1);
	}
	if (!a)
		return 1;
	/* OpenSSL's error strings are never loaded here: their tables and the
	 * hash tables built from them cost some 170 KiB of RSS (scripts/rss.sh,
	 * issue 10). fy_tls_errstr names the failures an operator meets and
	 * gives the code of the rest. This must be the first OpenSSL call that
	 * initialises the library: the first caller decides. The system's
	 * openssl.cnf is still read (an administrator's policy, FIPS included). */
	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
			      OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL)) {
		fprintf(stderr, "ferry-agent: cannot initialise OpenSSL\n");
		fy_zpages_free(a, sizeof(*a));
		return 1;
	}
	rc = agent_cfg_parse(&a->cfg, argc, argv);
	if (rc >= 0) {
		fy_zpages_free(a, sizeof(*a));
		return rc;
	}
	fy_log_set_level(a->cfg.log_level);
	if (fy_sock_split_hostport(a->cfg.relay, a->relay_host, sizeof(a->relay_host),
				   &a->relay_port) < 0 || !a->relay_host[0] || !a->relay_port) {
		fprintf(stderr, "ferry-agent: --relay '%s' is not HOST:PORT\n", a->cfg.relay);
		fy_zpages_free(a, sizeof(*a));
		return 2;
	}
	if (pick_proxy(a) < 0) {
		fy_zpages_free(a, sizeof(*a));
		return 2;
	}
	a->tls = fy_tls_client_ctx(a->cfg.ca[0] ? a->cfg.ca : NULL,
				   a->cfg.fingerprint[0] ? a->cfg.fingerprint : NULL,
				   a->cfg.cert[0] ? a->cfg.cert : NULL,
				   a->cfg.key[0] ? a->cfg.key : NULL, err, sizeof(err));
	if (!a->tls) {
		fprintf(stderr, "ferry-agent: %s\n", err);
		fy_zpages_free(a, sizeof(*a));
		return 2;
	}
	SSL_CTX_set_mode(a->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	a->loop = fy_loop_create(a->cfg.io, err, sizeof(err));
	if (!a->loop) {
		fprintf(stderr, "ferry-agent: %s\n", err);
		SSL_CTX_free(a->tls);
		fy_zpages_free(a, sizeof(*a));
		return 2;
	}
	fy_budget_init(&a->budget, a->cfg.max_buffer_mem, NULL);
	fy_pool_init(&a->stream_pool, sizeof(struct fy_stream), 64);
	fy_pool_init(&a->conn_pool, sizeof(struct tconn), 64);
	if (fy_sess_init(&a->streams, 256) < 0 || res_start(a) < 0) {
		fprintf(stderr, "ferry-agent: cannot start: out of memory or threads\n");
		return 1;
	}
	if (local_start(a) < 0 || udp_start(a) < 0 || actl_start(a) < 0) {
		rc = 2;	/* a local port we cannot listen on: the user's to fix */
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (fy_sock_raise_nofile() < 4096)
		FY_WARN("agent", "descriptor limit below 4096: raise it (ulimit -n) to carry many streams");
	FY_INFO("agent", "ferry-agent starting: %u remote and %u local forward(s), %u allow "
		"rule(s), event loop %s", a->cfg.nfwds, a->cfg.nlfwds, a->cfg.nallows,
		fy_loop_kind_name(a->loop));
	rc = run(a);
out:
	actl_stop(a);
	local_stop(a);
	udp_stop(a);
	res_stop(a);
	fy_sess_fini(&a->streams);
	fy_pool_fini(&a->stream_pool);
	fy_pool_fini(&a->conn_pool);
	fy_loop_destroy(a->loop);
	SSL_CTX_free(a->tls);
	fy_zpages_free(a, sizeof(*a));
	return rc;
}
