/*
 * ntf_msg: see ntf_msg.h.
 */
#include "ntf_msg.h"

#include <stdlib.h>
#include <string.h>

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
	m->seq = (struct tnd_seq){0, 0};
	m->doc_id_len = 0;
	m->doc_id[0] = '\0';
	m->owner = NULL;
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
		free(m);
	}
}
