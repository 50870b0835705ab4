#include "xfer/error.h"

#include <stdio.h>
#include <string.h>

void xfer_err_clear(xfer_err *e) {
    if (!e) return;
    e->code = XFER_OK;
    e->msg[0] = '\0';
}

int xfer_fail(xfer_err *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int xfer_err_prefix(xfer_err *e, const char *fmt, ...) {
    if (!e) return XFER_EINTERNAL;
    char head[1024], old[XFER_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t h = strlen(head), o = strlen(old);
    if (h > sizeof e->msg - 1) h = sizeof e->msg - 1;
    if (o > sizeof e->msg - 1 - h) o = sizeof e->msg - 1 - h;
    memcpy(e->msg, head, h);
    memcpy(e->msg + h, old, o);
    e->msg[h + o] = '\0';
    return e->code;
}

void xfer_err_append(xfer_err *e, const char *fmt, ...) {
    if (!e) return;
    size_t n = strlen(e->msg);
    if (n + 2 >= sizeof e->msg) return;
    if (n > 0) e->msg[n++] = '\n', e->msg[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    va_end(ap);
}
