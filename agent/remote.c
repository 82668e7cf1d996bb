/* Forwards opened and closed while the agent runs: asked by the relay
 * (FORWARD, sent for the admin API; answered with FORWARDED) or through
 * the local control socket (ctl.c). The agent decides: without
 * --remote-forwards the relay's requests are refused, and with a list
 * only targets on it are forwarded to. An opened -R joins the forward
 * list: it is claimed again after a reconnect, like one from the command
 * line, until it is closed or the agent restarts. Its answer waits for the
 * relay's RESULT, so the asker learns where it listens or why not. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

#define TOPIC "agent.remote"

static bool loopback(const char *bind)
{
	return !bind[0] || !strcmp(bind, "127.0.0.1") || !strcmp(bind, "::1") ||
	       !strcmp(bind, "localhost");
}

/* An -R by its port, an -H or -S by its name. */
static int find_fwd(struct agent *a, const struct fy_fwdspec *fs)
{
	uint8_t kind = fs->opt == 'H' ? FY_NAME_HTTP : fs->opt == 'S' ? FY_NAME_TLS : 0;

	for (unsigned i = 0; i < a->cfg.nfwds; i++) {
		const struct fwd *f = &a->cfg.fwds[i];

		if (f->unused || f->kind != kind)
			continue;
		if (kind ? !strcmp(f->name, fs->name) : f->port == fs->port && f->udp == fs->udp)
			return (int)i;
	}
	return -1;
}

/* "port 2222", "port 53/udp", "name 'web'": what a forward claims. */
static const char *claim_str(const struct fy_fwdspec *fs, char *buf, size_t n)
{
	if (fs->opt == 'H' || fs->opt == 'S')
		snprintf(buf, n, "name '%s'", fs->name);
	else
		snprintf(buf, n, "port %u%s", fs->port, fs->udp ? "/udp" : "");
	return buf;
}

static int find_lfwd(struct agent *a, const struct fy_fwdspec *fs)
{
	for (unsigned i = 0; i < a->cfg.nlfwds; i++) {
		const struct lfwd *lf = &a->cfg.lfwds[i];

		if (!lf->closed && lf->kind == L_TCP && lf->port == fs->port)
			return (int)i;
	}
	return -1;
}

/* A closed forward's slot, once no RESULT for it is on its way: the one
 * for the closed claim would be taken for the next forward's. */
static bool slot_free(const struct fwd *f)
{
	return f->unused && !f->reg_out;
}

/* Empties f for good (closed, or refused), keeping the count of its
 * claims still in flight. */
static void slot_clear(struct fwd *f)
{
	unsigned out = f->reg_out;

	memset(f, 0, sizeof(*f));
	f->unused = true;
	f->reg_out = out;
}

static void open_remote(struct agent *a, const struct fy_fwdspec *fs, uint32_t req,
			rfwd_done_fn done, void *arg)
{
	char msg[FY_REASON_MAX + 1], cs[80];
	struct fwd *f;
	int i = find_fwd(a, fs);

	if (i >= 0) {
		f = &a->cfg.fwds[i];
		if (strcmp(f->host, fs->host) || f->hostport != fs->hostport) {
			snprintf(msg, sizeof(msg), "%s is forwarded to %.100s:%u already",
				 claim_str(fs, cs, sizeof(cs)), f->host, f->hostport);
			done(a, arg, req, FY_E_IN_USE, msg);
		} else {
			done(a, arg, req, FY_E_OK, f->up ? "forwarded already" :
			     "forwarded already (not claimed yet)");
		}
		return;
	}
	for (i = 0; i < (int)a->cfg.nfwds && !slot_free(&a->cfg.fwds[i]); i++)
		;
	if (i == AGENT_MAX_FWDS) {
		done(a, arg, req, FY_E_LIMIT, "this agent holds as many -R, -H and -S forwards as it "
		     "can (64)");
		return;
	}
	if (i == (int)a->cfg.nfwds)
		a->cfg.nfwds++;
	f = &a->cfg.fwds[i];
	agent_fwd_from_spec(f, fs);
	f->remote = true;
	f->answer_pending = true;
	f->answer_req = req;
	f->answer = done;
	f->answer_arg = arg;
	if (!agent_register_now(a, (unsigned)i)) {
		/* Claimed when the session is (back) up. */
		f->answer_pending = false;
		done(a, arg, req, FY_E_OK, "added; claimed once the relay is connected");
	}
}

/* Closed here, not by the relay: tell it to release the claim (FORWARD
 * close from the agent, on tunnel 0), or it would keep listening. */
