/*
 * tnd_filter: see tnd_filter.h.
 *
 * The compiled form is a flat array of nodes in prefix order: a group node
 * (all-of for a where object, any-of for $or) is followed by its children,
 * and every node records the index just past its subtree, so evaluation
 * walks children by jumping from one subtree end to the next. A test node
 * holds its path as NUL-separated segments in one string buffer and
 * borrows its operand from the parsed where, which the filter keeps alive.
 * Nothing is allocated after compile; the recursion of tnd_filter_match is
 * bounded by TND_WHERE_DEPTH_MAX (groups) and by the operand's depth (deep
 * equality stops at the operand's leaves).
 */
#include "tnd_filter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tnd_error.h"
#include "tnd_json.h"
#include "tnd_limits.h"
#include "tnd_utf8.h"

enum node_kind { NODE_ALL, NODE_ANY, NODE_TEST };

enum filter_op {
	OP_EQ, OP_NE, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_IN, OP_NIN, OP_EXISTS, OP_PREFIX, OP__MAX
};

static const char *const op_names[OP__MAX] = {
	[OP_EQ] = "$eq", [OP_NE] = "$ne", [OP_GT] = "$gt", [OP_GTE] = "$gte",
	[OP_LT] = "$lt", [OP_LTE] = "$lte", [OP_IN] = "$in", [OP_NIN] = "$nin",
	[OP_EXISTS] = "$exists", [OP_PREFIX] = "$prefix",
};

struct node {
	uint8_t kind;   /* enum node_kind */
	uint8_t op;     /* enum filter_op, for tests */
	bool flag;      /* $exists: the operand */
	uint16_t nseg;  /* path segments */
	uint32_t end;   /* index just past this node's subtree */
	size_t path;    /* offset of the first segment in paths; pointer after compile */
	const char *seg;
	struct json_object *operand; /* borrowed from root */
	size_t operand_len;          /* $prefix: the string's length */
};

struct tnd_filter {
	struct json_object *root; /* the parsed where: owns every operand and key */
	struct node *nodes;
	uint32_t n_nodes;
	int conditions;
	char *paths;              /* segments, each NUL-terminated */
};

/* Compile-time state. */
struct compiler {
	struct tnd_filter *f;
	uint32_t cap_nodes;
	size_t paths_len, paths_cap;
	char *msg;
	size_t msglen;
	int rc;
};

/* --- values: numbers, deep equality, order ---------------------------------- */

enum num_kind { NUM_INT, NUM_UINT, NUM_DOUBLE };

struct num {
	enum num_kind kind;
	int64_t i;
	uint64_t u;
	double d;
};

/* json-c keeps integers as int64 or uint64; get_int64 clamps a large uint64. */
static void num_of(struct json_object *o, struct num *n)
{
	if (json_object_get_type(o) == json_type_double) {
		n->kind = NUM_DOUBLE;
		n->d = json_object_get_double(o);
		return;
	}
	n->i = json_object_get_int64(o);
	n->kind = NUM_INT;
	if (n->i == INT64_MAX) {
		n->u = json_object_get_uint64(o);
		if (n->u > (uint64_t)INT64_MAX)
			n->kind = NUM_UINT;
	}
}

static long double num_long_double(const struct num *n)
{
	switch (n->kind) {
	case NUM_INT: return (long double)n->i;
	case NUM_UINT: return (long double)n->u;
	default: return (long double)n->d;
	}
}

/* -1, 0 or 1; integers exactly, anything with a double as long double. */
static int num_cmp(struct json_object *a, struct json_object *b)
{
	struct num x, y;

	num_of(a, &x);
	num_of(b, &y);
	if (x.kind != NUM_DOUBLE && y.kind != NUM_DOUBLE) {
		if (x.kind == NUM_UINT || y.kind == NUM_UINT) {
			if (x.kind != y.kind)
				return x.kind == NUM_UINT ? 1 : -1;
			return x.u < y.u ? -1 : x.u > y.u;
		}
		return x.i < y.i ? -1 : x.i > y.i;
	}
	long double p = num_long_double(&x), q = num_long_double(&y);
	return p < q ? -1 : p > q;
}

static bool is_number(enum json_type t)
{
	return t == json_type_int || t == json_type_double;
}

