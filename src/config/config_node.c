/* Problem collection and typed readers of libyaml nodes (see config_node.h). */
#include "config_node.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

xfer_mark cfg_mark(const yaml_node_t *n) {
    xfer_mark m = {0, 0};
    if (n) {
        m.line = (int)n->start_mark.line + 1;
        m.col = (int)n->start_mark.column + 1;
    }
    return m;
}

yaml_node_t *cfg_node(const cfg_ctx *c, int index) {
    return yaml_document_get_node(c->doc, index);
}

static void vproblem(cfg_ctx *c, xfer_mark m, const char *fmt, va_list ap) {
    if (c->n_probs >= CFG_MAX_PROBLEMS) {
        c->n_dropped++;
        return;
    }
    if (c->n_probs == c->cap_probs) {
        int cap = c->cap_probs ? 2 * c->cap_probs : 16;
        cfg_problem_rec *p = realloc(c->probs, (size_t)cap * sizeof *p);
        if (!p) {
            c->oom = true;
            return;
        }
        c->probs = p;
        c->cap_probs = cap;
    }
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *text = strdup(buf);
    if (!text) {
        c->oom = true;
        return;
    }
    c->probs[c->n_probs].mark = m;
    c->probs[c->n_probs].seq = c->n_probs;
    c->probs[c->n_probs].text = text;
    c->n_probs++;
}

void cfg_problem_at(cfg_ctx *c, xfer_mark m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vproblem(c, m, fmt, ap);
    va_end(ap);
}

void cfg_problem(cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vproblem(c, cfg_mark(n), fmt, ap);
    va_end(ap);
}

static int cmp_problem(const void *a, const void *b) {
    const cfg_problem_rec *x = a, *y = b;
    if (x->mark.line != y->mark.line) return x->mark.line < y->mark.line ? -1 : 1;
    if (x->mark.col != y->mark.col) return x->mark.col < y->mark.col ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void cfg_problems_to_err(cfg_ctx *c, xfer_err *err) {
    if (!err) return;
    qsort(c->probs, (size_t)c->n_probs, sizeof *c->probs, cmp_problem);
    xfer_err_clear(err);
    err->code = XFER_EINPUT;
    /* Keep room for a closing count line so a long list never ends mid-line unannounced. */
    const size_t reserve = 64;
    int shown = 0;
    for (int i = 0; i < c->n_probs; i++) {
        char line[1400];
        snprintf(line, sizeof line, "%s:%d:%d: %s", c->name, c->probs[i].mark.line,
                 c->probs[i].mark.col, c->probs[i].text);
        if (strlen(err->msg) + strlen(line) + 2 + reserve >= sizeof err->msg) break;
        xfer_err_append(err, "%s", line);
        shown++;
    }
    int more = c->n_probs - shown + c->n_dropped;
    if (more > 0) xfer_err_append(err, "%s: %d more problems not shown", c->name, more);
}

void cfg_ctx_free(cfg_ctx *c) {
    for (int i = 0; i < c->n_probs; i++)
        free(c->probs[i].text);
    free(c->probs);
    c->probs = NULL;
    c->n_probs = c->cap_probs = 0;
}

const char *cfg_quote(const char *s, char *buf, size_t size) {
    size_t n = 0;
    for (; s[n] && n < CFG_QUOTE_MAX && n + 4 < size; n++) {
        unsigned char ch = (unsigned char)s[n];
        buf[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[n]) {
        /* cut at a UTF-8 character boundary, then mark the cut */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        memcpy(buf + n, "...", 4);
    } else {
        buf[n] = '\0';
    }
    return buf;
}

bool cfg_is_null(const yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

const char *cfg_kind(const yaml_node_t *n) {
    if (!n) return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        return cfg_is_null(n) ? "null" : "a string";
    default:
        return "nothing";
    }
}

const char *cfg_scalar(const yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    return (const char *)n->data.scalar.value;
}

char *cfg_strdup(cfg_ctx *c, const char *s) {
    char *d = strdup(s);
    if (!d) c->oom = true;
    return d;
}

void cfg_join(char *out, size_t size, const char *where, const char *key) {
    char q[64];
    cfg_quote(key, q, sizeof q);
    if (where && where[0])
        snprintf(out, size, "%s.%s", where, q);
    else
        snprintf(out, size, "%s", q);
}

void cfg_index(char *out, size_t size, const char *where, int i) {
    snprintf(out, size, "%s[%d]", where, i);
}

static void list_keys(char *out, size_t size, const cfg_field *f, int n) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len + 2 < size; i++) {
        int w = snprintf(out + len, size - len, "%s%s", i ? ", " : "", f[i].key);
        if (w < 0) break;
        len += (size_t)w;
    }
}

