/*
 * tnd_cluster: see tnd_cluster.h. The slot map keeps, for each of the
 * 16384 slots, its master's node index and its range's index (for the
 * replicas), so a lookup is two array reads; nodes and ranges are
 * growable arrays.
 */
#include "tnd_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnd_error.h"
#include "tnd_keys.h"
#include "tnd_num.h"

static const uint16_t crc16tab[256] = {
	0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7,
	0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c, 0xd1ad, 0xe1ce, 0xf1ef,
	0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6,
	0x9339, 0x8318, 0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de,
	0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4, 0x5485,
	0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d,
	0x3653, 0x2672, 0x1611, 0x0630, 0x76d7, 0x66f6, 0x5695, 0x46b4,
	0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc,
	0x48c4, 0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823,
	0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969, 0xa90a, 0xb92b,
	0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12,
	0xdbfd, 0xcbdc, 0xfbbf, 0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a,
	0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
	0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49,
	0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13, 0x2e32, 0x1e51, 0x0e70,
	0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78,
	0x9188, 0x81a9, 0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f,
	0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046, 0x6067,
	0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e,
	0x02b1, 0x1290, 0x22f3, 0x32d2, 0x4235, 0x5214, 0x6277, 0x7256,
	0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d,
	0x34e2, 0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
	0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e, 0xc71d, 0xd73c,
	0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634,
	0xd94c, 0xc96d, 0xf90e, 0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab,
	0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
	0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a,
	0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1, 0x1ad0, 0x2ab3, 0x3a92,
	0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9,
	0x7c26, 0x6c07, 0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1,
	0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9, 0x9ff8,
	0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

uint16_t tnd_cluster_crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ crc16tab[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff]);
	return crc;
}

int tnd_cluster_keyslot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	/* Only the first { counts, and only the first } after it; an empty
	 * tag {} means the whole key is hashed (Redis's keyHashSlot). */
	if (open) {
		size_t rest = len - (size_t)(open - key) - 1;
		close = memchr(open + 1, '}', rest);
		if (close && close > open + 1)
			return tnd_cluster_crc16(open + 1, (size_t)(close - open - 1)) & (TND_CLUSTER_SLOTS - 1);
	}
	return tnd_cluster_crc16(key, len) & (TND_CLUSTER_SLOTS - 1);
}

int tnd_cluster_collection_slot(const char *ns, const char *col, size_t col_len)
{
	char tag[TND_KEY_MAX];
	int n = tnd_key(tag, sizeof(tag), TND_KEY_CHANNEL, ns, col, col_len);

	if (n < 0)
		return TND_ETOOLONG;
	return tnd_cluster_keyslot(tag, (size_t)n);
}

/* --- slot map ------------------------------------------------------------ */

#define NO_NODE 0xffff

struct range {
	int first, last;
	int n_replicas;
	uint16_t replicas[TND_CLUSTER_REPLICAS_MAX];
};

struct tnd_cluster_map {
	uint16_t master[TND_CLUSTER_SLOTS]; /* node index, NO_NODE when unserved */
	uint16_t range[TND_CLUSTER_SLOTS];  /* index into ranges, NO_NODE when unknown */
	struct tnd_cluster_node *nodes;
	size_t n_nodes, cap_nodes;
	struct range *ranges;
	size_t n_ranges;
};

static struct tnd_cluster_map *map_new(void)
{
	struct tnd_cluster_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	for (int i = 0; i < TND_CLUSTER_SLOTS; i++)
		m->master[i] = m->range[i] = NO_NODE;
	return m;
}

void tnd_cluster_map_free(struct tnd_cluster_map *map)
{
	if (!map)
		return;
	free(map->nodes);
	free(map->ranges);
	free(map);
}

int tnd_cluster_map_find(const struct tnd_cluster_map *map, const char *host, int port)
{
	for (size_t i = 0; i < map->n_nodes; i++)
		if (map->nodes[i].port == port && !strcmp(map->nodes[i].host, host))
			return (int)i;
	return TND_ENOTFOUND;
}

