/*
 * Integration tests of subscribe's "coalesce": true (SPEC 5) against the
 * real stack (redis-server, spawn-fcgi + tandem-rest, nginx,
 * tandem-notifier), a stack of its own whose outbound queue caps are high
 * enough to hold a backlog bigger than the kernel's socket buffers.
 *
 * A backlog is made deterministic, not hoped for: the coalescing client
 * asks for a 4 KiB receive buffer and stops reading, then a "blocker"
 * collection it also watches (without coalescing) gets more bytes than
 * the notifier's socket can hold (tcp_wmem's ceiling plus 2 MB). Events
 * reach the notifier in the order they were written, so every event of
 * the burst that follows finds the client's queue non-empty.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "it_support.h"
#include "stack.h"
#include "stack_suite.h"
#include "tnd_seq.h"

static struct stack g_stack;

static const char *const STACK_ENV[] = {
	"TANDEM_WS_QUEUE_MESSAGES=100000",
	"TANDEM_WS_QUEUE_BYTES=67108864",
	"TANDEM_WS_STALL_SECONDS=120", /* read only by a notifier that closes stalled clients */
	NULL,
};

#define BLOB 100000

static void import_stack(void)
{
	cr_assert_eq(stack_import(&g_stack), 0, "no stack in the environment");
}

TestSuite(coalesce, .init = import_stack, .timeout = 120);

/* The kernel's ceiling for a socket's send buffer (tcp_wmem's third field). */
static long wmem_max(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	long lo, def, max = 4L << 20;

	if (f) {
		if (fscanf(f, "%ld %ld %ld", &lo, &def, &max) != 3)
			max = 4L << 20;
		fclose(f);
	}
	return max;
}

static void open_ws(struct wsc *c)
{
	cr_assert_eq(it_ws(c, &g_stack, false), 0, "upgrade failed (%d)", c->http_status);
}

/* A client with a 4 KiB receive buffer straight on the notifier: it fills fast when it stops reading. */
static void open_slow(struct wsc *c)
{
	struct wsc_options opt = {.host = "127.0.0.1", .port = g_stack.ws_port, .path = "/ws",
				  .rcvbuf = 4096, .timeout_ms = IT_WAIT_MS};

	cr_assert_eq(wsc_connect(c, &opt), 0);
}

/* Sends a subscribe message and expects its ack. */
static void subscribe(struct wsc *c, const char *fmt, const char *col, const char *arg)
{
	struct json_object *o;
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, col, arg ? arg : "");
	cr_assert_eq(it_send(c, "%s", msg), 0);
	o = it_expect_op(c, "subscribed", IT_WAIT_MS);
	cr_assert_not_null(o, "no ack for %s", msg);
	json_object_put(o);
}

#define SUB_PLAIN "{\"op\":\"subscribe\",\"collection\":\"%s\"%s}"
#define SUB_VIEW "{\"op\":\"subscribe\",\"collection\":\"%s\",\"where\":{\"done\":false}%s}"

/*
 * Reads n events and writes them as "col/type:id" (a view's as
 * "col/sid/type:id"), space-separated, checking seq order per stream and
 * that doc is there exactly when the type carries one. The last version
 * seen of each document goes in versions ("id=v ...") when not NULL.
 */
static void read_events(struct wsc *c, int n, char *out, size_t size, char *versions, size_t vsize)
{
	struct {
		char key[96];
		struct tnd_seq seq;
	} last[16];
	int n_last = 0;

	out[0] = '\0';
	if (versions)
		versions[0] = '\0';
	for (int i = 0; i < n; i++) {
		struct json_object *o = it_expect_op(c, "event", 20000), *doc, *v;
		const char *type, *sid, *seq_s;
		char key[96];
		struct tnd_seq seq;
		int k;

		cr_assert_not_null(o, "event %d of %d missing (so far: %s)", i + 1, n, out);
		type = it_str(o, "type");
		sid = it_str(o, "sid");
		seq_s = it_str(o, "seq");
		cr_assert_eq(tnd_seq_parse(seq_s, strlen(seq_s), &seq), 0);
		snprintf(key, sizeof(key), "%s/%s", it_str(o, "collection"), sid);
		for (k = 0; k < n_last && strcmp(last[k].key, key); k++)
			;
		if (k == n_last) {
			cr_assert_lt(n_last, 16);
			snprintf(last[n_last++].key, sizeof(last[0].key), "%s", key);
		} else {
			cr_assert_gt(tnd_seq_cmp(&seq, &last[k].seq), 0, "seq order on %s at %s", key, seq_s);
		}
		last[k].seq = seq;
		cr_assert_eq(json_object_object_get_ex(o, "doc", &doc),
			     strcmp(type, "left") != 0 && strcmp(type, "deleted") != 0, "doc on %s", type);
		if (strcmp(it_str(o, "collection"), "co-blk") != 0)
			snprintf(out + strlen(out), size - strlen(out), "%s%s/%s%s%s:%s", out[0] ? " " : "",
				 it_str(o, "collection"), sid, sid[0] ? "/" : "", type, it_str(o, "id"));
		if (versions && json_object_object_get_ex(o, "version", &v))
			snprintf(versions + strlen(versions), vsize - strlen(versions), "%s%s=%d",
				 versions[0] ? " " : "", it_str(o, "id"), json_object_get_int(v));
		json_object_put(o);
	}
}

