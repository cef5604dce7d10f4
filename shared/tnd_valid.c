/*
 * tnd_valid: see tnd_valid.h. Plain byte tests, no locale.
 */
#include "tnd_valid.h"

static bool is_lower_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool tnd_valid_collection(const char *s, size_t len)
{
	if (!s || len == 0 || len > TND_COLLECTION_MAX || !is_lower_digit(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_lower_digit(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool tnd_valid_doc_id(const char *s, size_t len)
{
	if (!s || len == 0 || len > TND_DOC_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_id_char(s[i]))
			return false;
	return true;
}

bool tnd_valid_owner(const char *s, size_t len)
{
	if (len == 0 || len > TND_SUB_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}
