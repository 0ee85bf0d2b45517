/* Axon's stand-in for Criterion 2.4.1's <criterion/logging.h>: cr_log and
 * its three shorthands. The runner (test/runner/runner.c) shows warnings and
 * errors always and info lines only with --verbose, as Criterion does.
 * Thread-safe: each call is one write to the test's report file. */
#ifndef AX_CRITERION_LOGGING_H
#define AX_CRITERION_LOGGING_H

/* mingw's plain "printf" archetype means msvcrt's dialect (no %zu);
 * runner.c formats with mingw's C99 printf, so check against that. */
#if defined(__MINGW32__)
#define CRI_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#else
#define CRI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif

enum criterion_severity { CR_LOG_INFO, CR_LOG_WARNING, CR_LOG_ERROR };

/* msg is a printf format; nothing is kept after the call returns. */
void cr_log(enum criterion_severity severity, const char *msg, ...) CRI_PRINTF(2, 3);

#define cr_log_info(...)  cr_log(CR_LOG_INFO, __VA_ARGS__)
#define cr_log_warn(...)  cr_log(CR_LOG_WARNING, __VA_ARGS__)
#define cr_log_error(...) cr_log(CR_LOG_ERROR, __VA_ARGS__)

#endif