static void rest(const char *method, const char *col, const char *id, const char *body, long want)
{
	cr_assert_eq(it_rest(&g_stack, method, col, id, body), want, "%s %s/%s", method, col, id);
}

/* Documents that exist before the burst (created events the clients read as they come). */
static void pre_create(const char *plain, const char *view)
{
	rest("PUT", plain, "b", "{\"n\":0}", 201);
	rest("PUT", plain, "d", "{\"n\":0}", 201);
	rest("PUT", plain, "e", "{\"n\":0}", 201);
	rest("PUT", view, "a", "{\"done\":true}", 201);
	rest("PUT", view, "b", "{\"done\":false}", 201);
	rest("PUT", view, "c", "{\"done\":true}", 201);
	rest("PUT", view, "d", "{\"done\":false}", 201);
}

/* Every row of the table: plain rows on `plain`, filtered ones on `view` (where done=false). */
static void burst(const char *plain, const char *view)
{
	rest("PUT", plain, "a", "{\"n\":1}", 201);      /* created + updated -> created */
	rest("PATCH", plain, "b", "{\"n\":1}", 200);    /* updated + updated -> updated */
	rest("PATCH", plain, "a", "{\"n\":2}", 200);
	rest("PATCH", plain, "b", "{\"n\":2}", 200);
	rest("PATCH", plain, "d", "{\"n\":1}", 200);    /* updated + deleted -> deleted */
	rest("PUT", plain, "x", "{\"n\":1}", 201);      /* created + deleted -> nothing */
	rest("DELETE", plain, "e", NULL, 204);          /* deleted + created -> both */
	rest("DELETE", plain, "d", NULL, 204);
	rest("DELETE", plain, "x", NULL, 204);
	rest("PUT", plain, "e", "{\"n\":9}", 201);
	rest("PATCH", view, "a", "{\"done\":false}", 200); /* entered + updated -> entered */
	rest("PATCH", view, "b", "{\"n\":1}", 200);        /* updated + left -> left */
	rest("PATCH", view, "c", "{\"done\":false}", 200); /* entered + left -> nothing */
	rest("PATCH", view, "d", "{\"done\":true}", 200);  /* left + entered -> updated */
	rest("PATCH", view, "a", "{\"n\":2}", 200);
	rest("PATCH", view, "b", "{\"done\":true}", 200);
	rest("PATCH", view, "c", "{\"done\":true}", 200);
	rest("PATCH", view, "d", "{\"done\":false}", 200);
}

#define EVERY_PLAIN(p)                                                                        \
	p "/created:a " p "/updated:b " p "/updated:a " p "/updated:b " p "/updated:d " p       \
	  "/created:x " p "/deleted:e " p "/deleted:d " p "/deleted:x " p "/created:e"
#define EVERY_VIEW(v, sid)                                                                    \
	v "/" sid "/entered:a " v "/" sid "/updated:b " v "/" sid "/entered:c " v "/" sid        \
	  "/left:d " v "/" sid "/updated:a " v "/" sid "/left:b " v "/" sid "/left:c " v "/" sid \
	  "/entered:d"
#define MERGED_PLAIN(p) p "/created:a " p "/updated:b " p "/deleted:e " p "/deleted:d " p "/created:e"
#define MERGED_VIEW(v, sid) v "/" sid "/entered:a " v "/" sid "/left:b " v "/" sid "/updated:d"

