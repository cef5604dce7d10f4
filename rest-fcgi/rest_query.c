/*
 * rest_query: see rest_query.h.
 */
#include "rest_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rest_router.h"
#include "tnd_error.h"

int rest_where_compile(const char *raw, size_t len, struct tnd_filter **out, char *msg,
		       size_t msglen)
{
	char *text;
	int n, rc;

	*out = NULL;
	/* Decoding never grows; anything past the cap is refused by the compiler. */
	if (len > 3 * TND_WHERE_MAX + 3) {
		snprintf(msg, msglen, "where is longer than %d bytes", TND_WHERE_MAX);
		return TND_EINVAL;
	}
	text = malloc(len + 1);
	if (!text) {
		snprintf(msg, msglen, "out of memory");
		return TND_ENOMEM;
	}
	n = rest_form_decode(raw, len, text, len + 1);
	if (n < 0) {
		snprintf(msg, msglen, "where is not correctly percent-encoded");
		free(text);
		return TND_EINVAL;
	}
	rc = tnd_filter_compile(text, (size_t)n, out, msg, msglen);
	free(text);
	return rc;
}

int rest_fields_parse(const char *raw, size_t len, struct rest_fields *fs, char *msg,
		      size_t msglen)
{
	int n = rest_form_decode(raw, len, fs->text, sizeof(fs->text));
	char *p;

	fs->n = 0;
	if (n < 0) {
		snprintf(msg, msglen, "fields is not correctly percent-encoded or longer than %d bytes",
			 TND_FIELDS_TEXT_MAX);
		return -1;
	}
	if (memchr(fs->text, '\0', (size_t)n)) {
		snprintf(msg, msglen, "fields contains a NUL byte");
		return -1;
	}
	p = fs->text;
	for (;;) {
		size_t l = strcspn(p, ",");
		bool last = p[l] == '\0';

		p[l] = '\0';
		if (l == 0 || p[0] == '.' || p[l - 1] == '.' || strstr(p, "..")) {
			snprintf(msg, msglen, "fields: name %d is empty or has an empty part",
				 fs->n + 1);
			return -1;
		}
		if (fs->n == TND_FIELDS_MAX) {
			snprintf(msg, msglen, "fields names more than %d fields", TND_FIELDS_MAX);
			return -1;
		}
		fs->name[fs->n++] = p;
		if (last)
			break;
		p += l + 1;
	}
	return 0;
}

/* Copies doc's value at the dotted name into out, nesting as in doc. */
static int project_one(struct json_object *out, struct json_object *doc, const char *name)
{
	char seg[TND_FIELDS_TEXT_MAX + 1];
	struct json_object *src = doc, *dst = out, *v;
	const char *p = name;

	for (;;) {
		size_t l = strcspn(p, ".");
		bool last = p[l] == '\0';

		memcpy(seg, p, l);
		seg[l] = '\0';
		if (!json_object_is_type(src, json_type_object) ||
		    !json_object_object_get_ex(src, seg, &v))
			return 0; /* absent: left out */
		if (last) {
			if (json_object_object_add(dst, seg, json_object_get(v)) < 0) {
				json_object_put(v);
				return TND_ENOMEM;
			}
			return 0;
		}
		struct json_object *have;
		if (json_object_object_get_ex(dst, seg, &have)) {
			/* The whole value is in already (shared with doc): nothing to add. */
			if (have == v)
				return 0;
		} else {
			if (!json_object_is_type(v, json_type_object))
				return 0;
			have = json_object_new_object();
			if (!have || json_object_object_add(dst, seg, have) < 0) {
				json_object_put(have);
				return TND_ENOMEM;
			}
		}
		src = v;
		dst = have;
		p += l + 1;
	}
}

struct json_object *rest_fields_project(const struct rest_fields *fs, struct json_object *doc)
{
	struct json_object *out = json_object_new_object();

	if (!out)
		return NULL;
	if (project_one(out, doc, "id") < 0 || project_one(out, doc, "version") < 0)
		goto fail;
	for (int i = 0; i < fs->n; i++)
		if (project_one(out, doc, fs->name[i]) < 0)
			goto fail;
	return out;
fail:
	json_object_put(out);
	return NULL;
}

int rest_buf_add(struct rest_buf *b, const char *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return TND_ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

void rest_buf_free(struct rest_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
