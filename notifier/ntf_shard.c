/*
 * ntf_shard: see ntf_shard.h. The shard owns its redisContext (the socket
 * and hiredis's buffers), a uv_poll_t on that socket and a uv_timer_t for
 * the connect timeout. Callbacks run from poll_cb / timer_cb only, inside
 * a dispatch depth count: ntf_shard_close() inside one only marks the
 * shard, and the outermost dispatch starts the teardown once the stack
 * has unwound (as hiredis's async.c does with REDIS_IN_CALLBACK).
 */
#include "ntf_shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "tnd_error.h"
#include "tnd_limits.h"

#define CONNECT_TIMEOUT_MS 5000

enum cmd_kind { CMD_AUTH, CMD_SUB, CMD_UNSUB };

/* A command sent and not yet answered. */
struct pending {
	struct pending *next;
	enum cmd_kind kind;
	size_t len;
	char channel[]; /* len bytes, NUL-terminated */
};

enum state { ST_CONNECTING, ST_AUTH, ST_READY, ST_DEAD };

struct ntf_shard {
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t timer;
	redisContext *c;
	struct ntf_shard_cbs cbs;
	size_t input_max;
	enum state state;
	int poll_events;      /* what poll watches now */
	bool want_write;      /* commands in hiredis's output buffer */
	struct pending *head, *tail;
	int dispatching;      /* callbacks on the stack */
	bool close_requested; /* ntf_shard_close() was called */
	bool paused;          /* ntf_shard_pause(): not reading */
	int open_handles;     /* poll + timer not yet closed */
	char errstr[256];
};

static void set_err(struct ntf_shard *sh, const char *fmt, const char *arg)
{
	snprintf(sh->errstr, sizeof(sh->errstr), fmt, arg);
}

static void pending_free_all(struct ntf_shard *sh)
{
	while (sh->head) {
		struct pending *p = sh->head;
		sh->head = p->next;
		free(p);
	}
	sh->tail = NULL;
}

static void handle_closed(uv_handle_t *h)
{
	struct ntf_shard *sh = h->data;

	if (--sh->open_handles > 0)
		return;
	/* Both handles are closed: libuv no longer watches the fd, so the
	 * context (which closes it) and the shard can go. */
	redisFree(sh->c);
	pending_free_all(sh);
	free(sh);
}

static void start_teardown(struct ntf_shard *sh)
{
	uv_poll_stop(&sh->poll);
	uv_timer_stop(&sh->timer);
	uv_close((uv_handle_t *)&sh->poll, handle_closed);
	uv_close((uv_handle_t *)&sh->timer, handle_closed);
}

/* Callbacks only while the user has not closed the shard. */
#define LIVE(sh) (!(sh)->close_requested)

/* The link failed: one connect_cb or disconnect_cb, then nothing more. */
static void fail(struct ntf_shard *sh, int status)
{
	enum state was = sh->state;

	if (was == ST_DEAD)
		return;
	sh->state = ST_DEAD;
	uv_poll_stop(&sh->poll);
	uv_timer_stop(&sh->timer);
	pending_free_all(sh);
	if (!LIVE(sh))
		return;
	if (was == ST_READY) {
		if (sh->cbs.disconnect_cb)
			sh->cbs.disconnect_cb(sh, status, sh->cbs.data);
	} else if (sh->cbs.connect_cb) {
		sh->cbs.connect_cb(sh, status, sh->cbs.data);
	}
}

static void become_ready(struct ntf_shard *sh)
{
	sh->state = ST_READY;
	uv_timer_stop(&sh->timer);
	if (LIVE(sh) && sh->cbs.connect_cb)
		sh->cbs.connect_cb(sh, 0, sh->cbs.data);
}

static void poll_cb(uv_poll_t *handle, int status, int events);