Test(coalesce, a_client_that_does_not_read_gets_exactly_the_merged_frames_and_others_every_event)
{
	struct wsc slow, all;
	char got[4096], versions[512], *blob = malloc(BLOB + 16), id[16];
	int blockers = (int)((wmem_max() + (2L << 20)) / BLOB) + 1;
	long long merged0 = it_metric(&g_stack, "tandem_notifier_coalesced_events_total");

	cr_assert_not_null(blob);
	cr_assert_geq(merged0, 0, "the coalesced_events metric is served");
	open_slow(&slow);
	open_ws(&all);
	subscribe(&slow, SUB_PLAIN, "co-blk", NULL);
	subscribe(&slow, SUB_PLAIN, "co-live", ",\"coalesce\":true");
	subscribe(&slow, SUB_VIEW, "co-view", ",\"sid\":\"v\",\"coalesce\":true");
	subscribe(&all, SUB_PLAIN, "co-live", NULL);
	subscribe(&all, SUB_VIEW, "co-view", ",\"sid\":\"w\"");
	pre_create("co-live", "co-view");
	read_events(&slow, 5, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, "co-live/created:b co-live/created:d co-live/created:e "
			      "co-view/v/created:b co-view/v/created:d");
	read_events(&all, 5, got, sizeof(got), NULL, 0);

	/* The slow client stops reading; more than its socket can hold queues up. */
	snprintf(blob, BLOB + 16, "{\"s\":\"%0*d\"}", BLOB - 10, 0);
	for (int i = 0; i < blockers; i++) {
		snprintf(id, sizeof(id), "k%03d", i);
		rest("PUT", "co-blk", id, blob, 201);
	}
	burst("co-live", "co-view");

	/* The reader saw every event, unmerged. */
	read_events(&all, 18, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, EVERY_PLAIN("co-live") " " EVERY_VIEW("co-view", "w"));
	/* The slow one now reads: its blockers, then the merged frames in the later events' order. */
	read_events(&slow, blockers + 8, got, sizeof(got), versions, sizeof(versions));
	cr_assert_str_eq(got, MERGED_PLAIN("co-live") " " MERGED_VIEW("co-view", "v"));
	/* Each merged frame carries the later event's version (and doc: checked by read_events). */
	cr_assert(strstr(versions, " a=2 b=3 e=2 d=3 e=1 a=3 b=3 d=3"), "versions %s", versions);
	cr_assert(it_quiet(&slow));
	cr_assert(it_quiet(&all));
	cr_assert_eq(it_metric(&g_stack, "tandem_notifier_coalesced_events_total") - merged0, 10);
	wsc_close(&slow, 1000);
	wsc_close(&all, 1000);
	free(blob);
}

Test(coalesce, a_replay_with_since_merges_what_it_queues_and_a_plain_one_replays_all)
{
	struct wsc co, all;
	char got[4096], seq_plain[64], seq_view[64];
	char plain_since[96], view_since[160];
	long long merged0 = it_metric(&g_stack, "tandem_notifier_coalesced_events_total");

	pre_create("co-rp", "co-rpv");
	cr_assert_eq(it_list_seq(&g_stack, "co-rp", seq_plain, sizeof(seq_plain)), 0);
	cr_assert_eq(it_list_seq(&g_stack, "co-rpv", seq_view, sizeof(seq_view)), 0);
	burst("co-rp", "co-rpv");
	/* A replay page is queued at once: its entries merge while they wait. */
	open_ws(&co);
	open_ws(&all);
	snprintf(plain_since, sizeof(plain_since), ",\"since\":\"%s\",\"coalesce\":true", seq_plain);
	snprintf(view_since, sizeof(view_since), ",\"sid\":\"v\",\"since\":\"%s\",\"coalesce\":true", seq_view);
	subscribe(&co, SUB_PLAIN, "co-rp", plain_since);
	read_events(&co, 5, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, MERGED_PLAIN("co-rp"));
	subscribe(&co, SUB_VIEW, "co-rpv", view_since);
	read_events(&co, 3, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, MERGED_VIEW("co-rpv", "v"));
	cr_assert(it_quiet(&co));
	cr_assert_eq(it_metric(&g_stack, "tandem_notifier_coalesced_events_total") - merged0, 10);

	snprintf(plain_since, sizeof(plain_since), ",\"since\":\"%s\"", seq_plain);
	snprintf(view_since, sizeof(view_since), ",\"sid\":\"w\",\"since\":\"%s\"", seq_view);
	subscribe(&all, SUB_PLAIN, "co-rp", plain_since);
	read_events(&all, 10, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, EVERY_PLAIN("co-rp"));
	subscribe(&all, SUB_VIEW, "co-rpv", view_since);
	read_events(&all, 8, got, sizeof(got), NULL, 0);
	cr_assert_str_eq(got, EVERY_VIEW("co-rpv", "w"));
	cr_assert(it_quiet(&all));
	wsc_close(&co, 1000);
	wsc_close(&all, 1000);
}

Test(coalesce, a_malformed_coalesce_is_invalid_query_echoing_the_target)
{
	struct wsc c;
	struct json_object *o;

	open_ws(&c);
	cr_assert_eq(it_send(&c, "{\"op\":\"subscribe\",\"collection\":\"co-bad\",\"id\":\"x\",\"coalesce\":\"yes\"}"), 0);
	o = it_expect_op(&c, "error", IT_WAIT_MS);
	cr_assert_not_null(o);
	cr_assert_str_eq(it_str(o, "code"), "invalid_query");
	cr_assert_str_eq(it_str(o, "collection"), "co-bad");
	cr_assert_str_eq(it_str(o, "id"), "x");
	json_object_put(o);
	subscribe(&c, SUB_PLAIN, "co-bad", ",\"coalesce\":false");
	cr_assert(it_quiet(&c));
	wsc_close(&c, 1000);
}

int main(int argc, char *argv[])
{
	return stack_suite_main(&g_stack, STACK_ENV, argc, argv);
}
