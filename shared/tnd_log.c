/*
 * tnd_log: see tnd_log.h. One write(2) per line so that lines from
 * several threads never interleave.
 */
#include "tnd_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tnd_error.h"
#include "tnd_utf8.h"

/* Written once by tnd_log_init() before threads exist, read-only after. */
static const char *log_program = "tandem";
static enum tnd_log_level log_level = TND_LOG_INFO;
static enum tnd_log_format log_format = TND_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tnd_log_init(const char *program, enum tnd_log_level level)
{
	log_program = program;
	log_level = level;
}

void tnd_log_set_format(enum tnd_log_format format)
{
	log_format = format;
}

int tnd_log_format_parse(const char *name)
{
	if (strcmp(name, "text") == 0)
		return TND_LOG_TEXT;
	if (strcmp(name, "json") == 0)
		return TND_LOG_JSON;
	return -1;
}

/*
 * The message as a JSON string's contents. Text that is not UTF-8 (a
 * client's bytes quoted in a message) has each byte >= 0x80 written as
 * \u00XX, so the line stays valid JSON whatever was quoted.
 */
static size_t json_message(char *out, size_t size, const char *raw)
{
	size_t len = strlen(raw), o = 0;
	int n;

	if (tnd_utf8_valid(raw, len, NULL)) {
		n = tnd_json_escape(out, size, 0, raw, len);
		return n < 0 ? strlen(out) : (size_t)n;
	}
	out[0] = '\0';
	for (size_t i = 0; i < len && o + 7 < size; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c >= 0x80) {
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
		} else {
			n = tnd_json_escape(out, size, o, raw + i, 1);
			if (n < 0)
				break;
			o = (size_t)n;
		}
	}
	return o;
}

/* Control bytes escaped as \xNN, so a message cannot start a line of its own. */
static size_t text_message(char *out, size_t size, const char *raw)
{
	size_t o = 0;

	for (const char *p = raw; *p && o + 5 < size; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	return o;
}

int tnd_log_level_parse(const char *name)
{
	for (int i = 0; i <= TND_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void tnd_log(enum tnd_log_level level, const char *fmt, ...)
{
	char raw[TND_LOG_LINE_MAX];
	char line[TND_LOG_LINE_MAX + 64];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t o;
	int n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	o = log_format == TND_LOG_JSON ? (size_t)snprintf(line, sizeof(line), "{\"ts\":\"") : 0;
	o += strftime(line + o, sizeof(line) - o, "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_format == TND_LOG_JSON)
		n = snprintf(line + o, sizeof(line) - o,
			     ".%03ldZ\",\"program\":\"%s\",\"level\":\"%s\",\"msg\":\"",
			     ts.tv_nsec / 1000000L, log_program, level_names[level]);
	else
		n = snprintf(line + o, sizeof(line) - o, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L,
			     log_program, level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line) - o)
		return;
	o += (size_t)n;
	/* Room is kept for the closing "} and the newline. */
	if (log_format == TND_LOG_JSON) {
		o += json_message(line + o, sizeof(line) - o - 3, raw);
		line[o++] = '"';
		line[o++] = '}';
	} else {
		o += text_message(line + o, sizeof(line) - o - 1, raw);
	}
	line[o++] = '\n';
	/* A failed log write has nowhere to be reported; ignore it. */
	if (write(STDERR_FILENO, line, o) < 0)
		return;
}
