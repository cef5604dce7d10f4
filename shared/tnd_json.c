/*
 * tnd_json: see tnd_json.h. (Moved from rest-fcgi/rest_json.c so that the
 * where parser of tnd_filter applies the same rules.)
 */
#include "tnd_json.h"

#include <string.h>

/* An integer literal fits in int64 (negative) or uint64 (positive). */
static bool integer_fits(const char *s, size_t len)
{
	static const char max_u64[] = "18446744073709551615";
	static const char min_i64[] = "9223372036854775808";
	bool negative = s[0] == '-';
	const char *limit = negative ? min_i64 : max_u64;
	size_t limit_len = strlen(limit);

	if (negative) {
		s++;
		len--;
	}
	if (len != limit_len)
		return len < limit_len;
	return memcmp(s, limit, len) <= 0;
}

/* Length of an RFC 8259 number at p (0 when there is none). */
static size_t number_length(const char *p, size_t len)
{
	size_t i = 0;

	if (i < len && p[i] == '-')
		i++;
	if (i < len && p[i] == '0') {
		i++;
		if (i < len && p[i] >= '0' && p[i] <= '9')
			return 0; /* a leading zero: json-c reads "00" as two numbers' worth of 0 */
	} else if (i < len && p[i] >= '1' && p[i] <= '9') {
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < len && p[i] == '.') {
		size_t digits = ++i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == digits)
			return 0;
	}
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-'))
			i++;
		size_t digits = i;
		while (i < len && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == digits)
			return 0;
	}
	return i;
}

/* The value of four hex digits at p (the caller checked there are four), or -1. */
static long hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * A \u escape at p (p[0] is the backslash) must not leave half a surrogate
 * pair: json-c would store it as the bytes of an encoded surrogate, which is
 * not UTF-8, and a browser receiving it in a text frame drops the whole
 * connection. Returns how many bytes past the backslash the escape uses
 * (1 for any other escape), or 0 when it is a lone surrogate.
 */
static size_t escape_length(const char *p, size_t len)
{
	long cp;

	if (len < 2 || p[1] != 'u')
		return 1;
	if (len < 6 || (cp = hex4(p + 2)) < 0)
		return 1; /* the tokener has already refused a malformed escape */
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return 0;
	if (cp < 0xD800 || cp > 0xDBFF)
		return 5;
	if (len < 12 || p[6] != '\\' || p[7] != 'u')
		return 0;
	cp = hex4(p + 8);
	return cp >= 0xDC00 && cp <= 0xDFFF ? 11 : 0;
}

/* After a closing quote: whether a ':' follows (the string was a member name). */
static bool is_member_name_end(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i < len && p[i] == ':';
}

/*
 * json-c's strict mode still takes a few things RFC 8259 does not:
 * single-quoted names, raw control bytes inside strings, "1." - and it
 * clamps integers outside int64/uint64 to the nearest limit, which would
 * silently change a client's data. Its depth limit lets an empty
 * innermost container one level too deep through, and lone surrogate
 * escapes become bytes that are not UTF-8. Its tokener has checked
 * everything else, so this pass only tracks strings, escapes, number
 * tokens and nesting. Returns NULL, or the reason the text is not
 * acceptable (*too_deep set when nesting is the reason).
 */
const char *tnd_json_strict_scan(const char *p, size_t len, int depth_max, bool *too_deep)
{
	bool in_string = false, string_has_nul = false;
	int depth = 0;

	*too_deep = false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (in_string) {
			if ((unsigned char)c < 0x20)
				return "a control character inside a string";
			if (c == '\\') {
				size_t n = escape_length(p + i, len - i);
				if (n == 0)
					return "a \\u escape of half a surrogate pair";
				if (n == 5 && !memcmp(p + i + 1, "u0000", 5))
					string_has_nul = true;
				i += n;
			} else if (c == '"') {
				in_string = false;
				/* json-c keeps member names as C strings: a NUL would cut the name. */
				if (string_has_nul && is_member_name_end(p + i + 1, len - i - 1))
					return "a member name with a \\u0000 escape";
			}
			continue;
		}
		if (c == '"') {
			in_string = true;
			string_has_nul = false;
		} else if (c == '{' || c == '[') {
			if (++depth > depth_max) {
				*too_deep = true;
				return "nested too deep";
			}
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == '\'') {
			return "single quotes";
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t n = number_length(p + i, len - i);
			bool integer = n > 0 && !memchr(p + i, '.', n) && !memchr(p + i, 'e', n) &&
				       !memchr(p + i, 'E', n);
			if (n == 0)
				return "a malformed number";
			if (integer && !integer_fits(p + i, n))
				return "an integer outside the 64-bit range";
			i += n - 1;
		}
	}
	return NULL;
}