bool cfg_fields(cfg_ctx *c, yaml_node_t *map, const char *where, cfg_field *fields, int n) {
    for (int i = 0; i < n; i++)
        fields[i].key_node = fields[i].val = NULL;
    if (cfg_is_null(map)) return true;
    if (!map || map->type != YAML_MAPPING_NODE) {
        cfg_problem(c, map, "wrong type for %s: got %s (expected a mapping)", where, cfg_kind(map));
        return false;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = cfg_node(c, p->key), *v = cfg_node(c, p->value);
        const char *ks = cfg_scalar(k);
        if (!ks) {
            cfg_problem(c, k, "a key in %s is %s (expected a key name)", where, cfg_kind(k));
            continue;
        }
        int hit = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(ks, fields[i].key)) hit = i;
        char q[64];
        if (hit < 0) {
            char keys[512];
            list_keys(keys, sizeof keys, fields, n);
            cfg_problem(c, k, "unknown key '%s' in %s (expected one of: %s)",
                        cfg_quote(ks, q, sizeof q), where[0] ? where : "the top level", keys);
        } else if (fields[hit].key_node) {
            xfer_mark first = cfg_mark(fields[hit].key_node);
            cfg_problem(c, k, "duplicate key '%s' in %s (first at %d:%d)", fields[hit].key,
                        where[0] ? where : "the top level", first.line, first.col);
        } else {
            fields[hit].key_node = k;
            fields[hit].val = v;
        }
    }
    return true;
}

bool cfg_require(cfg_ctx *c, const yaml_node_t *map, const char *where, const cfg_field *f) {
    if (f->val) return true;
    cfg_problem(c, map, "missing required key '%s' in %s", f->key,
                where[0] ? where : "the top level");
    return false;
}

/* A scalar that a number or boolean may be read from: plain style (a quoted "5" is a string). */
static const char *plain(cfg_ctx *c, const yaml_node_t *n, const char *what, const char *expect) {
    const char *s = cfg_scalar(n);
    if (!s || cfg_is_null(n) || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        cfg_problem(c, n, "wrong type for %s: got %s (expected %s)", what,
                    s && !cfg_is_null(n) ? "a quoted string" : cfg_kind(n), expect);
        return NULL;
    }
    return s;
}

bool cfg_string(cfg_ctx *c, const yaml_node_t *n, const char *what, char **out) {
    const char *s = cfg_scalar(n);
    if (!s || cfg_is_null(n)) {
        cfg_problem(c, n, "wrong type for %s: got %s (expected a string)", what, cfg_kind(n));
        return false;
    }
    if (!s[0]) {
        cfg_problem(c, n, "empty value for %s (expected a non-empty string)", what);
        return false;
    }
    if (strlen(s) != n->data.scalar.length) {
        cfg_problem(c, n, "bad value for %s: contains a NUL character (expected a string)", what);
        return false;
    }
    char *d = cfg_strdup(c, s);
    if (!d) return false;
    free(*out);
    *out = d;
    return true;
}

static void describe_int(char *buf, size_t size, long long lo, long long hi) {
    if (lo == 1 && hi >= INT_MAX)
        snprintf(buf, size, "a positive integer");
    else if (lo == 0 && hi >= INT_MAX)
        snprintf(buf, size, "a non-negative integer");
    else
        snprintf(buf, size, "an integer from %lld to %lld", lo, hi);
}

static bool is_int_text(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return false;
    return true;
}

