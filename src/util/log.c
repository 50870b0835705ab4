#include "xfer/log.h"

#include <stdarg.h>
#include <stdio.h>

static xfer_log_level g_level = XFER_LOG_NORMAL;

void xfer_log_set_level(xfer_log_level level) {
    g_level = level;
}

xfer_log_level xfer_log_get_level(void) {
    return g_level;
}

static void vlog(const char *prefix, const char *fmt, va_list ap) {
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void xfer_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("xfer: warning: ", fmt, ap);
    va_end(ap);
}

void xfer_note(const char *fmt, ...) {
    if (g_level < XFER_LOG_NORMAL) return;
    va_list ap;
    va_start(ap, fmt);
    vlog("xfer: ", fmt, ap);
    va_end(ap);
}

void xfer_debug(const char *fmt, ...) {
    if (g_level < XFER_LOG_VERBOSE) return;
    va_list ap;
    va_start(ap, fmt);
    vlog("xfer: debug: ", fmt, ap);
    va_end(ap);
}
