#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/log.h"

xfer_cli_globals g_xfer_cli = {XFER_DEVICE_AUTO, 0, 0, 0};

int xfer_parse_device(const char *s, xfer_device_kind *out) {
    if (strcmp(s, "auto") == 0) *out = XFER_DEVICE_AUTO;
    else if (strcmp(s, "cpu") == 0) *out = XFER_DEVICE_CPU;
    else if (strcmp(s, "cuda") == 0) *out = XFER_DEVICE_CUDA;
    else return XFER_EINPUT;
    return XFER_OK;
}

static int set_value(const xfer_cmd_spec *spec, const xfer_opt *o, const char *val, xfer_err *err) {
    char *end = NULL;
    switch (o->kind) {
    case XFER_OPT_STRING:
        *(const char **)o->dest = val;
        return XFER_OK;
    case XFER_OPT_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < INT_MIN || v > INT_MAX)
            return xfer_fail(err, XFER_EINPUT, "%s: --%s: '%s' is not a whole number",
                             spec->command, o->name, val);
        *(int *)o->dest = (int)v;
        return XFER_OK;
    }
    case XFER_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(v))
            return xfer_fail(err, XFER_EINPUT, "%s: --%s: '%s' is not a finite number",
                             spec->command, o->name, val);
        *(double *)o->dest = v;
        return XFER_OK;
    }
    case XFER_OPT_FLAG:
        *(int *)o->dest = 1;
        return XFER_OK;
    }
    return XFER_EINTERNAL;
}

/* Handles the options every command shares; returns 1 if `name` was one of them. */
static int global_option(const char *cmd, const char *name, const char *val, int *used_next,
                         xfer_err *err, int *rc) {
    *rc = XFER_OK;
    if (strcmp(name, "quiet") == 0) {
        g_xfer_cli.quiet = 1;
        xfer_log_set_level(XFER_LOG_QUIET);
        return 1;
    }
    if (strcmp(name, "verbose") == 0) {
        g_xfer_cli.verbose = 1;
        xfer_log_set_level(XFER_LOG_VERBOSE);
        return 1;
    }
    if (strcmp(name, "device") == 0) {
        if (!val) {
            *rc = xfer_fail(err, XFER_EINPUT, "%s: --device needs a value (auto|cpu|cuda)", cmd);
            return 1;
        }
        *used_next = 1;
        if (xfer_parse_device(val, &g_xfer_cli.device) != XFER_OK)
            *rc = xfer_fail(err, XFER_EINPUT,
                            "%s: --device: '%s' is not one of auto, cpu, cuda", cmd, val);
        g_xfer_cli.device_set = 1;
        return 1;
    }
    return 0;
}

int xfer_opts_parse(const xfer_cmd_spec *spec, int argc, char **argv, const char **pos, int *npos,
                    xfer_err *err) {
    *npos = 0;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            xfer_opts_print_help(spec, stdout);
            return XFER_OPTS_HELP;
        }
        if (a[1] != '-')
            return xfer_fail(err, XFER_EINPUT, "%s: unknown option '%s' (see 'xfer %s --help')",
                             spec->command, a, spec->command);
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name)
            return xfer_fail(err, XFER_EINPUT, "%s: option too long: '%s'", spec->command, a);
        memcpy(name, a + 2, len);
        name[len] = '\0';
        const char *inline_val = eq ? eq + 1 : NULL;
        const char *next = inline_val ? inline_val : (i + 1 < argc ? argv[i + 1] : NULL);

        int used_next = 0, rc = XFER_OK;
        if (global_option(spec->command, name, next, &used_next, err, &rc)) {
            if (rc != XFER_OK) return rc;
            if (used_next && !inline_val) i++;
            continue;
        }
        const xfer_opt *o = NULL;
        for (int k = 0; k < spec->n_opts; k++)
            if (strcmp(spec->opts[k].name, name) == 0) o = &spec->opts[k];
        if (!o)
            return xfer_fail(err, XFER_EINPUT, "%s: unknown option '--%s' (see 'xfer %s --help')",
                             spec->command, name, spec->command);
        if (o->kind == XFER_OPT_FLAG) {
            if (inline_val)
                return xfer_fail(err, XFER_EINPUT, "%s: --%s takes no value", spec->command,
                                 name);
            *(int *)o->dest = 1;
            continue;
        }
        if (!next)
            return xfer_fail(err, XFER_EINPUT, "%s: --%s needs a value (%s)", spec->command, name,
                             o->metavar ? o->metavar : "VALUE");
        if (!inline_val) i++;
        rc = set_value(spec, o, next, err);
        if (rc != XFER_OK) return rc;
    }
    if (*npos < spec->min_pos)
        return xfer_fail(err, XFER_EINPUT, "%s: missing argument: usage: xfer %s %s",
                         spec->command, spec->command, spec->args ? spec->args : "");
    if (spec->max_pos >= 0 && *npos > spec->max_pos)
        return xfer_fail(err, XFER_EINPUT, "%s: unexpected argument '%s': usage: xfer %s %s",
                         spec->command, pos[spec->max_pos], spec->command,
                         spec->args ? spec->args : "");
    return XFER_OK;
}

void xfer_opts_print_help(const xfer_cmd_spec *spec, FILE *f) {
    fprintf(f, "usage: xfer %s [options] %s\n\n%s\n\noptions:\n", spec->command,
            spec->args ? spec->args : "", spec->summary);
    for (int k = 0; k < spec->n_opts; k++) {
        const xfer_opt *o = &spec->opts[k];
        char left[96];
        if (o->kind == XFER_OPT_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
    fprintf(f, "  %-28s %s\n", "--device auto|cpu|cuda",
            "backend (default auto: CUDA when a device is present)");
    fprintf(f, "  %-28s %s\n", "--quiet", "print warnings and errors only");
    fprintf(f, "  %-28s %s\n", "--verbose", "print debugging notes");
    fprintf(f, "  %-28s %s\n", "--help", "show this help");
    if (spec->details) fprintf(f, "\n%s\n", spec->details);
}