/* The index of host:port, added when new. */
static int node_add(struct tnd_cluster_map *m, const char *host, size_t host_len, int port,
		    const char *id, size_t id_len)
{
	char h[TND_REDIS_HOST_MAX + 1];
	int i;

	if (host_len > TND_REDIS_HOST_MAX)
		return TND_ETOOLONG;
	memcpy(h, host, host_len);
	h[host_len] = '\0';
	i = tnd_cluster_map_find(m, h, port);
	if (i < 0) {
		if (m->n_nodes == TND_CLUSTER_NODES_MAX)
			return TND_ETOOLONG;
		if (m->n_nodes == m->cap_nodes) {
			size_t cap = m->cap_nodes ? m->cap_nodes * 2 : 8;
			struct tnd_cluster_node *n = realloc(m->nodes, cap * sizeof(*n));
			if (!n)
				return TND_ENOMEM;
			m->nodes = n;
			m->cap_nodes = cap;
		}
		i = (int)m->n_nodes++;
		memset(&m->nodes[i], 0, sizeof(m->nodes[i]));
		memcpy(m->nodes[i].host, h, host_len + 1);
		m->nodes[i].port = port;
	}
	if (id && id_len == TND_CLUSTER_NODE_ID_LEN && !m->nodes[i].id[0]) {
		memcpy(m->nodes[i].id, id, id_len);
		m->nodes[i].id[id_len] = '\0';
	}
	return i;
}

/*
 * One [host, port, id?, ...] of a CLUSTER SLOTS entry: its node index, or
 * NO_NODE when its endpoint is unknown, or a negative TND_E* code.
 */
static int parse_node(struct tnd_cluster_map *m, const redisReply *r, const char *asked_host,
		      char *err, size_t errlen)
{
	const char *host, *id = NULL;
	size_t host_len, id_len = 0;
	int rc;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "CLUSTER SLOTS: a node is not [host, port, ...]");
		return TND_EPROTO;
	}
	if (r->element[1]->integer < 0 || r->element[1]->integer > 65535) {
		snprintf(err, errlen, "CLUSTER SLOTS: port %lld out of range", r->element[1]->integer);
		return TND_EPROTO;
	}
	host = r->element[0]->str;
	host_len = r->element[0]->len;
	if (host_len == 0 && asked_host) {
		host = asked_host;
		host_len = strlen(asked_host);
	}
	/* "?" (or an empty host we cannot resolve, or port 0): endpoint unknown. */
	if (host_len == 0 || (host_len == 1 && host[0] == '?') || r->element[1]->integer == 0)
		return NO_NODE;
	if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_STRING) {
		id = r->element[2]->str;
		id_len = r->element[2]->len;
	}
	rc = node_add(m, host, host_len, (int)r->element[1]->integer, id, id_len);
	if (rc == TND_ETOOLONG)
		snprintf(err, errlen, "CLUSTER SLOTS: over-long host or more than %d nodes",
			 TND_CLUSTER_NODES_MAX);
	else if (rc == TND_ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

int tnd_cluster_map_parse(const redisReply *reply, const char *asked_host,
			  struct tnd_cluster_map **out, char *err, size_t errlen)
{
	struct tnd_cluster_map *m;
	int rc = TND_EPROTO;

	*out = NULL;
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "CLUSTER SLOTS: %s", reply && reply->type == REDIS_REPLY_ERROR
								   ? reply->str : "not an array");
		return TND_EPROTO;
	}
	if (reply->elements > TND_CLUSTER_SLOTS) {
		snprintf(err, errlen, "CLUSTER SLOTS: more ranges than slots");
		return TND_EPROTO;
	}
	m = map_new();
	if (!m)
		goto nomem;
	if (reply->elements) {
		m->ranges = calloc(reply->elements, sizeof(*m->ranges));
		if (!m->ranges)
			goto nomem;
	}
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		struct range *rg = &m->ranges[m->n_ranges];
		int master;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
		    e->element[0]->type != REDIS_REPLY_INTEGER ||
		    e->element[1]->type != REDIS_REPLY_INTEGER) {
			snprintf(err, errlen, "CLUSTER SLOTS: entry %zu is not [first, last, master, ...]", i);
			rc = TND_EPROTO;
			goto fail;
		}
		if (e->element[0]->integer < 0 || e->element[1]->integer >= TND_CLUSTER_SLOTS ||
		    e->element[0]->integer > e->element[1]->integer) {
			snprintf(err, errlen, "CLUSTER SLOTS: bad range %lld-%lld", e->element[0]->integer,
				 e->element[1]->integer);
			rc = TND_EPROTO;
			goto fail;
		}
		rg->first = (int)e->element[0]->integer;
		rg->last = (int)e->element[1]->integer;
		if ((master = parse_node(m, e->element[2], asked_host, err, errlen)) < 0) {
			rc = master;
			goto fail;
		}
		for (size_t j = 3; j < e->elements; j++) {
			int rep = parse_node(m, e->element[j], asked_host, err, errlen);
			if (rep < 0) {
				rc = rep;
				goto fail;
			}
			if (rep != NO_NODE && rg->n_replicas < TND_CLUSTER_REPLICAS_MAX)
				rg->replicas[rg->n_replicas++] = (uint16_t)rep;
		}
		for (int s = rg->first; s <= rg->last; s++) {
			if (m->range[s] != NO_NODE) {
				snprintf(err, errlen, "CLUSTER SLOTS: slot %d in two ranges", s);
				rc = TND_EPROTO;
				goto fail;
			}
			m->range[s] = (uint16_t)m->n_ranges;
			m->master[s] = (uint16_t)master;
		}
		m->n_ranges++;
	}
	*out = m;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = TND_ENOMEM;
