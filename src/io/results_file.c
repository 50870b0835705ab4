/* The results writer handle: the OUTPUT.lock flock and copy-on-write transactions (OUTPUT.tmp is a
 * copy that is modified, closed, fsync'ed and renamed over OUTPUT), so OUTPUT is always a complete
 * HDF5 file whatever moment the process dies at. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_file.h"
#include "results_h5.h"
#include "results_internal.h"
#include "xfer/log.h"

struct xfer_results {
    char *path, *tmp;
    int lock_fd;
    hid_t file;   /* the open copy during a transaction, else -1 */
    int explicit; /* inside xfer_results_begin/commit */
    int durable;  /* fsync before rename (default 1) */
    int failed;   /* an operation failed inside the explicit transaction */
};

static char *concat(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    char *s = malloc(n + m + 1);
    if (s) {
        memcpy(s, a, n);
        memcpy(s + n, b, m + 1);
    }
    return s;
}

int rf_lock(const char *path, int *fd_out, xfer_err *err) {
    char *lp = concat(path, ".lock");
    if (!lp) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        int rc = xfer_fail(err, XFER_EINPUT, "%s: cannot create the lock file %s: %s", path, lp,
                           strerror(errno));
        free(lp);
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == ENOSYS || e == ENOLCK || e == EOPNOTSUPP) {
            /* e.g. Lustre mounted without -o flock: run unprotected rather than not at all */
            xfer_warn("%s: file locking is not supported here (%s): a second writer on this "
                      "output would not be refused",
                      lp, strerror(e));
            free(lp);
            *fd_out = fd;
            return XFER_OK;
        }
        close(fd);
        int rc = e == EWOULDBLOCK
                     ? xfer_fail(err, XFER_EINPUT,
                                 "%s: another xfer process is writing this results file (lock %s "
                                 "held); wait for it or choose another --output",
                                 path, lp)
                     : xfer_fail(err, XFER_EINPUT, "%s: cannot lock %s: %s", path, lp, strerror(e));
        free(lp);
        return rc;
    }
    free(lp);
    *fd_out = fd;
    return XFER_OK;
}

void rf_unlock(int fd) {
    if (fd >= 0) close(fd); /* closing the descriptor releases the flock */
}

static int copy_file(const char *from, const char *to, xfer_err *err) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int rc = xfer_fail(err, XFER_EINPUT, "%s: cannot create: %s", to, strerror(errno));
        close(in);
        return rc;
    }
    char buf[1 << 16];
    int rc = XFER_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = xfer_fail(err, XFER_EINPUT, "%s: read error: %s", from, strerror(errno));
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                rc = xfer_fail(err, XFER_EINPUT, "%s: write error: %s", to, strerror(errno));
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    close(in);
    if (close(out) < 0 && rc == XFER_OK)
        rc = xfer_fail(err, XFER_EINPUT, "%s: write error: %s", to, strerror(errno));
    if (rc) unlink(to);
    return rc;
}

hid_t rf_create_h5(const char *tmp) {
    rh5_silence();
    hid_t fapl = rh5_fapl();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    return f;
}

