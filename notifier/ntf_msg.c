/*
 * ntf_msg: see ntf_msg.h.
 */
#include "ntf_msg.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

struct ntf_msg *ntf_msg_new(size_t len)
{
	struct ntf_msg *m;

	if (len > UINT32_MAX - NTF_MSG_PRE - 1)
		return NULL;
	m = malloc(sizeof(*m) + NTF_MSG_PRE + len + 1);
	if (!m)
		return NULL;
	m->refs = 1;
	m->len = (uint32_t)len;
	m->is_event = false;
	m->ev_type = NTF_EV_NONE;
	m->seq = (struct tnd_seq){0, 0};
	m->doc_id_len = 0;
	m->doc_id[0] = '\0';
	m->owner = NULL;
	m->type_off = m->doc_off = 0;
	m->prev = NULL;
	m->prev_len = 0;
	m->docs_parsed = false;
	m->jdoc = m->jprev = NULL;
	m->buf[NTF_MSG_PRE + len] = '\0';
	return m;
}

struct ntf_msg *ntf_msg_dup(const char *s, size_t len)
{
	struct ntf_msg *m = ntf_msg_new(len);

	if (m)
		memcpy(ntf_msg_payload(m), s, len);
	return m;
}

struct ntf_msg *ntf_msg_ref(struct ntf_msg *m)
{
	m->refs++;
	return m;
}

void ntf_msg_unref(struct ntf_msg *m)
{
	if (m && --m->refs == 0) {
		free(m->owner);
		free(m->prev);
		json_object_put(m->jdoc);
		json_object_put(m->jprev);
		free(m);
	}
}

/* One JSON object from bytes (strict JSON written by tandem-rest), or NULL. */
static struct json_object *parse_object(const char *p, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len == 0 || len > INT32_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, p, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

void ntf_msg_docs(struct ntf_msg *m, struct json_object **doc, struct json_object **prev)
{
	if (!m->docs_parsed) {
		m->docs_parsed = true;
		/* The payload ends with the doc's '}' and the frame's '}'. */
		if (m->doc_off && m->len > m->doc_off + 8) {
			const char *d = ntf_msg_payload(m) + m->doc_off + strlen(",\"doc\":");

			m->jdoc = parse_object(d, (size_t)(ntf_msg_payload(m) + m->len - 1 - d));
		}
		if (m->prev)
			m->jprev = parse_object(m->prev, m->prev_len);
	}
	*doc = m->jdoc;
	*prev = m->jprev;
}
