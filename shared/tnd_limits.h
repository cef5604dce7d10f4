/*
 * tnd_limits: every cap on the size or count of what comes from outside,
 * in one place (as OpenBSD httpd keeps its caps in httpd.h). Each cap is
 * checked before anything is allocated for the input, and each has a test
 * just past it expecting the documented error.
 *
 * Settings that an operator may change (TANDEM_MAX_BODY, TANDEM_LOG_LEN,
 * TANDEM_MAX_SUBSCRIPTIONS...) are in the programs' option tables instead;
 * these are fixed by the contract or by the implementation.
 */
#ifndef TND_LIMITS_H
#define TND_LIMITS_H

/* Names (SPEC section 1). */
#define TND_COLLECTION_MAX 64 /* [a-z0-9][a-z0-9_-]{0,63} */
#define TND_DOC_ID_MAX 128    /* [A-Za-z0-9_-]{1,128} */

/* REST requests (SPEC section 2). */
/* Request URI, path and query string: room for a 4 KiB `where` fully
 * percent-encoded (3 bytes a character at worst), just under the 16 KiB
 * request line the shipped nginx configs allow (large_client_header_buffers). */
#define TND_URI_MAX 16000
#define TND_LIST_LIMIT_DEFAULT 100
#define TND_LIST_LIMIT_MAX 1000   /* `limit` of a list page */
/* Documents in one list page (but always one), so limit=1000 over large
 * documents cannot build a gigabyte reply. */
#define TND_LIST_PAGE_BYTES (8 << 20)
#define TND_JSON_DEPTH_MAX 64     /* containers in a body, the top object counts as 1 */
#define TND_ORIGIN_MAX 256        /* an Origin header echoed back */
#define TND_IF_MATCH_MAX 128      /* the versions of If-Match, in the scripts' form */
#define TND_RESPONSE_HEADERS_MAX 2048 /* headers of one of our answers */

/* Queries (SPEC section 8): `where` and `fields`. */
#define TND_WHERE_MAX 4096            /* bytes of where text, once percent-decoded */
#define TND_WHERE_CONDITIONS_MAX 32   /* plain values and operators, $or's included */
#define TND_WHERE_DEPTH_MAX 32        /* JSON nesting of a where, the top object counts as 1 */
#define TND_FIELDS_MAX 32             /* names in `fields` */
#define TND_FIELDS_TEXT_MAX 1024      /* bytes of `fields`, once percent-decoded */

/* Auth (SPEC section 6). */
#define TND_TOKEN_MAX 12288       /* a JWT: identity providers' tokens pass 4 KiB */
#define TND_SUB_MAX 255           /* the sub claim, stored as a document's owner */
#define TND_CLAIM_LIST_MAX 2048   /* the names of one of read/write/own, joined */
#define TND_JWT_KEY_FILE_MAX 65536 /* a secret file or a PEM public key */

/* Redis. */
#define TND_KEY_MAX 320           /* one key: namespace, collection and prefixes */
#define TND_SEQ_STR_MAX 42        /* "<ms>-<n>": two 20-digit numbers, '-', NUL */

/* Redis Cluster (SPEC section 9; shared/tnd_cluster.h). */
#define TND_CLUSTER_SEEDS_MAX 16     /* host:port seeds of a redis-cluster:// URL */
#define TND_CLUSTER_NODES_MAX 1024   /* nodes in a slot map (Redis advises at most 1000) */
#define TND_CLUSTER_REPLICAS_MAX 16  /* replicas kept per slot range (more are ignored) */
#define TND_CLUSTER_NODE_ID_LEN 40   /* a node id: 40 hex digits */
/* Bytes a sharded subscriber buffers before a reply is whole (notifier/ntf_shard.h):
 * an event carries a whole document, so this is twice TANDEM_MAX_BODY's maximum. */
#define TND_SHARD_INPUT_MAX (128 << 20)

/* Logs. */
#define TND_LOG_LINE_MAX 1024     /* longer lines are cut */

#endif
