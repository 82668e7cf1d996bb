/* ferry-relay: subcommands (cert, token, stats) or the relay itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "backend.h"
#include "cmds.h"
#include "config.h"
#include "ferry/conf.h"
#include "ferry/sock.h"
#include "ferry/tls.h"
#include "ferry_config.h"
#include "itls.h"
#include "policy.h"
#include "relay-t.h"
#include "srcaddr.h"

static int run_relay(int argc, char **argv)
{
	struct relay *r = calloc(1, sizeof(*r));
	char err[512];
	unsigned char seed[8];
	uint64_t seed64;
	int rc, nofile;

	if (!r)
		return 1;
	rc = relay_cfg_parse(&r->cfg, argc, argv);
	if (rc >= 0) {
		free(r);
		return rc;
	}
	fy_log_set_level(r->cfg.log_level);
	fy_conf_warn_private("ferry-relay", r->cfg.key, "key");
	fy_conf_warn_private("ferry-relay", r->cfg.tokens, "tokens file");
	r->nworkers = r->cfg.workers;
	for (unsigned i = 0; i < REG_MAX_WORKERS; i++)
		atomic_init(&r->live_streams[i], LIVE_UNKNOWN);
	nofile = fy_sock_raise_nofile();
	r->nofile = nofile > 0 ? (unsigned)nofile : 1024;
	if (r->nofile < 4096)
		FY_WARN("relay", "descriptor limit %u is below 4096: raise it (ulimit -n, "
			"LimitNOFILE=) to carry many streams", r->nofile);
	if (r->cfg.fd_reserve * 2 > r->nofile) {
		r->cfg.fd_reserve = r->nofile / 4;
		FY_WARN("relay", "--fd-reserve lowered to %u: the descriptor limit is only %u",
			r->cfg.fd_reserve, r->nofile);
	}
	fy_budget_init(&r->buf_budget, r->cfg.max_buffer_mem, NULL);
	r->tokens = calloc(1, sizeof(*r->tokens));
	if (!r->tokens || fy_tokens_load(r->cfg.tokens, r->tokens, err, sizeof(err)) < 0) {
		fprintf(stderr, "ferry-relay: %s\n", r->tokens ? err : "out of memory");
		rc = 2;
		goto out;
	}
	if (r->tokens->n == 0)
		FY_WARN("relay", "token file %s has no tokens: no agent can connect "
			"(add one with 'ferry-relay token add')", r->cfg.tokens);
	if (r->cfg.policy[0]) {
		r->policy = calloc(1, sizeof(*r->policy));
		if (!r->policy || policy_load(r->cfg.policy, r->policy, err, sizeof(err)) < 0) {
			fprintf(stderr, "ferry-relay: %s\n", r->policy ? err : "out of memory");
			rc = 2;
			goto out;
		}
	}
	r->tls = fy_tls_server_ctx(r->cfg.cert, r->cfg.key,
				   r->cfg.client_ca[0] ? r->cfg.client_ca : NULL, err, sizeof(err));
	if (!r->tls) {
		fprintf(stderr, "ferry-relay: %s\n", err);
		rc = 2;
		goto out;
	}
	/* Output buffers compact (move) between retries of a partial write. */
	SSL_CTX_set_mode(r->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	if (r->cfg.nhttps_cert && !(r->itls = itls_create(&r->cfg, err, sizeof(err)))) {
		fprintf(stderr, "ferry-relay: %s\n", err);
		rc = 2;
		goto out;
	}
	r->src = malloc(sizeof(*r->src));
	r->reg = reg_create();
	if (!r->src || !r->reg || RAND_bytes(seed, sizeof(seed)) != 1) {
		fprintf(stderr, "ferry-relay: out of memory\n");
		rc = 1;
		goto out;
	}
	/* A seed the clients cannot know: they cannot make two addresses
	 * collide in the table. */
	memcpy(&seed64, seed, sizeof(seed64));
	src_init(r->src, seed64);
	if (r->cfg.max_unauth > r->nofile / 4) {
		r->cfg.max_unauth = r->nofile / 4;
		FY_WARN("relay", "--max-unauth lowered to %u: the descriptor limit is only %u",
			r->cfg.max_unauth, r->nofile);
	}
	rc = r->cfg.backend->run(r);
out:
	if (r->reg)
		reg_destroy(r->reg);
	free(r->src);
	SSL_CTX_free(r->tls);
	itls_destroy(r->itls);
	if (r->policy)
		policy_free(r->policy);
	free(r->policy);
	if (r->tokens)
		fy_tokens_free(r->tokens);
	free(r->tokens);
	free(r);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "cert"))
		return fy_relay_cmd_cert(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "token"))
		return fy_relay_cmd_token(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "stats"))
		return fy_relay_cmd_stats(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return fy_relay_cmd_ctl(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "run")) {
		argv[1] = argv[0];
		return run_relay(argc - 1, argv + 1);
	}
	return run_relay(argc, argv);
}
