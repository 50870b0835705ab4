/* Errors are values: a function that can fail returns an xfer status and fills an xfer_err with a
 * message that names the file, key, line:col, tensor or image concerned. Only main() exits. */
#ifndef XFER_ERROR_H
#define XFER_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* Exit statuses of the xfer command (documented in README.md). */
typedef enum {
    XFER_OK = 0,
    XFER_EINTERNAL = 1, /* a bug or an environment failure (out of memory, CUDA error) */
    XFER_EINPUT = 2,    /* bad input: config, files, options, data */
    XFER_ENOTIMPL = 3,  /* command or feature not implemented yet */
    XFER_EFAILED = 4,   /* xfer run: some sources failed (NaN loss ...), the others completed */
} xfer_status;

#define XFER_ERR_MSG_MAX 4096

typedef struct xfer_err {
    int code;                   /* an xfer_status; XFER_OK when no error */
    char msg[XFER_ERR_MSG_MAX]; /* human-readable, without a trailing newline */
} xfer_err;

/* Clears e (may be NULL). */
void xfer_err_clear(xfer_err *e);

/* Sets e->code and formats e->msg (printf-style); returns code so callers can
 * `return xfer_fail(err, XFER_EINPUT, "%s: ...", path);`. e may be NULL. */
int xfer_fail(xfer_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends context ("while loading X: ") to an existing message; returns e->code. */
int xfer_err_prefix(xfer_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a further line to the message (for reporting several problems at once). */
void xfer_err_append(xfer_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
