/*
 * tnd_log: one-line logs on stderr, with a level, a UTC timestamp and the
 * program name; as text, or as one JSON object per line for journald and
 * Loki (TANDEM_LOG_FORMAT=json):
 *   {"ts":"2026-12-02T13:15:29.123Z","program":"tandem-rest","level":"warn","msg":"..."}
 * Lines are capped at TND_LOG_LINE_MAX bytes and control bytes are
 * escaped, so untrusted text cannot forge extra lines (or, in JSON, break
 * the object: bytes that are not UTF-8 become \u00XX).
 *
 * The level, format and program name are set once in main() before any
 * thread starts (tnd_log_init, tnd_log_set_format) and only read afterwards.
 */
#ifndef TND_LOG_H
#define TND_LOG_H

#include "tnd_limits.h"

enum tnd_log_level { TND_LOG_ERROR, TND_LOG_WARN, TND_LOG_INFO, TND_LOG_DEBUG };
enum tnd_log_format { TND_LOG_TEXT, TND_LOG_JSON };

/* Call once from main() before threads start. */
void tnd_log_init(const char *program, enum tnd_log_level level);
/* Parses "error" | "warn" | "info" | "debug"; -1 when unknown. */
int tnd_log_level_parse(const char *name);
/* Call once from main() before threads start; TND_LOG_TEXT until then. */
void tnd_log_set_format(enum tnd_log_format format);
/* Parses "text" | "json"; -1 when unknown. */
int tnd_log_format_parse(const char *name);

void tnd_log(enum tnd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define tnd_log_error(...) tnd_log(TND_LOG_ERROR, __VA_ARGS__)
#define tnd_log_warn(...) tnd_log(TND_LOG_WARN, __VA_ARGS__)
#define tnd_log_info(...) tnd_log(TND_LOG_INFO, __VA_ARGS__)
#define tnd_log_debug(...) tnd_log(TND_LOG_DEBUG, __VA_ARGS__)

#endif
