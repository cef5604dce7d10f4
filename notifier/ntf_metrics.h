/*
 * ntf_metrics: the notifier's counters and their Prometheus text form
 * (served on /metrics). Plain integers: everything runs on the loop
 * thread, which both counts and renders.
 */
#ifndef NTF_METRICS_H
#define NTF_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct ntf_metrics {
	/* counters */
	uint64_t connections_accepted;   /* WebSockets accepted */
	uint64_t connections_rejected;/* upgrades refused: origin, path, limit */
	uint64_t events_in;           /* events received from Redis pub/sub */
	uint64_t events_ignored;      /* ... for collections nobody here watches, or from a channel being moved */
	uint64_t events_malformed;    /* ... that were not SPEC events */
	uint64_t frames_out;          /* WebSocket messages written */
	uint64_t bytes_out;           /* their payload bytes */
	uint64_t slow_consumer_closes;/* connections closed with 4008 */
	uint64_t redis_reconnects;    /* times the Redis link came back */
	uint64_t replays;             /* subscriptions with since that replayed */
	uint64_t replayed_events;     /* events sent from the log */
	uint64_t coalesced_events;    /* queued events merged away by "coalesce" (SPEC 5) */
	uint64_t gap_fill_events;     /* events read from the log after a Redis loss */
	uint64_t resets;              /* reset answers */
	uint64_t client_errors;       /* error answers */
	uint64_t auth_successes;      /* tokens accepted (auth op or access_token) */
	uint64_t auth_failures;       /* tokens refused */
	uint64_t token_expired_closes;/* connections closed with 4001 */
	uint64_t intake_pauses;       /* fan-out stopped at an event for a backed-up subscriber */
	uint64_t input_pauses;        /* reading from Redis paused for a long inbound queue */
	uint64_t lagging_marks;       /* connections the intake stopped waiting for */
	uint64_t stall_closes;        /* 4008 by TANDEM_WS_STALL_SECONDS (also in slow_consumer_closes) */
	/* gauges */
	uint64_t connections;
	uint64_t subscriptions;
	uint64_t collections;
	uint64_t inbound_queue;       /* events read from Redis, not yet fanned out */
	uint64_t intake_held;         /* 1 while fan-out waits for backed-up connections */
	uint64_t redis_up;
};

/*
 * Writes the Prometheus text exposition into buf (NUL-terminated).
 * Returns the length, or -1 when buf is too small.
 */
int ntf_metrics_render(const struct ntf_metrics *m, char *buf, size_t size);

#endif