/* Watch for reading always (once connected), for writing while output waits. */
static void update_poll(struct ntf_shard *sh)
{
	int want;

	if (sh->state == ST_DEAD || sh->close_requested)
		return;
	want = sh->state == ST_CONNECTING ? UV_WRITABLE
					  : (sh->paused ? 0 : UV_READABLE) | (sh->want_write ? UV_WRITABLE : 0);
	if (want != sh->poll_events) {
		sh->poll_events = want;
		if (want)
			uv_poll_start(&sh->poll, want, poll_cb);
		else
			uv_poll_stop(&sh->poll);
	}
}

static struct pending *pending_pop(struct ntf_shard *sh)
{
	struct pending *p = sh->head;

	if (p) {
		sh->head = p->next;
		if (!sh->head)
			sh->tail = NULL;
	}
	return p;
}

static bool is_word(const redisReply *r, const char *w)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(w) && !memcmp(r->str, w, r->len);
}

/* One reply from the server; returns 0, or a TND_E* that fails the link. */
static int handle_reply(struct ntf_shard *sh, redisReply *r)
{
	struct pending *p;

	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		const redisReply *kind = r->element[0], *ch = r->element[1];

		if (is_word(kind, "smessage")) {
			if (r->element[2]->type != REDIS_REPLY_STRING)
				goto proto;
			/* Whole replies obey the cap too, not only unfinished ones. */
			if (r->element[2]->len > sh->input_max) {
				set_err(sh, "a message passed the input cap%s", "");
				return TND_ETOOLONG;
			}
			if (LIVE(sh) && sh->cbs.message_cb)
				sh->cbs.message_cb(sh, ch->str, ch->len, r->element[2]->str,
						   r->element[2]->len, sh->cbs.data);
			return 0;
		}
		if (is_word(kind, "ssubscribe")) {
			p = sh->head && sh->head->kind == CMD_SUB ? pending_pop(sh) : NULL;
			free(p);
			if (LIVE(sh) && sh->cbs.subscribe_cb)
				sh->cbs.subscribe_cb(sh, ch->str, ch->len, 0, NULL, sh->cbs.data);
			return 0;
		}
		if (is_word(kind, "sunsubscribe")) {
			/* Our own SUNSUBSCRIBE of this channel, or the server's push. */
			bool ours = sh->head && sh->head->kind == CMD_UNSUB && sh->head->len == ch->len &&
				    !memcmp(sh->head->channel, ch->str, ch->len);
			if (ours)
				free(pending_pop(sh));
			if (LIVE(sh) && sh->cbs.unsubscribe_cb)
				sh->cbs.unsubscribe_cb(sh, ch->str, ch->len, !ours, sh->cbs.data);
			return 0;
		}
		goto proto;
	}
	if (r->type != REDIS_REPLY_ERROR && r->type != REDIS_REPLY_STATUS)
		goto proto;
	/* An error or +OK answers the oldest pending command. */
	p = pending_pop(sh);
	if (!p)
		goto proto;
	switch (p->kind) {
	case CMD_AUTH:
		free(p);
		if (r->type == REDIS_REPLY_ERROR) {
			set_err(sh, "AUTH refused: %s", r->str);
			return TND_EUNAVAIL;
		}
		become_ready(sh);
		return 0;
	case CMD_SUB:
		if (LIVE(sh) && sh->cbs.subscribe_cb)
			sh->cbs.subscribe_cb(sh, p->channel, p->len, TND_EUNAVAIL,
					     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected status",
					     sh->cbs.data);
		break;
	case CMD_UNSUB:
		/* The server does not hold the channel: it is unsubscribed either way. */
		if (LIVE(sh) && sh->cbs.unsubscribe_cb)
			sh->cbs.unsubscribe_cb(sh, p->channel, p->len, false, sh->cbs.data);
		break;
	}
	free(p);
	return 0;
proto:
	set_err(sh, "unexpected reply from Redis%s", "");
	return TND_EPROTO;
}