static int str_cmp(struct json_object *a, struct json_object *b)
{
	size_t la = (size_t)json_object_get_string_len(a), lb = (size_t)json_object_get_string_len(b);
	int c = memcmp(json_object_get_string(a), json_object_get_string(b), la < lb ? la : lb);

	if (c)
		return c < 0 ? -1 : 1;
	return la < lb ? -1 : la > lb;
}

/* Deep equality of JSON values (NULL is JSON null); numbers by value. */
static bool deep_eq(struct json_object *a, struct json_object *b)
{
	enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

	if (is_number(ta) && is_number(tb))
		return num_cmp(a, b) == 0;
	if (ta != tb)
		return false;
	switch (ta) {
	case json_type_null:
		return true;
	case json_type_boolean:
		return json_object_get_boolean(a) == json_object_get_boolean(b);
	case json_type_string:
		return str_cmp(a, b) == 0;
	case json_type_array: {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!deep_eq(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, va) {
			struct json_object *vb;
			if (!json_object_object_get_ex(b, key, &vb) || !deep_eq(va, vb))
				return false;
		}
		return true;
	}
	default:
		return false;
	}
}

/* --- evaluation --------------------------------------------------------------- */

/* Follows n's path from doc. Returns true and *val (NULL: JSON null) when present. */
static bool lookup(const struct node *n, struct json_object *doc, struct json_object **val)
{
	const char *seg = n->seg;
	struct json_object *cur = doc;

	for (uint16_t i = 0; i < n->nseg; i++) {
		if (!json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, seg, &cur))
			return false;
		seg += strlen(seg) + 1;
	}
	*val = cur;
	return true;
}

/* $eq on a possibly absent field: absent equals only null. */
static bool eq_field(bool present, struct json_object *val, struct json_object *operand)
{
	if (!present)
		return json_object_get_type(operand) == json_type_null;
	return deep_eq(val, operand);
}

static bool in_field(bool present, struct json_object *val, struct json_object *list)
{
	size_t n = json_object_array_length(list);

	for (size_t i = 0; i < n; i++)
		if (eq_field(present, val, json_object_array_get_idx(list, i)))
			return true;
	return false;
}

/* Order ops: numbers with numbers, strings with strings; other pairs never hold. */
static bool order_holds(enum filter_op op, struct json_object *val, struct json_object *operand)
{
	enum json_type tv = json_object_get_type(val), to = json_object_get_type(operand);
	int c;

	if (is_number(tv) && is_number(to))
		c = num_cmp(val, operand);
	else if (tv == json_type_string && to == json_type_string)
		c = str_cmp(val, operand);
	else
		return false;
	switch (op) {
	case OP_GT: return c > 0;
	case OP_GTE: return c >= 0;
	case OP_LT: return c < 0;
	default: return c <= 0;
	}
}

static bool test(const struct node *n, struct json_object *doc)
{
	struct json_object *val = NULL;
	bool present = lookup(n, doc, &val);

	switch ((enum filter_op)n->op) {
	case OP_EQ: return eq_field(present, val, n->operand);
	case OP_NE: return !eq_field(present, val, n->operand);
	case OP_IN: return in_field(present, val, n->operand);
	case OP_NIN: return !in_field(present, val, n->operand);
	case OP_EXISTS: return present == n->flag;
	case OP_PREFIX:
		return present && json_object_is_type(val, json_type_string) &&
		       (size_t)json_object_get_string_len(val) >= n->operand_len &&
		       memcmp(json_object_get_string(val), json_object_get_string(n->operand),
			      n->operand_len) == 0;
	default:
		return present && order_holds((enum filter_op)n->op, val, n->operand);
	}
}

static bool eval(const struct tnd_filter *f, uint32_t i, struct json_object *doc)
{
	const struct node *n = &f->nodes[i];

	if (n->kind == NODE_TEST)
		return test(n, doc);
	for (uint32_t j = i + 1; j < n->end; j = f->nodes[j].end) {
		bool r = eval(f, j, doc);
		if (n->kind == NODE_ALL && !r)
			return false;
		if (n->kind == NODE_ANY && r)
			return true;
	}
	return n->kind == NODE_ALL;
}

bool tnd_filter_match(const struct tnd_filter *f, struct json_object *doc)
{
	return f->n_nodes == 0 || eval(f, 0, doc);
}

