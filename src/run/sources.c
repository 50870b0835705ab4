/* Sources: weights from a file, random initialisation, or built by training from another source
 * (or from random) on another dataset — the paper's "ImageNet & Caltech-256" and "Caltech-256"
 * rows. A built source is written once to <outdir>/sources/<name>.safetensors (its best epoch) and
 * reused by later runs and by other shards; an exclusive lock on <name>.lock makes concurrent
 * shards build it once. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "run_internal.h"
#include "xfer/log.h"
#include "xfer/safetensors.h"
#include "xfer/wordvec.h"

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

char *run_source_chain(const run_ctx *c, const xfer_source_cfg *src) {
    if (!src->has_train)
        return xstrdup(src->weights && strcmp(src->weights, "random") != 0 ? src->name : "random");
    char *parent = NULL;
    const xfer_source_cfg *from =
        src->train_from ? xfer_config_source(c->cfg, src->train_from) : NULL;
    parent = from ? run_source_chain(c, from) : xstrdup("random");
    if (!parent) return NULL;
    size_t n = strlen(parent) + strlen(src->train_dataset) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s>%s", parent, src->train_dataset);
    free(parent);
    return s;
}

static int lock_file(const char *path, int *fd_out, xfer_err *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return xfer_fail(err, XFER_EINPUT, "%s: cannot open lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            xfer_note("waiting for another process building %s", path);
            if (flock(fd, LOCK_EX) == 0) goto ok;
        }
        if (errno != ENOLCK && errno != EOPNOTSUPP) {
            close(fd);
            return xfer_fail(err, XFER_EINPUT, "%s: cannot lock: %s", path, strerror(errno));
        }
        xfer_warn("%s: file locking unsupported here; shards may build this source twice", path);
    }
ok:
    *fd_out = fd;
    return XFER_OK;
}

/* Builds src (which has a train block) into final_path. */
static int build_source(run_ctx *c, const xfer_source_cfg *src, const char *final_path,
                        xfer_err *err) {
    char *parent = NULL;
    if (src->train_from) {
        const xfer_source_cfg *from = xfer_config_source(c->cfg, src->train_from);
        if (!from)
            return xfer_fail(err, XFER_EINPUT, "source %s: train.from names no source '%s'",
                             src->name, src->train_from);
        int rc = run_source_weights(c, from, &parent, err);
        if (rc != XFER_OK) return rc;
    }
    run_dataset *d = NULL;
    int rc = run_dataset_get(c, src->train_dataset, &d, err);
    xfer_model *m = NULL;
    if (rc == XFER_OK) {
        xfer_arch arch;
        rc = xfer_arch_parse(src->arch, &arch, err);
        xfer_model_config mc = {arch, d->set.n_classes, src->width, src->init_seed,
                                (float)src->train.dropout};
        if (rc == XFER_OK) rc = xfer_model_create(&mc, c->b, &m, err);
    }
    if (rc == XFER_OK && parent && parent[0]) {
        rc = xfer_model_load_weights(m, parent, err);
        if (rc == XFER_OK) xfer_model_reset_head(m);
    }
    char *last = run_path(c, "sources", src->name, ".last.safetensors");
    char *best = run_path(c, "sources", src->name, ".best.safetensors");
    char *what = malloc(strlen(src->name) + 16);
    if (rc == XFER_OK && (!last || !best || !what))
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK) {
        sprintf(what, "build %s", src->name);
        xfer_note("building source %s: %s on %s, %d epochs", src->name,
                  parent && parent[0] ? parent : "random init", src->train_dataset,
                  src->train.epochs);
        run_fit_spec spec = {what,
                             NULL,
                             &src->train,
                             d,
                             src->init_seed,
                             last,
                             best,
                             (const char *const *)d->set.class_names,
                             0,
                             0};
        run_fit_result fr;
        rc = run_fit(c, m, &spec, &fr, err);
        if (rc == XFER_OK && !run_file_exists(best))
            rc = xfer_fail(err, XFER_EFAILED, "source %s: no epoch was evaluated", src->name);
        if (rc == XFER_OK && rename(best, final_path) != 0)
            rc = xfer_fail(err, XFER_EINPUT, "%s: cannot write: %s", final_path, strerror(errno));
        if (rc == XFER_OK) {
            char *state = run_path(c, NULL, last, ".state");
            remove(last);
            if (state) remove(state);
            free(state);
            xfer_note("source %s built: best test accuracy %.4f at epoch %d -> %s", src->name,
                      fr.best_acc, fr.best_epoch, final_path);
        }
    }
    free(what);
    free(last);
    free(best);
    xfer_model_free(m);
    free(parent);
    return rc;
}

