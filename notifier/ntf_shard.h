/*
 * ntf_shard: one sharded pub/sub subscriber connection (SSUBSCRIBE /
 * SUNSUBSCRIBE, Redis 7) driven on a libuv loop.
 *
 * hiredis 0.14's async API knows only SUBSCRIBE / PSUBSCRIBE: it takes
 * SSUBSCRIBE for an ordinary command and aborts on the first `smessage`.
 * So this module drives a hiredis context in non-blocking mode itself: a
 * uv_poll_t on its socket, redisBufferWrite() when writable,
 * redisBufferRead() + redisGetReplyFromReader() when readable. Every
 * command sends one channel, so each reply that is not a push answers the
 * oldest command still pending (a FIFO), and errors (MOVED, CLUSTERDOWN...)
 * reach the subscribe that caused them.
 *
 * Runs on the loop thread only; nothing blocks except the host name lookup
 * of redisConnectNonBlock() (cluster nodes are named by address in
 * CLUSTER SLOTS, so it resolves nothing in practice).
 *
 * Lifetime, as libuv handles: ntf_shard_open() returns a shard the caller
 * owns and must end with ntf_shard_close(), exactly once, whatever
 * happened to the link; close may be called from inside any of the
 * shard's callbacks (the shard is marked and torn down after the callback
 * returns). No callback runs after ntf_shard_close(); the memory goes when
 * libuv has closed the handles (so uv_run the loop a turn before
 * uv_loop_close). A function that returns an error runs no callback.
 */
#ifndef NTF_SHARD_H
#define NTF_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "tnd_redis.h"

struct ntf_shard;

/*
 * The callbacks; any may be NULL. Strings are borrowed: valid inside the
 * callback only. data is the cbs' data pointer.
 */
struct ntf_shard_cbs {
	/* Exactly once per shard unless closed first: 0 when the link is up
	 * (and AUTH passed), or a negative TND_E* (TND_EUNAVAIL refused, timed
	 * out, AUTH refused; ntf_shard_errstr() says which). After a failure
	 * the shard is dead: close it. */
	void (*connect_cb)(struct ntf_shard *sh, int status, void *data);
	/* At most once, after a successful connect: the link is gone
	 * (TND_EUNAVAIL: closed by the server or a socket error; TND_ETOOLONG:
	 * a reply passed the input cap; TND_EPROTO: an unexpected reply).
	 * Every subscription is gone with it: close, reconnect, resync. */
	void (*disconnect_cb)(struct ntf_shard *sh, int status, void *data);
	/* An `smessage`: payload msg[0..msg_len) published on channel. */
	void (*message_cb)(struct ntf_shard *sh, const char *channel, size_t channel_len,
			   const char *msg, size_t msg_len, void *data);
	/* The answer to ntf_shard_subscribe(): status 0 (subscribed), or
	 * TND_EUNAVAIL with the server's error text in err (e.g. "MOVED 1234
	 * 127.0.0.1:7001": read it with tnd_cluster_redirect_parse()). */
	void (*subscribe_cb)(struct ntf_shard *sh, const char *channel, size_t channel_len,
			     int status, const char *err, void *data);
	/* A channel is no longer subscribed: by_server false answers
	 * ntf_shard_unsubscribe(); by_server true is the server dropping it
	 * (its slot moved away or the node stopped serving it): re-resolve the
	 * owner, subscribe there, resync from the log. If the server drops a
	 * channel while its unsubscribe is pending, the two answers may be
	 * reported the other way round: ignore channels you no longer watch. */
	void (*unsubscribe_cb)(struct ntf_shard *sh, const char *channel, size_t channel_len,
			       bool by_server, void *data);
	void *data;
};

struct ntf_shard_opts {
	int connect_timeout_ms; /* connect + AUTH; 0: 5000 */
	size_t input_max;       /* bytes of one unfinished reply; 0: TND_SHARD_INPUT_MAX */
};

/*
 * Starts connecting to addr (TCP or unix; AUTH from addr when it has a
 * password; addr->db is ignored: sharded channels are not per database).
 * opts may be NULL. Returns 0 and *out, or TND_EUNAVAIL / TND_ENOMEM /
 * TND_EIO with the reason in err (no callback runs then).
 */
int ntf_shard_open(uv_loop_t *loop, const struct tnd_redis_addr *addr,
		   const struct ntf_shard_opts *opts, const struct ntf_shard_cbs *cbs,
		   struct ntf_shard **out, char *err, size_t errlen);

/*
 * Sends SSUBSCRIBE channel (queued until the link is up). subscribe_cb
 * answers it. Returns 0, TND_EUNAVAIL (the link is down: no answer will
 * come), TND_ETOOLONG (channel longer than TND_KEY_MAX), TND_EINVAL
 * (closing), TND_ENOMEM.
 */
int ntf_shard_subscribe(struct ntf_shard *sh, const char *channel, size_t len);

/* Sends SUNSUBSCRIBE channel; unsubscribe_cb answers it. Returns as ntf_shard_subscribe(). */
int ntf_shard_unsubscribe(struct ntf_shard *sh, const char *channel, size_t len);

/* Ends the shard (see the lifetime rules above). NULL is a no-op. */
void ntf_shard_close(struct ntf_shard *sh);

/*
 * Stops (pause) or resumes reading the socket, so no message_cb runs
 * while paused beyond the replies already read (one read's worth).
 * Commands are still written.
 */
void ntf_shard_pause(struct ntf_shard *sh, bool pause);

/* True between a successful connect_cb and a disconnect or close. */
bool ntf_shard_is_ready(const struct ntf_shard *sh);

/* The last failure, in words ("" when none). Valid until the shard changes. */
const char *ntf_shard_errstr(const struct ntf_shard *sh);

#endif
