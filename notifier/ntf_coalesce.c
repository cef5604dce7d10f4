/*
 * ntf_coalesce: see ntf_coalesce.h.
 */
#include "ntf_coalesce.h"

#include "ntf_hub_internal.h"

#define C NTF_EV_CREATED
#define U NTF_EV_UPDATED
#define D NTF_EV_DELETED
#define E NTF_EV_ENTERED
#define L NTF_EV_LEFT

/* [earlier][later]: the merged type; NONE keeps both, DROP cancels both. */
#define KEEP NTF_EV_NONE
#define DROP NTF_EV__MAX
static const uint8_t merge_table[NTF_EV__MAX][NTF_EV__MAX] = {
	/*             none  created updated deleted entered left */
	[C] = {KEEP, KEEP, C, DROP, KEEP, DROP},
	[U] = {KEEP, KEEP, U, D, KEEP, L},
	[D] = {KEEP, KEEP, KEEP, KEEP, KEEP, KEEP},
	[E] = {KEEP, KEEP, E, DROP, KEEP, DROP},
	[L] = {KEEP, KEEP, KEEP, KEEP, U, KEEP},
};

#undef C
#undef U
#undef D
#undef E
#undef L

enum ntf_merge ntf_coalesce_rule(enum ntf_ev_type earlier, enum ntf_ev_type later,
				 enum ntf_ev_type *merged)
{
	uint8_t t;

	if (earlier <= NTF_EV_NONE || earlier >= NTF_EV__MAX || later <= NTF_EV_NONE ||
	    later >= NTF_EV__MAX)
		return NTF_MERGE_KEEP;
	t = merge_table[earlier][later];
	if (t == KEEP)
		return NTF_MERGE_KEEP;
	if (t == DROP)
		return NTF_MERGE_DROP;
	*merged = (enum ntf_ev_type)t;
	return t == later ? NTF_MERGE_LATER : NTF_MERGE_RETYPE;
}

int ntf_coalesce_push(struct ntf_feed *f, struct ntf_msg *m, const struct ntf_queue_caps *caps)
{
	struct ntf_conn *conn = f->conn;
	struct ntf_queue *q = &conn->out;
	struct ntf_msg *earlier, *push = m;
	enum ntf_merge how = NTF_MERGE_KEEP;
	enum ntf_ev_type merged = NTF_EV_NONE;
	int rc;

	if (!m || conn->close_code)
		return ntf_conn_push(conn, m, caps) == 0 ? 1 : -1; /* closes it (NULL) or refuses */
	earlier = ntf_queue_indexed(q, f, m->doc_id, m->doc_id_len);
	if (!ntf_feed_coalesces(f, m)) {
		/* Every event of this document is due: what is queued is no longer its last word. */
		if (earlier)
			ntf_queue_unindex(q, f, m->doc_id, m->doc_id_len);
		return ntf_conn_push(conn, m, caps) == 0 ? 1 : -1;
	}
	if (earlier && ntf_seq_gt(&m->seq, &earlier->seq))
		how = ntf_coalesce_rule(earlier->ev_type, m->ev_type, &merged);
	if (how == NTF_MERGE_RETYPE) {
		/* Built before the earlier frame goes, so running out of memory loses nothing silently. */
		push = ntf_proto_event_retype(m, merged);
		if (!push)
			return ntf_conn_push(conn, NULL, caps) == 0 ? 1 : -1;
	}
	if (how != NTF_MERGE_KEEP) {
		ntf_queue_remove_indexed(q, f, m->doc_id, m->doc_id_len);
		conn->hub->metrics.coalesced_events++;
	}
	if (how == NTF_MERGE_DROP) {
		conn->hub->metrics.coalesced_events++;
		return 1;
	}
	rc = ntf_conn_push(conn, push, caps);
	/* Out of memory for the index: this frame simply does not merge. */
	if (rc == 0)
		(void)ntf_queue_index_last(q, f);
	if (push != m)
		ntf_msg_unref(push);
	return rc == 0 ? 1 : -1;
}

void ntf_coalesce_forget(struct ntf_feed *f)
{
	if (f->coalesce)
		ntf_queue_unindex_stream(&f->conn->out, f);
}