static void tell_relay(struct agent *a, const struct fy_fwdspec *fs)
{
	struct atun *t = a->tuns[0];
	struct fy_forward fw = { .req = 0, .op = FY_FWD_CLOSE };
	uint8_t f[FY_FRAME_HDR_LEN + 8 + FY_SPEC_MAX];

	if (!t || t->st != AT_UP || !t->link.mux || a->relay_version < 2)
		return;		/* not connected: nothing is claimed */
	fy_fwdspec_str(fs, fw.spec, sizeof(fw.spec));
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_forward(f, &fw));
}

static void close_remote(struct agent *a, const struct fy_fwdspec *fs, bool from_relay,
			 uint32_t req, rfwd_done_fn done, void *arg)
{
	char msg[FY_REASON_MAX + 1], cs[80];
	int i = find_fwd(a, fs);
	struct fwd *f;
	bool claimed;

	if (i < 0) {
		snprintf(msg, sizeof(msg), "no -%c forward of %s here", fs->opt,
			 claim_str(fs, cs, sizeof(cs)));
		done(a, arg, req, FY_E_GONE, msg);
		return;
	}
	f = &a->cfg.fwds[i];
	claimed = f->up || f->answer_pending;
	if (f->answer_pending && f->answer)	/* an open still waits: it lost */
		f->answer(a, f->answer_arg, f->answer_req, FY_E_GONE, "closed before it was claimed");
	slot_clear(f);
	if (!from_relay && claimed)
		tell_relay(a, fs);
	snprintf(msg, sizeof(msg), "%s is no longer forwarded", claim_str(fs, cs, sizeof(cs)));
	FY_INFO(TOPIC, "-%c %s closed: %s", fs->opt, cs, msg);
	done(a, arg, req, FY_E_OK, msg);
}

static void open_local(struct agent *a, const struct fy_fwdspec *fs, uint32_t req,
		       rfwd_done_fn done, void *arg)
{
	char msg[FY_REASON_MAX + 1];
	struct lfwd *lf;
	int i = find_lfwd(a, fs), e;

	if (fs->udp) {
		done(a, arg, req, FY_E_UNSUPPORTED, "a -L udp forward is given on the command line "
		     "only");
		return;
	}
	if (!loopback(fs->bind)) {
		snprintf(msg, sizeof(msg), "a -L opened at run time listens on loopback only, not "
			 "on %.64s", fs->bind);
		done(a, arg, req, FY_E_DENIED, msg);
		return;
	}
	if (i >= 0) {
		lf = &a->cfg.lfwds[i];
		if (strcmp(lf->agent, fs->agent) || strcmp(lf->host, fs->host) ||
		    lf->hostport != fs->hostport) {
			snprintf(msg, sizeof(msg), "local port %u is forwarded elsewhere already",
				 fs->port);
			done(a, arg, req, FY_E_IN_USE, msg);
		} else {
			done(a, arg, req, FY_E_OK, "forwarded already");
		}
		return;
	}
	if (a->cfg.nlfwds == AGENT_MAX_FWDS) {
		done(a, arg, req, FY_E_LIMIT, "this agent holds as many -L, -D and -W as it can");
		return;
	}
	lf = &a->cfg.lfwds[a->cfg.nlfwds];
	agent_lfwd_from_spec(lf, fs);
	lf->remote = true;
	e = local_listen(a, lf);
	if (e < 0) {
		snprintf(msg, sizeof(msg), "cannot listen on %s:%u on the agent: %s",
			 lf->bind[0] ? lf->bind : "127.0.0.1", lf->port, strerror(-e));
		done(a, arg, req, e == -EADDRINUSE ? FY_E_IN_USE : FY_E_REFUSED, msg);
		return;
	}
	a->cfg.nlfwds++;
	snprintf(msg, sizeof(msg), "listening on %s:%u on agent '%s'",
		 lf->bind[0] ? lf->bind : "127.0.0.1", lf->port, a->cfg.name);
	done(a, arg, req, FY_E_OK, msg);
}

static void close_local(struct agent *a, const struct fy_fwdspec *fs, uint32_t req,
			rfwd_done_fn done, void *arg)
{
	char msg[FY_REASON_MAX + 1];
	int i = find_lfwd(a, fs);

	if (i < 0) {
		snprintf(msg, sizeof(msg), "no -L forward of local port %u here", fs->port);
		done(a, arg, req, FY_E_GONE, msg);
		return;
	}
	/* Its connections keep running; the slot is not used again (they
	 * point to it). */
	local_unlisten(a, &a->cfg.lfwds[i]);
	a->cfg.lfwds[i].closed = true;
	snprintf(msg, sizeof(msg), "local port %u is no longer forwarded", fs->port);
	done(a, arg, req, FY_E_OK, msg);
}

