/* Diagnostics on stderr. Warnings and notes go through here so that --quiet silences notes
 * (never warnings or errors) and tests can match a stable "xfer: warning: " prefix. */
#ifndef XFER_LOG_H
#define XFER_LOG_H

typedef enum { XFER_LOG_QUIET = 0, XFER_LOG_NORMAL = 1, XFER_LOG_VERBOSE = 2 } xfer_log_level;

void xfer_log_set_level(xfer_log_level level);
xfer_log_level xfer_log_get_level(void);
/* "xfer: warning: ..." — always printed. */
void xfer_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "xfer: ..." — printed unless quiet. */
void xfer_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* printed only when verbose. */
void xfer_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