int run_source_weights(run_ctx *c, const xfer_source_cfg *src, char **path, xfer_err *err) {
    *path = NULL;
    if (!src->has_train) {
        const char *w = src->weights && strcmp(src->weights, "random") != 0 ? src->weights : "";
        if (w[0] && !run_file_exists(w))
            return xfer_fail(err, XFER_EINPUT, "source %s: weights file not found: %s", src->name,
                             w);
        *path = xstrdup(w);
        return *path ? XFER_OK : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    char *final_path = run_path(c, "sources", src->name, ".safetensors");
    char *lock_path = run_path(c, "sources", src->name, ".lock");
    char *dir = run_path(c, NULL, c->outdir, "/sources");
    int rc = (final_path && lock_path && dir) ? run_mkdirs(dir, err)
                                              : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int fd = -1;
    if (rc == XFER_OK && !run_file_exists(final_path)) {
        rc = lock_file(lock_path, &fd, err);
        if (rc == XFER_OK && !run_file_exists(final_path))
            rc = build_source(c, src, final_path, err);
        if (fd >= 0) close(fd);
    }
    if (rc == XFER_OK) {
        *path = final_path;
        final_path = NULL;
    }
    free(final_path);
    free(lock_path);
    free(dir);
    return rc;
}

/* Class names stored in a checkpoint's metadata (JSON array), or NULL. */
static char **names_from_meta(const char *json, int *n) {
    cJSON *a = cJSON_Parse(json);
    char **out = NULL;
    *n = 0;
    if (a && cJSON_IsArray(a)) {
        int k = cJSON_GetArraySize(a);
        out = calloc(k > 0 ? (size_t)k : 1, sizeof *out);
        for (int i = 0; out && i < k; i++) {
            cJSON *it = cJSON_GetArrayItem(a, i);
            out[i] = xstrdup(cJSON_IsString(it) ? it->valuestring : "");
        }
        if (out) *n = k;
    }
    cJSON_Delete(a);
    return out;
}

int run_source_model(run_ctx *c, const xfer_source_cfg *src, const char *weights, xfer_model **m,
                     char ***names, int *n_names, xfer_err *err) {
    *m = NULL;
    *names = NULL;
    *n_names = 0;
    xfer_arch arch;
    int rc = xfer_arch_parse(src->arch, &arch, err);
    if (rc != XFER_OK) return rc;
    int classes = -1;
    if (weights[0]) {
        xfer_safetensors st;
        rc = xfer_st_open(weights, &st, err);
        if (rc != XFER_OK) return xfer_err_prefix(err, "source %s: ", src->name);
        const xfer_st_tensor *h =
            xfer_st_find(&st, xfer_arch_head_weight(arch));
        if (h && h->ndim == 2) classes = (int)h->shape[0];
        const char *meta = xfer_st_meta(&st, XFER_CKPT_CLASS_NAMES);
        if (meta) *names = names_from_meta(meta, n_names);
        xfer_st_close(&st);
        if (classes < 1) {
            run_free_strings(*names, *n_names);
            *names = NULL;
            return xfer_fail(err, XFER_EINPUT, "source %s: %s has no %s tensor (is it a %s?)",
                             src->name, weights,
                             xfer_arch_head_weight(arch),
                             src->arch);
        }
    }
    if (src->classes && !*names) {
        rc = xfer_class_names_read(src->classes, names, n_names, err);
        if (rc != XFER_OK) return xfer_err_prefix(err, "source %s: ", src->name);
    }
    if (classes < 0) classes = *names ? *n_names : 1000; /* random: an ImageNet-sized head */
    if (*names && *n_names != classes) {
        rc = xfer_fail(err, XFER_EINPUT, "source %s: %d class names for a %d-class head (%s)",
                       src->name, *n_names, classes, src->classes ? src->classes : weights);
        run_free_strings(*names, *n_names);
        *names = NULL;
        *n_names = 0;
        return rc;
    }
    xfer_model_config mc = {arch, classes, src->width, src->init_seed, 0.5f};
    rc = xfer_model_create(&mc, c->b, m, err);
    if (rc == XFER_OK && weights[0]) rc = xfer_model_load_weights(*m, weights, err);
    if (rc != XFER_OK) {
        xfer_model_free(*m);
        *m = NULL;
        run_free_strings(*names, *n_names);
        *names = NULL;
        *n_names = 0;
        return xfer_err_prefix(err, "source %s: ", src->name);
    }
    return XFER_OK;
}