int rf_publish(hid_t f, const char *tmp, const char *path, int durable, xfer_err *err) {
    /* Close (writes all metadata), make the bytes durable, then atomically replace path. */
    if (H5Fclose(f) < 0) {
        unlink(tmp);
        return xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error closing %s", path, tmp);
    }
    int fd = durable ? open(tmp, O_RDONLY | O_CLOEXEC) : -2;
    if (fd == -1 || (fd >= 0 && fsync(fd) < 0)) {
        int rc = xfer_fail(err, XFER_EINPUT, "%s: cannot sync %s: %s", path, tmp, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
        return rc;
    }
    if (fd >= 0) close(fd);
    if (rename(tmp, path) < 0) {
        int rc = xfer_fail(err, XFER_EINPUT, "%s: cannot rename %s over it: %s", path, tmp,
                           strerror(errno));
        unlink(tmp);
        return rc;
    }
    /* the directory entry too (best effort: not every filesystem supports it) */
    char *dir = durable ? concat(path, "") : NULL;
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0';
        else
            strcpy(dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return XFER_OK;
}

static int txn_open(xfer_results *r, xfer_err *err) {
    if (r->file >= 0) return XFER_OK;
    int rc = copy_file(r->path, r->tmp, err);
    if (rc) return rc;
    rh5_silence();
    hid_t fapl = rh5_fapl();
    r->file = H5Fopen(r->tmp, H5F_ACC_RDWR, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (r->file < 0) {
        unlink(r->tmp);
        return xfer_fail(err, XFER_EINPUT, "%s: cannot open as HDF5 for writing (truncated?)",
                         r->path);
    }
    r->failed = 0;
    return XFER_OK;
}

static void txn_abort(xfer_results *r) {
    if (r->file >= 0) H5Fclose(r->file);
    r->file = -1;
    unlink(r->tmp);
}

static int txn_commit(xfer_results *r, xfer_err *err) {
    if (r->file < 0) return XFER_OK;
    if (r->failed) {
        txn_abort(r);
        return xfer_fail(err, XFER_EINTERNAL,
                         "%s: transaction not committed: an operation in it failed", r->path);
    }
    hid_t f = r->file;
    r->file = -1;
    return rf_publish(f, r->tmp, r->path, r->durable, err);
}

/* Ends an operation: in an explicit transaction remember a failure; otherwise commit or abort. */
static int txn_leave(xfer_results *r, int rc, xfer_err *err) {
    if (r->explicit) {
        if (rc) r->failed = 1;
        return rc;
    }
    if (rc) {
        txn_abort(r);
        return rc;
    }
    return txn_commit(r, err);
}

static xfer_results *handle_new(const char *path) {
    xfer_results *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->path = concat(path, "");
    r->tmp = concat(path, ".tmp");
    r->lock_fd = -1;
    r->file = -1;
    r->durable = 1;
    if (!r->path || !r->tmp) {
        free(r->path);
        free(r->tmp);
        free(r);
        return NULL;
    }
    return r;
}

static void handle_free(xfer_results *r) {
    rf_unlock(r->lock_fd);
    free(r->path);
    free(r->tmp);
    free(r);
}

int xfer_results_create(const char *path, const xfer_results_meta *meta, int overwrite,
                        xfer_results **out, xfer_err *err) {
    *out = NULL;
    xfer_results *r = handle_new(path);
    if (!r) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int rc = rf_lock(path, &r->lock_fd, err);
    struct stat st;
    if (rc == XFER_OK && !overwrite && stat(path, &st) == 0)
        rc =
            xfer_fail(err, XFER_EINPUT, "%s: already exists (resume it, or remove it first)", path);
    hid_t f = -1;
    if (rc == XFER_OK && (f = rf_create_h5(r->tmp)) < 0)
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot create %s", path, r->tmp);
    if (rc == XFER_OK) {
        rc = rw_root(f, meta, 0, path, err);
        if (rc) {
            H5Fclose(f);
            unlink(r->tmp);
        } else {
            rc = rf_publish(f, r->tmp, path, 1, err);
        }
    }
    if (rc) {
        handle_free(r);
        return rc;
    }
    *out = r;
    return XFER_OK;
}

int xfer_results_open(const char *path, xfer_results **out, xfer_err *err) {
    *out = NULL;
    xfer_results *r = handle_new(path);
    if (!r) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int rc = rf_lock(path, &r->lock_fd, err);
    hid_t f = -1;
    if (rc == XFER_OK) rc = rr_open(path, &f, err);
    if (rc == XFER_OK) {
        char *v = NULL;
        if (rh5_get_str(f, "xfer_version", &v) < 0)
            rc =
                xfer_fail(err, XFER_EINPUT, "%s: not an xfer results file (no xfer_version)", path);
        free(v);
        H5Fclose(f);
    }
    if (rc) {
        handle_free(r);
        return rc;
    }
    *out = r;
    return XFER_OK;
}

int xfer_results_close(xfer_results *r, xfer_err *err) {
    if (!r) return XFER_OK;
    int rc = txn_commit(r, err);
    handle_free(r);
    return rc;
}

int xfer_results_begin(xfer_results *r, xfer_err *err) {
    if (r->explicit)
        return xfer_fail(err, XFER_EINTERNAL, "%s: nested results transaction", r->path);
    int rc = txn_open(r, err);
    if (rc == XFER_OK) r->explicit = 1;
    return rc;
}

int xfer_results_commit(xfer_results *r, xfer_err *err) {
    r->explicit = 0;
    return txn_commit(r, err);
}

#define RESULTS_OP(call)                                                                           \
    do {                                                                                           \
        int rc_ = txn_open(r, err);                                                                \
        if (rc_) return rc_;                                                                       \
        rc_ = (call);                                                                              \
        return txn_leave(r, rc_, err);                                                             \
    } while (0)

int xfer_results_write_target(xfer_results *r, const xfer_results_target *t, xfer_err *err) {
    RESULTS_OP(rw_target(r->file, t, r->path, err));
}

int xfer_results_add_source(xfer_results *r, const xfer_results_source_info *s, xfer_err *err) {
    RESULTS_OP(rw_add_source(r->file, s, r->path, err));
}

int xfer_results_set_status(xfer_results *r, const char *source, xfer_src_status status,
                            const char *error, xfer_err *err) {
    RESULTS_OP(rw_status(r->file, source, status, error, r->path, err));
}

int xfer_results_write_score(xfer_results *r, const char *source, const char *metric, int direction,
                             double value, double seconds, const double *mean, xfer_err *err) {
    xfer_results_score s = {.metric = (char *)metric,
                            .value = value,
                            .seconds = seconds,
                            .mean = mean ? *mean : NAN,
                            .direction = direction};
    RESULTS_OP(rw_score(r->file, source, &s, r->path, err));
}

int xfer_results_write_score_full(xfer_results *r, const char *source, const xfer_results_score *s,
                                  xfer_err *err) {
    RESULTS_OP(rw_score(r->file, source, s, r->path, err));
}

int xfer_results_append_epoch(xfer_results *r, const char *source, const xfer_results_epoch *row,
                              xfer_err *err) {
    return xfer_results_append_epoch_at(r, source, 0, row, err);
}

int xfer_results_truncate_curve(xfer_results *r, const char *source, size_t n_epochs,
                                xfer_err *err) {
    return xfer_results_truncate_curve_at(r, source, 0, n_epochs, err);
}

int xfer_results_add_seed(xfer_results *r, const char *source, int index, int64_t seed,
                          xfer_err *err) {
    RESULTS_OP(rw_add_seed(r->file, source, index, seed, r->path, err));
}

int xfer_results_append_epoch_at(xfer_results *r, const char *source, int index,
                                 const xfer_results_epoch *row, xfer_err *err) {
    RESULTS_OP(rw_append(r->file, source, index, row, 1, r->path, err));
}

int xfer_results_truncate_curve_at(xfer_results *r, const char *source, int index, size_t n_epochs,
                                   xfer_err *err) {
    RESULTS_OP(rw_truncate(r->file, source, index, n_epochs, r->path, err));
}

int xfer_results_write_correlations(xfer_results *r, xfer_err *err) {
    RESULTS_OP(rw_correlations(r->file, r->path, err));
}

int xfer_results_write_prune(xfer_results *r, const xfer_results_prune *p, xfer_err *err) {
    RESULTS_OP(rw_prune(r->file, p, r->path, err));
}

int xfer_results_set_config(xfer_results *r, const char *config, xfer_err *err) {
    RESULTS_OP(rh5_set_str(r->file, "config", config) < 0
                   ? xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error writing the config", r->path)
                   : XFER_OK);
}

int xfer_results_set_complete(xfer_results *r, int complete, xfer_err *err) {
    RESULTS_OP(rw_complete(r->file, complete, r->path, err));
}

void xfer_results_set_durable(xfer_results *r, int durable) {
    r->durable = durable != 0;
}
