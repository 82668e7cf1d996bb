/* Private to relay/admin/: the server (server.c) and what the routes
 * (api.c) and /metrics (metrics.c) see of it. One thread touches these. */
#ifndef FERRY_ADMIN_INT_H
#define FERRY_ADMIN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "ferry/http.h"
#include "ferry/loop.h"
#include "metrics.h"
#include "relay-t.h"

#define ADM_HEAD_MAX (8 * 1024)		/* request line + headers: beyond, 431 */
#define ADM_BODY_MAX (16 * 1024)	/* beyond, 413 */
#define ADM_MAX_CONNS 64		/* more are closed at once */
#define ADM_FORWARD_WAIT_MS 10000	/* for the agent's FORWARDED: then 504 */
#define ADM_WRITE_MS 10000		/* a reader that takes longer is dropped */
#define ADM_LINGER_MS 1000		/* reading what follows an answer, before close */

enum adm_conn_state { C_READ, C_WAIT, C_WRITE, C_LINGER };

struct adm_conn {
	struct adm_server *srv;
	int fd;
	enum adm_conn_state st;
	char peer[64];
	struct fy_http_msg msg;
	uint64_t deadline_ms;
	char *out;			/* the whole answer, owned */
	size_t out_len, out_off;
	size_t lingered;
	/* C_WAIT: the FORWARD it waits for. */
	uint32_t wait_req;
	uint8_t wait_op;
	char wait_agent[FY_NAME_MAX + 1];
	char wait_spec[FY_SPEC_MAX + 1];
	uint64_t wait_start_ms;
	/* GET /agents/NAME/streams: one answer per worker holding a tunnel. */
	bool wait_streams;
	unsigned wait_left;
	struct ctl_stream *got;		/* owned */
	size_t ngot, offset, limit;
	bool got_more;
	struct adm_conn *next, *prev;
};

struct adm_server {
	struct relay *r;
	struct fy_loop *loop;
	int tcp_fd, unix_fd;
	char unix_path[108];
	pthread_t thread;
	bool started;
	atomic_bool stop;
	struct ctl ctl;
	struct adm_conn *conns;
	unsigned nconns;
	uint32_t next_req;
	uint64_t now_ms;		/* the thread's clock, once per turn */
	/* Out of descriptors: the listeners rest (no read interest) until
	 * the next turn, or a level-triggered listener spins the thread. */
	bool accept_paused;
	atomic_ulong requests, bad_requests, unauthorized;
};

/* An answer: status, content type and a body (malloc'd, or NULL). */
struct adm_reply {
	int status;
	const char *ctype;
	char *body;
	size_t len;
};

/* api.c: the request in c->msg is complete. 0 with *rep filled, or 1 when
 * c now waits for a FORWARDED (c->wait_req set). */
int adm_api_route(struct adm_server *s, struct adm_conn *c, struct adm_reply *rep);
/* api.c: what c waited for came (a == NULL: it timed out). */
void adm_api_answered(struct adm_server *s, struct adm_conn *c, const struct ctl_answer *a,
		      struct adm_reply *rep);
/* api.c: one worker's part of a stream listing (c->wait_left > 1). */
void adm_api_gather(struct adm_conn *c, struct ctl_answer *a);
/* api.c: an error answer {"error", "code"}. */
void adm_api_error(struct adm_reply *rep, int status, const char *code, const char *msg);

/* metrics.c: the whole exposition into rep. */
void adm_metrics_render(struct adm_server *s, struct adm_reply *rep);

/* server.c: RCU around registry reads (the thread is offline otherwise,
 * so it never holds up a grace period while it sleeps). */
void adm_rcu_enter(void);
void adm_rcu_exit(void);

/* page.c (generated from status.html): the status page. */
extern const char adm_page_html[];
extern const unsigned adm_page_html_len;

#endif