bool cfg_int(cfg_ctx *c, const yaml_node_t *n, const char *what, long long lo, long long hi,
             int *out) {
    char expect[96], q[64];
    describe_int(expect, sizeof expect, lo, hi);
    const char *s = plain(c, n, what, expect);
    if (!s) return false;
    if (!is_int_text(s)) {
        cfg_problem(c, n, "bad value for %s: '%s' (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi || v < INT_MIN || v > INT_MAX) {
        cfg_problem(c, n, "%s out of range: %s (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    *out = (int)v;
    return true;
}

bool cfg_u64(cfg_ctx *c, const yaml_node_t *n, const char *what, uint64_t *out) {
    static const char expect[] = "an integer from 0 to 18446744073709551615";
    char q[64];
    const char *s = plain(c, n, what, expect);
    if (!s) return false;
    const char *d = s[0] == '+' ? s + 1 : s;
    if (!is_int_text(d) || d[0] == '-' || d[0] == '+') {
        cfg_problem(c, n, "bad value for %s: '%s' (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    errno = 0;
    unsigned long long v = strtoull(d, NULL, 10);
    if (errno == ERANGE) {
        cfg_problem(c, n, "%s out of range: %s (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

static void describe_range(char *buf, size_t size, cfg_range r) {
    if (isinf(r.lo) && isinf(r.hi))
        snprintf(buf, size, "a number");
    else if (isinf(r.hi))
        snprintf(buf, size, "a number %s %g", r.lo_open ? ">" : ">=", r.lo);
    else
        snprintf(buf, size, "a number in %c%g, %g%c", r.lo_open ? '(' : '[', r.lo, r.hi,
                 r.hi_open ? ')' : ']');
}

/* Decimal numbers only: strtod would also take "nan", "inf" and hex floats. */
static bool is_number_text(const char *s) {
    if (*s == '+' || *s == '-') s++;
    int digits = 0;
    while (isdigit((unsigned char)*s))
        s++, digits++;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s))
            s++, digits++;
    }
    if (!digits) return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

bool cfg_double(cfg_ctx *c, const yaml_node_t *n, const char *what, cfg_range r, double *out) {
    char expect[96], q[64];
    describe_range(expect, sizeof expect, r);
    const char *s = plain(c, n, what, expect);
    if (!s) return false;
    if (!is_number_text(s)) {
        cfg_problem(c, n, "bad value for %s: '%s' (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    double v = strtod(s, NULL);
    bool ok = isfinite(v) && (r.lo_open ? v > r.lo : v >= r.lo) &&
              (isinf(r.hi) || (r.hi_open ? v < r.hi : v <= r.hi));
    if (!ok) {
        cfg_problem(c, n, "%s out of range: %s (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    *out = v;
    return true;
}

bool cfg_bool(cfg_ctx *c, const yaml_node_t *n, const char *what, bool *out) {
    static const char expect[] = "true or false";
    char q[64];
    const char *s = plain(c, n, what, expect);
    if (!s) return false;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        *out = true;
    } else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        *out = false;
    } else {
        cfg_problem(c, n, "bad value for %s: '%s' (expected %s)", what, cfg_quote(s, q, sizeof q),
                    expect);
        return false;
    }
    return true;
}

bool cfg_enum(cfg_ctx *c, const yaml_node_t *n, const char *what, const char *const *names,
              int *out) {
    char expect[256];
    size_t len = 0;
    expect[0] = '\0';
    for (int i = 0; names[i] && len + 2 < sizeof expect; i++) {
        int w = snprintf(expect + len, sizeof expect - len, "%s%s", i ? " | " : "", names[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    const char *s = cfg_scalar(n);
    if (!s || cfg_is_null(n)) {
        cfg_problem(c, n, "wrong type for %s: got %s (expected %s)", what, cfg_kind(n), expect);
        return false;
    }
    for (int i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return true;
        }
    char q[64];
    cfg_problem(c, n, "bad value for %s: '%s' (expected %s)", what, cfg_quote(s, q, sizeof q),
                expect);
    return false;
}

void cfg_free_strings(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

bool cfg_string_list(cfg_ctx *c, const yaml_node_t *n, const char *what, char ***out, int *count) {
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        cfg_problem(c, n, "wrong type for %s: got %s (expected a list of strings)", what,
                    cfg_kind(n));
        return false;
    }
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = calloc(len ? (size_t)len : 1, sizeof *v);
    if (!v) {
        c->oom = true;
        return false;
    }
    bool ok = true;
    int k = 0;
    for (int i = 0; i < len; i++) {
        char item[CFG_WHERE_MAX];
        cfg_index(item, sizeof item, what, i);
        if (cfg_string(c, cfg_node(c, n->data.sequence.items.start[i]), item, &v[k]))
            k++;
        else
            ok = false;
    }
    if (!ok) {
        cfg_free_strings(v, k);
        return false;
    }
    cfg_free_strings(*out, *count);
    *out = v;
    *count = k;
    return true;
}

bool cfg_check_name(cfg_ctx *c, const yaml_node_t *n, const char *what, const char *name) {
    bool ok = name[0] && name[0] != '.';
    for (const char *p = name; *p && ok; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
    if (!ok) {
        char q[64];
        cfg_problem(c, n,
                    "bad name for %s: '%s' (expected letters, digits, '_', '-' and '.', not "
                    "starting with '.')",
                    what, cfg_quote(name, q, sizeof q));
    }
    return ok;
}