fail:
	tnd_cluster_map_free(m);
	return rc;
}

size_t tnd_cluster_map_node_count(const struct tnd_cluster_map *map)
{
	return map->n_nodes;
}

const struct tnd_cluster_node *tnd_cluster_map_node(const struct tnd_cluster_map *map, int idx)
{
	if (idx < 0 || (size_t)idx >= map->n_nodes)
		return NULL;
	return &map->nodes[idx];
}

int tnd_cluster_map_master(const struct tnd_cluster_map *map, int slot)
{
	if (slot < 0 || slot >= TND_CLUSTER_SLOTS)
		return TND_EINVAL;
	return map->master[slot] == NO_NODE ? TND_ENOTFOUND : map->master[slot];
}

int tnd_cluster_map_replicas(const struct tnd_cluster_map *map, int slot, int *idx, size_t max)
{
	const struct range *rg;

	if (slot < 0 || slot >= TND_CLUSTER_SLOTS || map->range[slot] == NO_NODE)
		return 0;
	rg = &map->ranges[map->range[slot]];
	for (int i = 0; i < rg->n_replicas && (size_t)i < max; i++)
		idx[i] = rg->replicas[i];
	return rg->n_replicas;
}

int tnd_cluster_map_masters(const struct tnd_cluster_map *map, int *idx, size_t max)
{
	bool is_master[TND_CLUSTER_NODES_MAX] = {false};
	int n = 0;

	for (int s = 0; s < TND_CLUSTER_SLOTS; s++)
		if (map->master[s] != NO_NODE)
			is_master[map->master[s]] = true;
	for (size_t i = 0; i < map->n_nodes; i++) {
		if (!is_master[i])
			continue;
		if ((size_t)n < max)
			idx[n] = (int)i;
		n++;
	}
	return n;
}

int tnd_cluster_map_covered(const struct tnd_cluster_map *map)
{
	int n = 0;

	for (int s = 0; s < TND_CLUSTER_SLOTS; s++)
		n += map->master[s] != NO_NODE;
	return n;
}

int tnd_cluster_map_moved(struct tnd_cluster_map *map, int slot, const char *host, int port)
{
	int i;

	if (slot < 0 || slot >= TND_CLUSTER_SLOTS || !host || !*host || port < 1 || port > 65535)
		return TND_EINVAL;
	i = node_add(map, host, strlen(host), port, NULL, 0);
	if (i < 0)
		return i;
	map->master[slot] = (uint16_t)i;
	map->range[slot] = NO_NODE;
	return i;
}

/* --- redirections -------------------------------------------------------- */

static const char *const redir_names[TND_CLUSTER_REDIR__MAX] = {
	[TND_CLUSTER_REDIR_NONE] = "none",
	[TND_CLUSTER_REDIR_MOVED] = "moved",
	[TND_CLUSTER_REDIR_ASK] = "ask",
	[TND_CLUSTER_REDIR_TRYAGAIN] = "tryagain",
	[TND_CLUSTER_REDIR_CLUSTERDOWN] = "clusterdown",
};

const char *tnd_cluster_redir_name(enum tnd_cluster_redir kind)
{
	return (unsigned)kind < TND_CLUSTER_REDIR__MAX ? redir_names[kind] : "none";
}

/* str[0..len) starts with the word w (followed by a space or the end). */
static bool word_is(const char *str, size_t len, const char *w)
{
	size_t n = strlen(w);

	return len >= n && !memcmp(str, w, n) && (len == n || str[n] == ' ');
}

