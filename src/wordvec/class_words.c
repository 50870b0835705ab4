/* Class display names → words, and class-name files. */
#include "xfer/wordvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_sep(char c) {
    return c == ' ' || c == '\t' || c == '_' || c == '-' || c == '/';
}

void xfer_words_free(char **words, int n_words) {
    if (!words) return;
    for (int i = 0; i < n_words; i++)
        free(words[i]);
    free(words);
}

int xfer_class_name_words(const char *name, char ***words, int *n_words, xfer_err *err) {
    *words = NULL;
    *n_words = 0;
    /* ImageNet names list synonyms "a, b, c": the first is the common name. */
    size_t end = strcspn(name, ",");
    char **w = calloc(end / 2 + 1, sizeof *w);
    if (!w) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int n = 0;
    for (size_t i = 0; i < end;) {
        while (i < end && is_sep(name[i]))
            i++;
        size_t j = i;
        while (j < end && !is_sep(name[j]))
            j++;
        if (j > i) {
            w[n] = strndup(name + i, j - i);
            if (!w[n]) {
                xfer_words_free(w, n);
                return xfer_fail(err, XFER_EINTERNAL, "out of memory");
            }
            n++;
        }
        i = j;
    }
    if (n == 0) {
        free(w);
        return xfer_fail(err, XFER_EINPUT, "class name \"%s\" has no word", name);
    }
    *words = w;
    *n_words = n;
    return XFER_OK;
}

int xfer_class_names_read(const char *path, char ***names, int *n_names, xfer_err *err) {
    *names = NULL;
    *n_names = 0;
    FILE *f = fopen(path, "r");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open class-name file", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int n = 0, cap_names = 0, rc = XFER_OK;
    char **out = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        if (n == cap_names) {
            cap_names = cap_names ? 2 * cap_names : 64;
            char **bigger = realloc(out, (size_t)cap_names * sizeof *out);
            if (!bigger) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                break;
            }
            out = bigger;
        }
        if (!(out[n] = strdup(line))) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            break;
        }
        n++;
    }
    free(line);
    fclose(f);
    if (rc == XFER_OK && n == 0) rc = xfer_fail(err, XFER_EINPUT, "%s: no class names", path);
    if (rc != XFER_OK) {
        xfer_words_free(out, n);
        return rc;
    }
    *names = out;
    *n_names = n;
    return XFER_OK;
}
