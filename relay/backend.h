/* The I/O backends of the relay and the interface the core drives them
 * through. The core (engine, tunnel, public, pubudp, worker) sees a
 * connection only as an opaque `io`; the backends call up into it
 * (tunnel_accept, public_accepted, pubudp_input, worker_wakeup,
 * worker_step) and it calls down through
 * struct relay_backend. */
#ifndef FERRY_RELAY_BACKEND_H
#define FERRY_RELAY_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/pump.h"

struct relay;
struct worker;

/* The connection interface between the engine and an I/O backend. The
 * engine sees a connection only as an opaque `io`: it moves bytes with
 * conn (recv/send/shutdown_wr/want, as the pump does), and asks the
 * backend to deliver readiness events, to stop them before a hand-off to
 * another worker, to close, and to listen on claimed ports. The kernel
 * backend implements it on sockets and epoll (kernel/backend.c). */
enum {
	RELAY_EV_READ = 1u,	/* readable (or EOF) */
	RELAY_EV_WRITE = 2u,	/* writable again */
	RELAY_EV_ERROR = 4u,	/* reset or error: read to learn which */
};
typedef void (*relay_event_fn)(void *owner, uint32_t ev);
struct relay_backend {
	const char *name;
	/* Whether a connection can move to another worker. Kernel sockets
	 * can; a userspace TCP connection lives on the core RSS gave it. */
	bool can_move;
	/* Whether agents' WebSocket tunnels (--wss-path) are served: the
	 * DPDK backend does not (yet), says so at start and answers 501. */
	bool wss;
	/* Whether tunnels' TLS records go straight to conn->send and come
	 * straight from conn->recv (no copy through the BIO pair): where
	 * send and recv are copies into and out of a userspace TCP ring, not
	 * a syscall per record (fy_tlsconn_direct_write, _direct_read). */
	bool direct_tls;
	const struct fy_conn_ops *conn;
	int (*attach)(struct worker *w, void *io, relay_event_fn fn, void *owner);
	void (*detach)(struct worker *w, void *io);
	/* Closes and frees io; rst: the peer sees a reset, not an end. */
	void (*close)(struct worker *w, void *io, bool rst);
	/* Listen on a claimed port for worker w (accepts go to
	 * public_accepted); probe: fail if anyone else listens there.
	 * bind: the address (NULL: --public-bind; the DPDK backend has one
	 * address and takes none). *lio is the backend's listener. 0 or
	 * -errno. */
	int (*listen)(struct worker *w, const char *bind, uint16_t port, bool probe, void **lio);
	void (*unlisten)(struct worker *w, void *lio);
	/* UDP ports (NULL where the backend has none: the engine refuses
	 * UDP claims). udp_listen binds --public-bind:port for worker w
	 * alone, non-blocking, without SO_REUSEPORT (nobody may share it);
	 * every datagram that arrives goes up to pubudp_input(w, owner, ...)
	 * on w's thread, one call each, truncated ones dropped and counted.
	 * *lio is the backend's socket. 0 or -errno (-EADDRINUSE: taken). */
	int (*udp_listen)(struct worker *w, uint16_t port, void *owner, void **lio);
	void (*udp_unlisten)(struct worker *w, void *lio);
	/* One datagram from lio's port to `to`, never blocking: 0, or -errno
	 * (-EAGAIN: no room; the datagram is dropped, never queued). */
	int (*udp_send)(struct worker *w, void *lio, const struct sockaddr_storage *to,
			const void *p, size_t n);
	/* From any thread: call worker_wakeup(w) on w's thread soon. */
	void (*wake)(struct worker *w);
	/* Drain: close the agent listener of w. */
	void (*stop_accepting)(struct worker *w);
};


/* A backend the relay can run on: a row of the table in backends.c. */
struct relay_backend_desc {
	const char *name;		/* --backend NAME */
	/* Runs the relay until it stops; the process exit code. NULL when
	 * this build lacks it: then `missing` says how to get it. */
	int (*run)(struct relay *r);
	const char *missing;
};

/* The row named name, or NULL. */
const struct relay_backend_desc *relay_backend_find(const char *name);
/* "kernel|dpdk": every row, for messages. */
const char *relay_backend_names(void);

/* kernel/backend.c */
extern const struct relay_backend relay_kernel_backend;
int kernel_backend_run(struct relay *r);
/* dpdk/backend.c (when built with DPDK) */
int dpdk_backend_run(struct relay *r);

#endif