/* "<slot> <host>:<port>" after MOVED / ASK; the host may be [v6], bare v6 or empty. */
static int parse_target(const char *p, const char *end, struct tnd_cluster_redirect *r)
{
	const char *sp = memchr(p, ' ', (size_t)(end - p)), *colon = NULL, *h, *h_end;
	long long n;

	if (!sp || tnd_num_parse(p, (size_t)(sp - p), 0, TND_CLUSTER_SLOTS - 1, &n) < 0)
		return TND_EPROTO;
	r->slot = (int)n;
	h = sp + 1;
	for (const char *q = h; q < end; q++) /* the last colon: v6 hosts hold colons */
		if (*q == ':')
			colon = q;
	if (!colon || tnd_num_parse(colon + 1, (size_t)(end - colon - 1), 1, 65535, &n) < 0)
		return TND_EPROTO;
	r->port = (int)n;
	h_end = colon;
	if (h_end - h >= 2 && *h == '[' && h_end[-1] == ']') {
		h++;
		h_end--;
	}
	if ((size_t)(h_end - h) > TND_REDIS_HOST_MAX || memchr(h, ' ', (size_t)(h_end - h)))
		return TND_EPROTO;
	memcpy(r->host, h, (size_t)(h_end - h));
	r->host[h_end - h] = '\0';
	r->same_host = h_end == h;
	return 0;
}

int tnd_cluster_redirect_parse(const char *str, size_t len, struct tnd_cluster_redirect *r)
{
	memset(r, 0, sizeof(*r));
	r->slot = -1;
	r->kind = TND_CLUSTER_REDIR_NONE;
	if (word_is(str, len, "MOVED") || word_is(str, len, "ASK")) {
		enum tnd_cluster_redir kind = str[0] == 'M' ? TND_CLUSTER_REDIR_MOVED : TND_CLUSTER_REDIR_ASK;
		size_t skip = kind == TND_CLUSTER_REDIR_MOVED ? 6 : 4;

		if (len <= skip || parse_target(str + skip, str + len, r) < 0) {
			memset(r, 0, sizeof(*r));
			r->slot = -1;
			return TND_EPROTO;
		}
		r->kind = kind;
	} else if (word_is(str, len, "TRYAGAIN")) {
		r->kind = TND_CLUSTER_REDIR_TRYAGAIN;
	} else if (word_is(str, len, "CLUSTERDOWN")) {
		r->kind = TND_CLUSTER_REDIR_CLUSTERDOWN;
	}
	return (int)r->kind;
}

/* --- bounded retries ----------------------------------------------------- */

void tnd_cluster_retry_init(struct tnd_cluster_retry *r, long long now_ms, int budget_ms,
			    int max_attempts)
{
	r->deadline_ms = now_ms + (budget_ms > 0 ? budget_ms : 0);
	r->attempts = 1;
	r->max_attempts = max_attempts > 0 ? max_attempts : 1;
	r->backoffs = 0;
}

int tnd_cluster_retry_next(struct tnd_cluster_retry *r, long long now_ms,
			   enum tnd_cluster_redir kind, unsigned jitter)
{
	long long delay = 0, base, cap;

	if (r->attempts >= r->max_attempts)
		return TND_EUNAVAIL;
	if (kind == TND_CLUSTER_REDIR_TRYAGAIN || kind == TND_CLUSTER_REDIR_CLUSTERDOWN ||
	    kind == TND_CLUSTER_REDIR_NONE) {
		bool tryagain = kind == TND_CLUSTER_REDIR_TRYAGAIN;

		base = tryagain ? TND_CLUSTER_TRYAGAIN_BASE_MS : TND_CLUSTER_DOWN_BASE_MS;
		cap = tryagain ? TND_CLUSTER_TRYAGAIN_CAP_MS : TND_CLUSTER_DOWN_CAP_MS;
		delay = base << (r->backoffs < 16 ? r->backoffs : 16);
		if (delay > cap)
			delay = cap;
		/* Spread the waits of many workers over [d/2, d]. */
		delay = delay / 2 + (long long)(jitter % (unsigned)(delay - delay / 2 + 1));
		r->backoffs++;
	}
	if (now_ms + delay > r->deadline_ms)
		return TND_EUNAVAIL;
	r->attempts++;
	return (int)delay;
}
