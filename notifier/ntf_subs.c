/*
 * ntf_subs: see ntf_subs.h.
 */
#include "ntf_subs.h"

#include <stdlib.h>
#include <string.h>

#include "tnd_filter.h"

#define BUCKETS_INITIAL 64

static uint32_t hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

int ntf_subs_init(struct ntf_subs *s)
{
	s->n_buckets = BUCKETS_INITIAL;
	s->n_colls = 0;
	s->buckets = calloc(s->n_buckets, sizeof(*s->buckets));
	return s->buckets ? 0 : -1;
}

void ntf_subs_destroy(struct ntf_subs *s)
{
	for (uint32_t i = 0; i < s->n_buckets; i++) {
		struct ntf_coll *c = s->buckets[i], *next;

		for (; c; c = next) {
			next = c->hnext;
			ntf_queue_clear(&c->pending);
			free(c);
		}
	}
	free(s->buckets);
	s->buckets = NULL;
	s->n_buckets = s->n_colls = 0;
}

struct ntf_coll *ntf_subs_find(const struct ntf_subs *s, const char *name, size_t len)
{
	struct ntf_coll *c = s->buckets[hash_name(name, len) & (s->n_buckets - 1)];

	for (; c; c = c->hnext)
		if (c->name_len == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

/* Doubles the table; on failure the old one simply stays (longer chains). */
static void rehash(struct ntf_subs *s)
{
	uint32_t n = s->n_buckets * 2;
	struct ntf_coll **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (uint32_t i = 0; i < s->n_buckets; i++) {
		struct ntf_coll *c = s->buckets[i], *next;

		for (; c; c = next) {
			uint32_t b = hash_name(c->name, c->name_len) & (n - 1);

			next = c->hnext;
			c->hnext = nb[b];
			nb[b] = c;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->n_buckets = n;
}

struct ntf_coll *ntf_subs_get(struct ntf_subs *s, const char *name, size_t len)
{
	struct ntf_coll *c = ntf_subs_find(s, name, len);
	uint32_t b;

	if (c)
		return c;
	if (len == 0 || len > TND_COLLECTION_MAX)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	c->name_len = (uint8_t)len;
	c->state = NTF_COLL_STALE;
	if (s->n_colls >= s->n_buckets)
		rehash(s);
	b = hash_name(name, len) & (s->n_buckets - 1);
	c->hnext = s->buckets[b];
	s->buckets[b] = c;
	s->n_colls++;
	return c;
}

bool ntf_coll_unused(const struct ntf_coll *c)
{
	return c->n_feeds == 0 && c->refs == 0 && !c->query;
}

void ntf_subs_remove(struct ntf_subs *s, struct ntf_coll *c)
{
	struct ntf_coll **pp = &s->buckets[hash_name(c->name, c->name_len) & (s->n_buckets - 1)];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			s->n_colls--;
			break;
		}
	}
	ntf_queue_clear(&c->pending);
	free(c);
}

struct ntf_feed *ntf_feed_new(struct ntf_coll *c, struct ntf_conn *conn)
{
	struct ntf_feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->conn = conn;
	f->coll = c;
	f->coll_next = c->feeds;
	if (c->feeds)
		c->feeds->coll_prev = f;
	c->feeds = f;
	c->n_feeds++;
	return f;
}

static void free_filters(struct ntf_filter *filt)
{
	while (filt) {
		struct ntf_filter *next = filt->next;
		free(filt);
		filt = next;
	}
}

void ntf_feed_free(struct ntf_feed *f)
{
	struct ntf_coll *c = f->coll;

	if (f->coll_prev)
		f->coll_prev->coll_next = f->coll_next;
	else
		c->feeds = f->coll_next;
	if (f->coll_next)
		f->coll_next->coll_prev = f->coll_prev;
	c->n_feeds--;
	free_filters(f->filters);
	free_filters(f->waiting);
	ntf_queue_clear(&f->pending);
	tnd_filter_free(f->where);
	free(f);
}

struct ntf_filter *ntf_filter_new(const char *id)
{
	struct ntf_filter *filt = calloc(1, sizeof(*filt));
	size_t len = id ? strlen(id) : 0;

	if (!filt || len > TND_DOC_ID_MAX) {
		free(filt);
		return NULL;
	}
	memcpy(filt->id, id ? id : "", len + 1);
	filt->id_len = (uint8_t)len;
	filt->state = NTF_FILTER_WAIT;
	return filt;
}

struct ntf_filter *ntf_filter_find(struct ntf_filter *list, const char *id)
{
	size_t len = id ? strlen(id) : 0;

	for (; list; list = list->next)
		if (list->id_len == len && !memcmp(list->id, id ? id : "", len))
			return list;
	return NULL;
}

bool ntf_filter_unlink(struct ntf_filter **list, struct ntf_filter *filt)
{
	for (; *list; list = &(*list)->next) {
		if (*list == filt) {
			*list = filt->next;
			filt->next = NULL;
			return true;
		}
	}
	return false;
}

bool ntf_filter_selects(const struct ntf_filter *filt, const struct ntf_msg *ev)
{
	return filt->id_len == 0 ||
	       (filt->id_len == ev->doc_id_len && !memcmp(filt->id, ev->doc_id, filt->id_len));
}

bool ntf_feed_live_match(const struct ntf_feed *f, const struct ntf_filter *except,
			 const struct ntf_msg *ev)
{
	for (const struct ntf_filter *filt = f->filters; filt; filt = filt->next)
		if (filt != except && filt->state == NTF_FILTER_LIVE &&
		    tnd_seq_cmp(&ev->seq, &filt->floor) > 0 && ntf_filter_selects(filt, ev))
			return true;
	return false;
}

void ntf_filter_take_options(struct ntf_filter *list, const struct ntf_filter *like)
{
	for (; list; list = list->next)
		if (list->id_len == like->id_len && !memcmp(list->id, like->id, like->id_len))
			list->coalesce = like->coalesce;
}

bool ntf_feed_coalesces(const struct ntf_feed *f, const struct ntf_msg *ev)
{
	bool any = false;

	for (const struct ntf_filter *filt = f->filters; filt; filt = filt->next) {
		if (!ntf_filter_selects(filt, ev))
			continue;
		if (!filt->coalesce)
			return false;
		any = true;
	}
	return any;
}