int tnd_filter_conditions(const struct tnd_filter *f)
{
	return f->conditions;
}

/* --- compilation -------------------------------------------------------------- */

/* Copies at most 64 bytes of a name, cut on a UTF-8 boundary. */
static const char *short_name(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s);

	if (n >= size) {
		n = size - 4;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		memcpy(buf, s, n);
		memcpy(buf + n, "...", 4);
		return buf;
	}
	memcpy(buf, s, n + 1);
	return buf;
}

static int fail(struct compiler *c, int rc, const char *fmt, const char *a, const char *b)
{
	char na[72], nb[72];

	snprintf(c->msg, c->msglen, fmt, a ? short_name(a, na, sizeof(na)) : "",
		 b ? short_name(b, nb, sizeof(nb)) : "");
	c->rc = rc;
	return rc;
}

static int push_node(struct compiler *c, enum node_kind kind, uint32_t *index)
{
	struct tnd_filter *f = c->f;

	if (f->n_nodes == c->cap_nodes) {
		uint32_t cap = c->cap_nodes ? c->cap_nodes * 2 : 16;
		struct node *nodes = realloc(f->nodes, cap * sizeof(*nodes));
		if (!nodes)
			return fail(c, TND_ENOMEM, "out of memory%s%s", NULL, NULL);
		f->nodes = nodes;
		c->cap_nodes = cap;
	}
	*index = f->n_nodes++;
	memset(&f->nodes[*index], 0, sizeof(struct node));
	f->nodes[*index].kind = (uint8_t)kind;
	return 0;
}

/* Splits a dotted field name into the paths buffer; checks every segment. */
static int add_path(struct compiler *c, const char *field, struct node *n)
{
	size_t len = strlen(field);
	const char *seg = field;

	if (c->paths_len + len + 1 > c->paths_cap) {
		size_t cap = (c->paths_cap ? c->paths_cap * 2 : 256) + len + 1;
		char *p = realloc(c->f->paths, cap);
		if (!p)
			return fail(c, TND_ENOMEM, "out of memory%s%s", NULL, NULL);
		c->f->paths = p;
		c->paths_cap = cap;
	}
	n->path = c->paths_len;
	n->nseg = 0;
	for (;;) {
		size_t sl = strcspn(seg, ".");
		if (sl == 0)
			return fail(c, TND_EINVAL, "where: the field name \"%s\" has an empty part%s",
				    field, NULL);
		if (seg[0] == '$')
			return fail(c, TND_EINVAL,
				    "where: unknown operator %s (operators go inside a field's object)",
				    field, NULL);
		memcpy(c->f->paths + c->paths_len, seg, sl);
		c->paths_len += sl;
		c->f->paths[c->paths_len++] = '\0';
		n->nseg++;
		if (seg[sl] == '\0')
			break;
		seg += sl + 1;
	}
	return 0;
}

