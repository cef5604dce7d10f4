/*
 * tnd_log: see tnd_log.h. One write(2) per line so that lines from
 * several threads never interleave.
 */
#include "tnd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written once by tnd_log_init() before threads exist, read-only after. */
static const char *log_program = "tandem";
static enum tnd_log_level log_level = TND_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tnd_log_init(const char *program, enum tnd_log_level level)
{
	log_program = program;
	log_level = level;
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
	o = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + o, sizeof(line) - o, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000L,
		     log_program, level_names[level]);
	if (n < 0)
		return;
	o += (size_t)n;
	for (const char *p = raw; *p && o + 5 < sizeof(line); p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(line + o, sizeof(line) - o, "\\x%02x", c);
		} else {
			line[o++] = (char)c;
		}
	}
	line[o++] = '\n';
	/* A failed log write has nowhere to be reported; ignore it. */
	if (write(STDERR_FILENO, line, o) < 0)
		return;
}
