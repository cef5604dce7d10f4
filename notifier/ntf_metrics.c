/*
 * ntf_metrics: see ntf_metrics.h.
 */
#include "ntf_metrics.h"

#include <stdio.h>

#include "tnd_version.h"

struct metric_def {
	const char *name;
	const char *type;
	const char *help;
	size_t offset;
};

#define M(field, type, help) {"tandem_notifier_" #field, type, help, offsetof(struct ntf_metrics, field)}
#define C(field, help) {"tandem_notifier_" #field "_total", "counter", help, offsetof(struct ntf_metrics, field)}
static const struct metric_def defs[] = {
	M(connections, "gauge", "Open WebSocket connections."),
	M(subscriptions, "gauge", "Active subscriptions over all connections."),
	M(collections, "gauge", "Collections watched by at least one local client."),
	M(redis_up, "gauge", "1 while both Redis connections are up and subscribed."),
	M(inbound_queue, "gauge", "Events read from Redis and not yet fanned out."),
	M(intake_held, "gauge", "1 while fan-out waits for connections above the high watermark."),
	C(connections_accepted, "WebSocket connections accepted."),
	C(connections_rejected, "WebSocket upgrades refused (origin, path, limit)."),
	C(events_in, "Events received from Redis pub/sub."),
	C(events_ignored, "Events for collections no local client watches (on a cluster, also from a channel being moved)."),
	C(events_malformed, "Published messages that were not well-formed events."),
	C(frames_out, "WebSocket messages sent."),
	C(bytes_out, "Payload bytes of the WebSocket messages sent."),
	C(slow_consumer_closes, "Connections closed with 4008 (slow consumer)."),
	C(stall_closes, "4008 closes of sockets that took no bytes for TANDEM_WS_STALL_SECONDS."),
	C(intake_pauses, "Times fan-out stopped at an event for a subscriber above the high watermark."),
	C(input_pauses, "Times reading from Redis paused for a long inbound queue."),
	C(lagging_marks, "Connections found not draining while others did (fed up to the caps)."),
	C(auth_successes, "Tokens accepted (auth op or access_token)."),
	C(auth_failures, "Tokens refused."),
	C(token_expired_closes, "Connections closed with 4001 (token expired)."),
	C(redis_reconnects, "Times the Redis link was re-established."),
	C(replays, "Subscriptions with since that replayed the event log."),
	C(replayed_events, "Events sent from the event log by replays."),
	C(gap_fill_events, "Events read from the event log after a Redis loss."),
	C(resets, "reset answers (since older than the log keeps)."),
	C(client_errors, "error answers to client messages."),
	C(coalesced_events, "Queued events merged away by coalescing subscriptions."),
};
#undef M
#undef C

int ntf_metrics_render(const struct ntf_metrics *m, char *buf, size_t size)
{
	int n0 = snprintf(buf, size, "# HELP tandem_notifier_build_info The running version.\n"
			  "# TYPE tandem_notifier_build_info gauge\n"
			  "tandem_notifier_build_info{version=\"%s\"} 1\n", tnd_version());
	size_t o;

	if (n0 < 0 || (size_t)n0 >= size)
		return -1;
	o = (size_t)n0;
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		uint64_t v = *(const uint64_t *)((const char *)m + defs[i].offset);
		int n = snprintf(buf + o, size - o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
				 defs[i].name, defs[i].help, defs[i].name, defs[i].type,
				 defs[i].name, (unsigned long long)v);

		if (n < 0 || (size_t)n >= size - o)
			return -1;
		o += (size_t)n;
	}
	return (int)o;
}