static bool finite_numbers(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double: {
		double d = json_object_get_double(o);
		return d - d == 0.0;
	}
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!finite_numbers(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!finite_numbers(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

static int count_condition(struct compiler *c)
{
	if (++c->f->conditions > TND_WHERE_CONDITIONS_MAX) {
		snprintf(c->msg, c->msglen, "where: more than %d conditions", TND_WHERE_CONDITIONS_MAX);
		return c->rc = TND_EINVAL;
	}
	return 0;
}

static int add_test(struct compiler *c, const char *field, enum filter_op op,
		    struct json_object *operand)
{
	enum json_type t = json_object_get_type(operand);
	const char *name = op_names[op];
	uint32_t i;
	int rc;

	switch (op) {
	case OP_GT: case OP_GTE: case OP_LT: case OP_LTE:
		if (!is_number(t) && t != json_type_string)
			return fail(c, TND_EINVAL, "where: %s needs a number or a string (field %s)",
				    name, field);
		break;
	case OP_IN: case OP_NIN:
		if (t != json_type_array)
			return fail(c, TND_EINVAL, "where: %s needs an array (field %s)", name, field);
		break;
	case OP_EXISTS:
		if (t != json_type_boolean)
			return fail(c, TND_EINVAL, "where: %s needs true or false (field %s)", name,
				    field);
		break;
	case OP_PREFIX:
		if (t != json_type_string)
			return fail(c, TND_EINVAL, "where: %s needs a string (field %s)", name, field);
		break;
	default:
		break;
	}
	if ((rc = count_condition(c)) < 0 || (rc = push_node(c, NODE_TEST, &i)) < 0)
		return rc;
	struct node *n = &c->f->nodes[i];
	n->op = (uint8_t)op;
	n->operand = operand;
	n->end = i + 1;
	if (op == OP_EXISTS)
		n->flag = json_object_get_boolean(operand);
	if (op == OP_PREFIX)
		n->operand_len = (size_t)json_object_get_string_len(operand);
	return add_path(c, field, n);
}

static enum filter_op op_lookup(const char *name)
{
	for (int i = 0; i < OP__MAX; i++)
		if (strcmp(name, op_names[i]) == 0)
			return (enum filter_op)i;
	return OP__MAX;
}

/* "field": value or "field": {"$op": operand, ...}. */
static int compile_field(struct compiler *c, const char *field, struct json_object *val)
{
	int with_op = 0, plain = 0, rc;

	if (json_object_is_type(val, json_type_object)) {
		json_object_object_foreach(val, key, v) {
			(void)v;
			if (key[0] == '$')
				with_op++;
			else
				plain++;
		}
	}
	if (with_op == 0)
		return add_test(c, field, OP_EQ, val);
	if (plain > 0)
		return fail(c, TND_EINVAL,
			    "where: the object of field %s mixes operators and field names%s", field,
			    NULL);
	json_object_object_foreach(val, key, operand) {
		enum filter_op op = op_lookup(key);
		if (op == OP__MAX)
			return fail(c, TND_EINVAL, "where: unknown operator %s (field %s)", key, field);
		if ((rc = add_test(c, field, op, operand)) < 0)
			return rc;
	}
	return 0;
}

static int compile_where(struct compiler *c, struct json_object *obj);

static int compile_or(struct compiler *c, struct json_object *list)
{
	uint32_t i;
	size_t n;
	int rc;

	if (!json_object_is_type(list, json_type_array) || (n = json_object_array_length(list)) == 0)
		return fail(c, TND_EINVAL, "where: $or needs a non-empty array of where objects%s%s",
			    NULL, NULL);
	if ((rc = push_node(c, NODE_ANY, &i)) < 0)
		return rc;
	for (size_t k = 0; k < n; k++) {
		struct json_object *alt = json_object_array_get_idx(list, k);
		if (!json_object_is_type(alt, json_type_object))
			return fail(c, TND_EINVAL, "where: every element of $or must be an object%s%s",
				    NULL, NULL);
		if ((rc = compile_where(c, alt)) < 0)
			return rc;
	}
	c->f->nodes[i].end = c->f->n_nodes;
	return 0;
}

static int compile_where(struct compiler *c, struct json_object *obj)
{
	uint32_t i;
	int rc;

	if ((rc = push_node(c, NODE_ALL, &i)) < 0)
		return rc;
	json_object_object_foreach(obj, key, val) {
		if (strcmp(key, "$or") == 0)
			rc = compile_or(c, val);
		else if (key[0] == '$')
			rc = fail(c, TND_EINVAL, "where: unknown operator %s%s", key, NULL);
		else
			rc = compile_field(c, key, val);
		if (rc < 0)
			return rc;
	}
	c->f->nodes[i].end = c->f->n_nodes;
	return 0;
}

static bool only_whitespace(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

/*
 * Parses the where text with the rules of request bodies (rest_json.c):
 * json-c strict mode plus tnd_json_strict_scan. Returns the object or NULL
 * with c's message.
 */
static struct json_object *parse_where(struct compiler *c, const char *where, size_t len)
{
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum json_tokener_error err;
	const char *why;
	size_t bad_at, end;
	bool too_deep;

	c->rc = TND_EINVAL;
	if (len > TND_WHERE_MAX) {
		snprintf(c->msg, c->msglen, "where is longer than %d bytes", TND_WHERE_MAX);
		return NULL;
	}
	if (len > 0 && (why = memchr(where, '\0', len)) != NULL) {
		snprintf(c->msg, c->msglen, "where is not valid JSON: a NUL byte at byte %zu",
			 (size_t)(why - where));
		return NULL;
	}
	if (!tnd_utf8_valid(where, len, &bad_at)) {
		snprintf(c->msg, c->msglen, "where is not valid UTF-8 (byte %zu)", bad_at);
		return NULL;
	}
	/* The tokener refuses depth >= its limit; the cap counts the top object as 1. */
	tok = json_tokener_new_ex(TND_WHERE_DEPTH_MAX + 1);
	if (!tok) {
		fail(c, TND_ENOMEM, "out of memory%s%s", NULL, NULL);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	obj = json_tokener_parse_ex(tok, where, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* A bare literal at the very end may go on; a NUL tells the tokener it is over. */
	if (!obj && err == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		end = len;
	}
	if (err == json_tokener_continue) {
		snprintf(c->msg, c->msglen, "where is not valid JSON: it ends too early (byte %zu)", len);
		goto bad;
	}
	if (err == json_tokener_error_depth) {
		snprintf(c->msg, c->msglen, "where is nested deeper than %d (byte %zu)",
			 TND_WHERE_DEPTH_MAX, end);
		goto bad;
	}
	if (err != json_tokener_success) {
		snprintf(c->msg, c->msglen, "where is not valid JSON: %s at byte %zu",
			 json_tokener_error_desc(err), end);
		goto bad;
	}
	if (end > len || !only_whitespace(where + end, len - end)) {
		snprintf(c->msg, c->msglen, "where is not valid JSON: unexpected data at byte %zu", end);
		goto bad;
	}
	if ((why = tnd_json_strict_scan(where, end, TND_WHERE_DEPTH_MAX, &too_deep)) != NULL) {
		if (too_deep)
			snprintf(c->msg, c->msglen, "where is nested deeper than %d", TND_WHERE_DEPTH_MAX);
		else
			snprintf(c->msg, c->msglen, "where is not valid JSON: %s", why);
		goto bad;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		snprintf(c->msg, c->msglen, "where must be a JSON object");
		goto bad;
	}
	if (!finite_numbers(obj)) {
		snprintf(c->msg, c->msglen, "where is not valid JSON: NaN or Infinity");
		goto bad;
	}
	json_tokener_free(tok);
	return obj;
bad:
	json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

void tnd_filter_free(struct tnd_filter *f)
{
	if (!f)
		return;
	json_object_put(f->root);
	free(f->nodes);
	free(f->paths);
	free(f);
}

/* Compiles f->root (set by the caller); frees f on failure. */
static int compile_root(struct compiler *c, struct tnd_filter *f, struct tnd_filter **out)
{
	if (!f->root || compile_where(c, f->root) < 0) {
		tnd_filter_free(f);
		return c->rc ? c->rc : TND_EINVAL;
	}
	/* The paths buffer no longer moves: turn offsets into pointers. */
	for (uint32_t i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].kind == NODE_TEST)
			f->nodes[i].seg = f->paths + f->nodes[i].path;
	*out = f;
	return 0;
}

static struct tnd_filter *filter_new(struct tnd_filter **out, char *msg, size_t msglen)
{
	struct tnd_filter *f;

	*out = NULL;
	if (msglen)
		msg[0] = '\0';
	f = calloc(1, sizeof(*f));
	if (!f)
		snprintf(msg, msglen, "out of memory");
	return f;
}

int tnd_filter_compile(const char *where, size_t len, struct tnd_filter **out, char *msg,
		       size_t msglen)
{
	struct compiler c = {.msg = msg, .msglen = msglen};
	struct tnd_filter *f = filter_new(out, msg, msglen);

	if (!f)
		return TND_ENOMEM;
	c.f = f;
	f->root = parse_where(&c, where, len);
	return compile_root(&c, f, out);
}

int tnd_filter_compile_object(struct json_object *where, struct tnd_filter **out, char *msg,
			      size_t msglen)
{
	struct compiler c = {.msg = msg, .msglen = msglen, .rc = TND_EINVAL};
	struct tnd_filter *f = filter_new(out, msg, msglen);

	if (!f)
		return TND_ENOMEM;
	c.f = f;
	if (!json_object_is_type(where, json_type_object)) {
		snprintf(msg, msglen, "where must be a JSON object");
		tnd_filter_free(f);
		return TND_EINVAL;
	}
	c.rc = 0;
	f->root = json_object_get(where);
	return compile_root(&c, f, out);
}
