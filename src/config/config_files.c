/* Do the files a config names exist? `validate` warns, the commands that need them fail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config_node.h"
#include "xfer/log.h"

typedef struct {
    const xfer_config *cfg;
    bool strict;
    xfer_err *err;
    int n_missing;
} file_check;

/* Records one problem: a warning now, or a line of the error when strict. */
static void missing(file_check *fc, xfer_mark m, const char *key, const char *what,
                    const char *path) {
    char line[1400];
    snprintf(line, sizeof line, "%s:%d:%d: %s %s: %s", fc->cfg->path ? fc->cfg->path : "<config>",
             m.line, m.col, key, what, path);
    fc->n_missing++;
    if (fc->strict)
        xfer_err_append(fc->err, "%s", line);
    else
        xfer_warn("%s", line);
}

static void check(file_check *fc, const char *path, xfer_mark m, const char *key, bool want_dir) {
    if (!path) return;
    struct stat st;
    if (stat(path, &st) != 0) {
        missing(fc, m, key, errno == ENOENT ? "file not found" : strerror(errno), path);
        return;
    }
    bool is_dir = S_ISDIR(st.st_mode);
    if (want_dir && !is_dir)
        missing(fc, m, key, "is not a directory", path);
    else if (!want_dir && is_dir)
        missing(fc, m, key, "is a directory, not a file", path);
}

int xfer_config_check_files(const xfer_config *cfg, bool strict, xfer_err *err) {
    xfer_err_clear(err);
    file_check fc = {cfg, strict, err, 0};
    char key[CFG_WHERE_MAX];
    for (int i = 0; i < cfg->n_datasets; i++) {
        const xfer_dataset_cfg *d = &cfg->datasets[i];
        snprintf(key, sizeof key, "datasets.%s.root", d->name);
        check(&fc, d->root, d->root_mark, key, true);
        snprintf(key, sizeof key, "datasets.%s.list", d->name);
        check(&fc, d->list, d->list_mark, key, false);
        snprintf(key, sizeof key, "datasets.%s.images", d->name);
        check(&fc, d->images, d->images_mark, key, false);
        snprintf(key, sizeof key, "datasets.%s.labels", d->name);
        check(&fc, d->labels, d->labels_mark, key, false);
        snprintf(key, sizeof key, "datasets.%s.class_names", d->name);
        check(&fc, d->class_names_file, d->class_names_mark, key, false);
    }
    for (int i = 0; i < cfg->n_sources; i++) {
        const xfer_source_cfg *s = &cfg->sources[i];
        snprintf(key, sizeof key, "sources.%s.weights", s->name);
        if (s->weights && strcmp(s->weights, "random"))
            check(&fc, s->weights, s->weights_mark, key, false);
        snprintf(key, sizeof key, "sources.%s.classes", s->name);
        check(&fc, s->classes, s->classes_mark, key, false);
    }
    const xfer_wordvec_cfg *w = &cfg->word_vectors;
    if (w->present) {
        check(&fc, w->path, w->path_mark, "word_vectors.path", false);
        if (w->class_distance == XFER_CLASSDIST_WORDNET)
            check(&fc, w->wordnet_dir, w->wordnet_dir_mark.line ? w->wordnet_dir_mark : w->mark,
                  "word_vectors.wordnet_dir", true);
    }
    if (strict && fc.n_missing) {
        err->code = XFER_EINPUT;
        return XFER_EINPUT;
    }
    return XFER_OK;
}