/* The socket's pending error (errno value), 0 when none. */
static int socket_error(const struct ntf_shard *sh)
{
	int so_err = 0;
	socklen_t len = sizeof(so_err);

	if (getsockopt(sh->c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
		so_err = errno;
	return so_err;
}

static void on_connected(struct ntf_shard *sh)
{
	int so_err = socket_error(sh);

	if (so_err) {
		set_err(sh, "connect: %s", strerror(so_err));
		fail(sh, TND_EUNAVAIL);
		return;
	}
	if (sh->head && sh->head->kind == CMD_AUTH)
		sh->state = ST_AUTH;
	else
		become_ready(sh);
}

static void read_replies(struct ntf_shard *sh)
{
	void *reply;
	int rc;

	if (redisBufferRead(sh->c) != REDIS_OK) {
		set_err(sh, "connection lost: %s", sh->c->errstr);
		fail(sh, TND_EUNAVAIL);
		return;
	}
	while (sh->state != ST_DEAD && !sh->close_requested) {
		if (redisGetReplyFromReader(sh->c, &reply) != REDIS_OK) {
			set_err(sh, "protocol error: %s", sh->c->errstr);
			fail(sh, TND_EPROTO);
			return;
		}
		if (!reply)
			break;
		rc = handle_reply(sh, reply);
		freeReplyObject(reply);
		if (rc < 0) {
			fail(sh, rc);
			return;
		}
	}
	/* What is left is one unfinished reply: bounded before it grows on. */
	if (sh->state != ST_DEAD && sh->c->reader->len - sh->c->reader->pos > sh->input_max) {
		set_err(sh, "a reply passed the input cap%s", "");
		fail(sh, TND_ETOOLONG);
	}
}

static void end_dispatch(struct ntf_shard *sh)
{
	if (--sh->dispatching == 0 && sh->close_requested)
		start_teardown(sh);
}

static void poll_cb(uv_poll_t *handle, int status, int events)
{
	struct ntf_shard *sh = handle->data;
	int done = 0;

	sh->dispatching++;
	if (status < 0) {
		/* libuv reports POLLERR as UV_EBADF: the socket knows the real reason. */
		int so_err = socket_error(sh);
		snprintf(sh->errstr, sizeof(sh->errstr), "%s: %s",
			 sh->state == ST_CONNECTING ? "connect" : "connection lost",
			 so_err ? strerror(so_err) : uv_strerror(status));
		fail(sh, TND_EUNAVAIL);
		goto out;
	}
	if (sh->state == ST_CONNECTING) {
		if (events & UV_WRITABLE)
			on_connected(sh);
		goto out;
	}
	if ((events & UV_WRITABLE) && sh->state != ST_DEAD && sh->want_write) {
		if (redisBufferWrite(sh->c, &done) != REDIS_OK) {
			set_err(sh, "write: %s", sh->c->errstr);
			fail(sh, TND_EUNAVAIL);
			goto out;
		}
		sh->want_write = !done;
	}
	if ((events & (UV_READABLE | UV_DISCONNECT)) && sh->state != ST_DEAD)
		read_replies(sh);
out:
	update_poll(sh);
	end_dispatch(sh);
}

static void timer_cb(uv_timer_t *handle)
{
	struct ntf_shard *sh = handle->data;

	sh->dispatching++;
	set_err(sh, "connect or AUTH timed out%s", "");
	fail(sh, TND_EUNAVAIL);
	end_dispatch(sh);
}

/* Appends one command with a channel (or AUTH) and remembers it. */
static int send_cmd(struct ntf_shard *sh, enum cmd_kind kind, int argc, const char **argv,
		    const size_t *lens, const char *channel, size_t len)
{
	struct pending *p = malloc(sizeof(*p) + len + 1);

	if (!p)
		return TND_ENOMEM;
	if (redisAppendCommandArgv(sh->c, argc, argv, lens) != REDIS_OK) {
		free(p);
		return TND_ENOMEM;
	}
	p->next = NULL;
	p->kind = kind;
	p->len = len;
	if (len)
		memcpy(p->channel, channel, len);
	p->channel[len] = '\0';
	if (sh->tail)
		sh->tail->next = p;
	else
		sh->head = p;
	sh->tail = p;
	sh->want_write = true;
	return 0;
}

int ntf_shard_open(uv_loop_t *loop, const struct tnd_redis_addr *addr,
		   const struct ntf_shard_opts *opts, const struct ntf_shard_cbs *cbs,
		   struct ntf_shard **out, char *err, size_t errlen)
{
	struct ntf_shard *sh;
	const char *argv[3];
	size_t lens[3];
	int argc, rc, timeout;

	*out = NULL;
	sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return TND_ENOMEM;
	}
	sh->loop = loop;
	sh->cbs = *cbs;
	sh->input_max = opts && opts->input_max ? opts->input_max : TND_SHARD_INPUT_MAX;
	timeout = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	sh->c = addr->is_unix ? redisConnectUnixNonBlock(addr->path)
			      : redisConnectNonBlock(addr->host, addr->port);
	if (!sh->c || sh->c->err) {
		snprintf(err, errlen, "connect: %s", sh->c ? sh->c->errstr : "out of memory");
		rc = sh->c ? TND_EUNAVAIL : TND_ENOMEM;
		goto fail;
	}
	if (!addr->is_unix)
		redisEnableKeepAlive(sh->c);
	/* AUTH goes first in the output buffer, ahead of any subscription. */
	argc = tnd_redis_auth_argv(addr, argv, lens);
	if (argc > 0 && (rc = send_cmd(sh, CMD_AUTH, argc, argv, lens, "", 0)) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	rc = uv_poll_init(loop, &sh->poll, sh->c->fd);
	if (rc < 0) {
		snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
		rc = TND_EIO;
		goto fail;
	}
	uv_timer_init(loop, &sh->timer);
	sh->poll.data = sh->timer.data = sh;
	sh->open_handles = 2;
	sh->poll_events = UV_WRITABLE;
	uv_poll_start(&sh->poll, UV_WRITABLE, poll_cb);
	uv_timer_start(&sh->timer, timer_cb, (uint64_t)timeout, 0);
	*out = sh;
	return 0;
fail:
	if (sh->c)
		redisFree(sh->c);
	pending_free_all(sh);
	free(sh);
	return rc;
}

static int channel_cmd(struct ntf_shard *sh, enum cmd_kind kind, const char *verb,
		       const char *channel, size_t len)
{
	const char *argv[2] = {verb, channel};
	size_t lens[2] = {strlen(verb), len};
	int rc;

	if (sh->close_requested)
		return TND_EINVAL;
	if (sh->state == ST_DEAD)
		return TND_EUNAVAIL;
	if (len > TND_KEY_MAX)
		return TND_ETOOLONG;
	rc = send_cmd(sh, kind, 2, argv, lens, channel, len);
	if (rc == 0 && sh->dispatching == 0)
		update_poll(sh);
	/* Inside a callback, poll_cb updates the poll when it unwinds. */
	return rc;
}

int ntf_shard_subscribe(struct ntf_shard *sh, const char *channel, size_t len)
{
	return channel_cmd(sh, CMD_SUB, "SSUBSCRIBE", channel, len);
}

int ntf_shard_unsubscribe(struct ntf_shard *sh, const char *channel, size_t len)
{
	return channel_cmd(sh, CMD_UNSUB, "SUNSUBSCRIBE", channel, len);
}

void ntf_shard_close(struct ntf_shard *sh)
{
	if (!sh || sh->close_requested)
		return;
	sh->close_requested = true;
	if (sh->dispatching == 0)
		start_teardown(sh);
}

void ntf_shard_pause(struct ntf_shard *sh, bool pause)
{
	if (sh->paused == pause)
		return;
	sh->paused = pause;
	if (sh->dispatching == 0)
		update_poll(sh);
}

bool ntf_shard_is_ready(const struct ntf_shard *sh)
{
	return sh->state == ST_READY && !sh->close_requested;
}

const char *ntf_shard_errstr(const struct ntf_shard *sh)
{
	return sh->errstr;
}
