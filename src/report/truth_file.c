/* A published-accuracy file (`xfer report --ground-truth FILE`): '#' comment lines, a header row
 * `dataset,<model>,<model>...`, then one row per dataset with a number per model
 * (configs/benchmark/benchmark-finetune-acc.csv; docs/results.md). Plain comma-separated cells,
 * no quoting; spaces around a cell are ignored. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/report.h"
#include "xfer/strset.h"

/* A line longer than this is not a line of such a table. */
#define TRUTH_MAX_LINE 65536
#define TRUTH_MAX_COLS 4096

/* Splits s at commas in place; returns the number of cells (at most cap; -1 beyond). */
static int split(char *s, char **cells, int cap) {
    int n = 0;
    for (;;) {
        char *c = strchr(s, ',');
        if (c) *c = 0;
        if (n == cap) return -1;
        cells[n++] = xfer_str_trim(s);
        if (!c) return n;
        s = c + 1;
    }
}

static char *dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void xfer_truth_free(xfer_truth *t) {
    if (!t) return;
    for (size_t k = 0; k < t->n_cols; k++)
        free(t->cols[k]);
    free(t->cols);
    free(t->acc);
    free(t->path);
    free(t->dataset);
    free(t->datasets);
    memset(t, 0, sizeof *t);
}

int xfer_truth_read(const char *path, const char *dataset, xfer_truth *t, xfer_err *err) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return xfer_fail(err, XFER_EINPUT, "%s: cannot open the ground-truth file: %s", path,
                         strerror(errno));
    char *line = malloc(TRUTH_MAX_LINE), **cells = malloc(TRUTH_MAX_COLS * sizeof *cells);
    size_t names_cap = 1024, names_len = 0;
    char *names = malloc(names_cap); /* the datasets seen, for the unknown-dataset message */
    int rc = XFER_OK, lineno = 0, found = 0;
    if (!line || !cells || !names) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
        goto done;
    }
    names[0] = 0;
    t->path = dup(path);
    t->dataset = dup(dataset);
    if (!t->path || !t->dataset) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
        goto done;
    }
    while (fgets(line, TRUTH_MAX_LINE, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == TRUTH_MAX_LINE - 1 && line[len - 1] != '\n') {
            rc = xfer_fail(err, XFER_EINPUT, "%s:%d: line longer than %d bytes", path, lineno,
                           TRUTH_MAX_LINE - 2);
            goto done;
        }
        char *s = xfer_str_trim(line);
        if (!*s || *s == '#') continue;
        int n = split(s, cells, TRUTH_MAX_COLS);
        if (n < 0) {
            rc = xfer_fail(err, XFER_EINPUT, "%s:%d: more than %d cells", path, lineno,
                           TRUTH_MAX_COLS);
            goto done;
        }
        if (!t->cols) { /* the header */
            if (n < 2) {
                rc = xfer_fail(err, XFER_EINPUT,
                               "%s:%d: header has %d cell(s) (expected dataset,<model>,<model>...)",
                               path, lineno, n);
                goto done;
            }
            t->cols = calloc((size_t)n - 1, sizeof *t->cols);
            t->acc = malloc(((size_t)n - 1) * sizeof *t->acc);
            if (!t->cols || !t->acc) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
                goto done;
            }
            for (int k = 1; k < n; k++) {
                if (!*cells[k]) {
                    rc = xfer_fail(err, XFER_EINPUT, "%s:%d: header cell %d is empty", path, lineno,
                                   k + 1);
                    goto done;
                }
                for (int j = 1; j < k; j++)
                    if (!strcmp(cells[j], cells[k])) {
                        rc = xfer_fail(err, XFER_EINPUT, "%s:%d: column '%s' appears twice", path,
                                       lineno, cells[k]);
                        goto done;
                    }
                if (!(t->cols[k - 1] = dup(cells[k]))) {
                    rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
                    goto done;
                }
                t->n_cols++;
            }
            continue;
        }
        if ((size_t)n != t->n_cols + 1) {
            rc = xfer_fail(err, XFER_EINPUT, "%s:%d: %d cells (expected %zu, as the header)", path,
                           lineno, n, t->n_cols + 1);
            goto done;
        }
        if (!*cells[0]) {
            rc = xfer_fail(err, XFER_EINPUT, "%s:%d: empty dataset name", path, lineno);
            goto done;
        }
        size_t need = names_len + strlen(cells[0]) + 3;
        if (need > names_cap) {
            char *bigger = realloc(names, need * 2);
            if (!bigger) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
                goto done;
            }
            names = bigger;
            names_cap = need * 2;
        }
        names_len += (size_t)sprintf(names + names_len, "%s%s", names_len ? ", " : "", cells[0]);
        int mine = !strcmp(cells[0], dataset);
        if (mine && found) {
            rc = xfer_fail(err, XFER_EINPUT, "%s:%d: dataset '%s' appears twice (first on line %d)",
                           path, lineno, dataset, found);
            goto done;
        }
        for (int k = 1; k < n; k++) {
            char *end;
            errno = 0;
            double v = strtod(cells[k], &end);
            if (!*cells[k] || *end || errno == ERANGE || !isfinite(v)) {
                rc = xfer_fail(err, XFER_EINPUT,
                               "%s:%d: %s, column '%s': '%s' is not a number (expected the "
                               "published accuracy)",
                               path, lineno, cells[0], t->cols[k - 1], cells[k]);
                goto done;
            }
            if (mine) t->acc[k - 1] = v;
        }
        if (mine) found = lineno;
    }
    if (ferror(f)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: read error", path);
        goto done;
    }
    if (!t->cols) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: no header row (expected dataset,<model>,<model>... after the '#' "
                       "comments)",
                       path);
        goto done;
    }
    if (!found) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: no dataset '%s' (the file has: %s)", path, dataset,
                       names_len ? names : "no rows");
        goto done;
    }
    t->datasets = names;
    names = NULL;
done:
    fclose(f);
    free(line);
    free(cells);
    free(names);
    if (rc) xfer_truth_free(t);
    return rc;
}