void rfwd_request(struct agent *a, uint8_t op, const char *spec, bool from_relay, uint32_t req,
		  rfwd_done_fn done, void *arg)
{
	struct fy_fwdspec fs;
	char err[300], canon[FY_SPEC_MAX + 1];

	if (from_relay && !a->cfg.remote_fwds) {
		FY_WARN(TOPIC, "the relay asked to %s '%s': refused (this agent runs without "
			"--remote-forwards)", op == FY_FWD_OPEN ? "open" : "close", spec);
		done(a, arg, req, FY_E_DENIED, "agent does not take forwards from the relay "
		     "(it runs without --remote-forwards)");
		return;
	}
	if (fy_fwdspec_parse(spec, &fs, err, sizeof(err)) < 0) {
		done(a, arg, req, FY_E_DENIED, err);
		return;
	}
	fy_fwdspec_str(&fs, canon, sizeof(canon));
	if (!strchr("RHSL", fs.opt)) {
		done(a, arg, req, FY_E_UNSUPPORTED, "only -R, -H, -S and -L forwards can be opened "
		     "at run time");
		return;
	}
	/* The list names targets: an -R's (-H's, -S's) host:hostport, an -L's
	 * too (at its far agent). A close needs no permission. */
	if (op == FY_FWD_OPEN && from_relay && a->cfg.nrallows &&
	    !allow_list_target(a->cfg.rallows, a->cfg.nrallows, fs.udp, fs.host, fs.hostport)) {
		snprintf(err, sizeof(err), "%.100s:%u is not on this agent's --remote-forwards list",
			 fs.host, fs.hostport);
		FY_WARN(TOPIC, "the relay asked to open '%s': refused: %s", canon, err);
		done(a, arg, req, FY_E_DENIED, err);
		return;
	}
	FY_INFO(TOPIC, "%s '%s' (asked %s)", op == FY_FWD_OPEN ? "opening" : "closing", canon,
		from_relay ? "by the relay" : "locally");
	if (fs.opt != 'L' && op == FY_FWD_OPEN)
		open_remote(a, &fs, req, done, arg);
	else if (fs.opt != 'L')
		close_remote(a, &fs, from_relay, req, done, arg);
	else
		(op == FY_FWD_OPEN ? open_local : close_local)(a, &fs, req, done, arg);
}

/* FORWARDED on tunnel 0, if it is still the one that asked. */
static void answer_relay(struct agent *a, void *arg, uint32_t req, uint32_t code, const char *msg)
{
	struct atun *t = a->tuns[0];
	struct fy_result r = { .req = req, .code = code };
	uint8_t f[FY_CTRL_FRAME_MAX];

	(void)arg;
	if (!t || t->st != AT_UP || !t->link.mux)
		return;		/* the relay's wait times out */
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	fy_mux_send_ctrl(t->link.mux, f, fy_frame_forwarded(f, &r));
}

int rfwd_on_forward(struct atun *t, const uint8_t *p, uint32_t n, const char **why)
{
	struct fy_forward fw;

	if (fy_frame_get_forward(p, n, &fw, why) < 0)
		return -1;
	if (t->index != 0) {
		*why = "FORWARD on a tunnel other than 0";
		return -1;
	}
	rfwd_request(t->a, fw.op, fw.spec, true, fw.req, answer_relay, NULL);
	return 0;
}

bool rfwd_on_result(struct agent *a, unsigned i, const struct fy_result *r)
{
	struct fwd *f = &a->cfg.fwds[i];
	rfwd_done_fn done = f->answer;
	void *arg = f->answer_arg;
	uint32_t req = f->answer_req;

	if (!f->answer_pending)
		return false;
	f->answer_pending = false;
	f->answer = NULL;
	/* Refused: the asker hears why, and the forward is not kept. */
	if (r->code != FY_E_OK)
		slot_clear(f);
	if (done)
		done(a, arg, req, r->code, r->msg);
	return true;
}

void rfwd_forget(struct agent *a, void *arg)
{
	for (unsigned i = 0; i < a->cfg.nfwds; i++)
		if (a->cfg.fwds[i].answer_arg == arg)
			a->cfg.fwds[i].answer = NULL;
}
