/* xfer_prepare_dataset: list, decode on all cores while writing (prepare_pipe.c), write the HDF5
 * cache under a temporary name, rename. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "h5_strings.h"
#include "prepare_pipe.h"
#include "xfer/cache.h"
#include "xfer/data.h"
#include "xfer/image.h"
#include "xfer/log.h"

char *xfer_cache_path(const xfer_dataset_cfg *cfg, const char *output) {
    if (cfg->cache) return strdup(cfg->cache);
    const char *slash = output ? strrchr(output, '/') : NULL;
    size_t dl = slash ? (size_t)(slash - output) : 0;
    size_t len = dl + strlen(cfg->name) + 16;
    char *p = malloc(len);
    if (!p) return NULL;
    if (slash)
        snprintf(p, len, "%.*s/cache/%s.h5", (int)dl, output, cfg->name);
    else
        snprintf(p, len, "cache/%s.h5", cfg->name);
    return p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int mkdirs_for(const char *path, xfer_err *err) {
    char *p = strdup(path);
    if (!p) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            int rc = xfer_fail(err, XFER_EINPUT, "cannot create folder %s: %s", p, strerror(e));
            free(p);
            return rc;
        }
        *s = '/';
    }
    free(p);
    return XFER_OK;
}

static const char *kind_name(xfer_dataset_kind k) {
    return xfer_dataset_kind_name(k);
}

/* Everything that changes the cache's content besides the source files. */
static char *parameters_string(const xfer_dataset_cfg *cfg) {
    size_t cap = 4096;
    for (int i = 0; i < cfg->n_include; i++)
        cap += strlen(cfg->include[i]) + 2;
    for (int i = 0; i < cfg->n_exclude; i++)
        cap += strlen(cfg->exclude[i]) + 2;
    for (int i = 0; i < cfg->n_class_names; i++)
        cap += strlen(cfg->class_names[i]) + 2;
    char *s = malloc(cap);
    if (!s) return NULL;
    int k = snprintf(
        s, cap,
        "version=%d kind=%s cache_size=%d max_per_class=%d root=%s images=%s "
        "labels=%s class_names_file=%s synthetic=%d,%d,%d,%llu",
        XFER_CACHE_VERSION, kind_name(cfg->kind), cfg->cache_size, cfg->max_per_class,
        cfg->root ? cfg->root : "", cfg->images ? cfg->images : "", cfg->labels ? cfg->labels : "",
        cfg->class_names_file ? cfg->class_names_file : "", cfg->synthetic_classes,
        cfg->synthetic_per_class, cfg->synthetic_size, (unsigned long long)cfg->synthetic_seed);
    if (cfg->kind == XFER_DS_IMAGE_LIST) /* only here: the other kinds' caches stay valid */
        k += snprintf(s + k, cap - (size_t)k, " list=%s", cfg->list ? cfg->list : "");
    k += snprintf(s + k, cap - (size_t)k, " include=");
    for (int i = 0; i < cfg->n_include; i++)
        k += snprintf(s + k, cap - (size_t)k, "%s;", cfg->include[i]);
    k += snprintf(s + k, cap - (size_t)k, " exclude=");
    for (int i = 0; i < cfg->n_exclude; i++)
        k += snprintf(s + k, cap - (size_t)k, "%s;", cfg->exclude[i]);
    k += snprintf(s + k, cap - (size_t)k, " class_names=");
    for (int i = 0; i < cfg->n_class_names; i++)
        k += snprintf(s + k, cap - (size_t)k, "%s;", cfg->class_names[i]);
    return s;
}

/* What an existing cache says about itself. */
typedef struct {
    int n, bad, skipped;
    char **bad_paths, **bad_msgs; /* [bad]: the images skipped when it was made, and why */
} cache_info;

static void free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void cache_info_free(cache_info *ci) {
    free_strings(ci->bad_paths, ci->bad);
    free_strings(ci->bad_msgs, ci->bad);
    memset(ci, 0, sizeof *ci);
}

/* 1 when the file at path is a complete cache with these parameters and fingerprint (and, when
 * it skipped bad images, their list); fills ci then. */
static int cache_is_valid(const char *path, const char *params, const char *fp, cache_info *ci,
                          const char **why) {
    struct stat st;
    *why = NULL;
    memset(ci, 0, sizeof *ci);
    if (stat(path, &st) != 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        *why = "not a readable HDF5 file";
        return 0;
    }
    long long ver = 0, nb = 0, ns = 0;
    char *p = xfer_h5_get_attr_str(f, "parameters");
    char *g = xfer_h5_get_attr_str(f, "fingerprint");
    int ok = xfer_h5_get_attr_int(f, "xfer_cache_version", &ver) == 0 && ver == XFER_CACHE_VERSION;
    if (!ok) *why = "another cache format version";
    if (ok && (!p || strcmp(p, params) != 0)) ok = 0, *why = "parameters changed";
    if (ok && (!g || strcmp(g, fp) != 0)) ok = 0, *why = "source files changed";
    if (ok) {
        hid_t d = H5Dopen2(f, "labels", H5P_DEFAULT);
        if (d < 0) {
            ok = 0, *why = "incomplete";
        } else {
            hid_t sp = H5Dget_space(d);
            hsize_t dims[1] = {0};
            H5Sget_simple_extent_dims(sp, dims, NULL);
            ci->n = (int)dims[0];
            H5Sclose(sp);
            H5Dclose(d);
        }
        xfer_h5_get_attr_int(f, "n_bad", &nb);
        xfer_h5_get_attr_int(f, "n_skipped", &ns);
        ci->skipped = (int)ns;
    }
    if (ok && nb > 0) {
        int np = 0, nm = 0;
        int r1 = xfer_h5_read_strings(f, "bad_paths", &ci->bad_paths, &np);
        int r2 = xfer_h5_read_strings(f, "bad_images", &ci->bad_msgs, &nm);
        ci->bad = np < nm ? np : nm;
        if (r1 != 0 || r2 != 0 || np != nb || nm != nb)
            ok = 0, *why = "no list of the bad images it skipped";
    }
    if (!ok) cache_info_free(ci);
    free(p);
    free(g);
    H5Fclose(f);
    return ok;
}

/* A cache made under on_bad_image: warn that skipped images, asked for under error: decodes the
 * images it skipped again. XFER_OK when all of them decode now (the cache is then rebuilt), else
 * XFER_EINPUT naming the first that still fails; the cache is left as it is either way. */
static int recheck_bad_images(const xfer_dataset_cfg *cfg, const char *cache_path,
                              const cache_info *ci, int S, xfer_err *err) {
    for (int i = 0; i < ci->bad; i++) {
        xfer_rgb img = {0};
        xfer_err e;
        xfer_err_clear(&e);
        int rc = cfg->kind == XFER_DS_IMAGE_FOLDER || cfg->kind == XFER_DS_IMAGE_LIST
                     ? xfer_image_decode_file(ci->bad_paths[i], S, &img, &e)
                     : xfer_fail(&e, XFER_EINPUT, "%s", ci->bad_msgs[i]);
        xfer_rgb_free(&img);
        if (rc == XFER_EINTERNAL) return xfer_fail(err, rc, "%s", e.msg);
        if (rc != XFER_OK)
            return xfer_fail(err, XFER_EINPUT,
                             "%s (on_bad_image: error; the cache %s, made under on_bad_image: "
                             "warn, skipped it and is left as it is)",
                             e.msg, cache_path);
    }
    return XFER_OK;
}

int xfer_prepare_dataset(const xfer_dataset_cfg *cfg, const char *cache_path,
                         const xfer_prepare_opts *opts, xfer_prepare_result *res, xfer_err *err) {
    memset(res, 0, sizeof *res);
    xfer_prepare_opts o = opts ? *opts : (xfer_prepare_opts){-1, 0, 0};
    int S = cfg->cache_size > 0 ? cfg->cache_size : 256;
    xfer_dataset ds;
    int rc = xfer_dataset_scan(cfg, &ds, err);
    if (rc != XFER_OK) return rc;
    char *params = parameters_string(cfg);
    char *tmp = NULL;
    int32_t *labels = NULL;
    int8_t *split = NULL;
    char **paths = NULL, **bad_paths = NULL, **bad_msgs = NULL;
    hid_t f = -1, dimg = -1;
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!params) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    const char *why = o.force ? "--force" : NULL;
    cache_info ci;
    if (!o.force && cache_is_valid(cache_path, params, ds.fingerprint, &ci, &why)) {
        if (ci.bad > 0 && cfg->on_bad_image == XFER_BAD_IMAGE_ERROR) {
            rc = recheck_bad_images(cfg, cache_path, &ci, S, err);
            cache_info_free(&ci);
            if (rc != XFER_OK) goto done;
            why = "the bad images it skipped decode now";
        } else {
            res->reused = 1;
            res->n_images = ci.n;
            res->n_bad = ci.bad;
            res->n_skipped = ci.skipped;
            xfer_note("dataset %s: reusing cache %s (%d images)", cfg->name, cache_path, ci.n);
            for (int i = 0; i < ci.bad; i++)
                xfer_warn("dataset %s: the cache skipped %s", cfg->name, ci.bad_msgs[i]);
            cache_info_free(&ci);
            goto done;
        }
    }
    if (why) xfer_note("dataset %s: rebuilding cache %s (%s)", cfg->name, cache_path, why);
    rc = mkdirs_for(cache_path, err);
    if (rc != XFER_OK) goto done;
    size_t tl = strlen(cache_path) + 32;
    tmp = malloc(tl);
    labels = malloc((size_t)(ds.n ? ds.n : 1) * sizeof *labels);
    paths = malloc((size_t)(ds.n ? ds.n : 1) * sizeof *paths);
    bad_paths = malloc((size_t)(ds.n ? ds.n : 1) * sizeof *bad_paths);
    bad_msgs = calloc((size_t)(ds.n ? ds.n : 1), sizeof *bad_msgs);
    if (ds.split) split = malloc((size_t)(ds.n ? ds.n : 1));
    if (!tmp || !labels || !paths || !bad_paths || !bad_msgs || (ds.split && !split)) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    snprintf(tmp, tl, "%s.tmp-%ld", cache_path, (long)getpid());
    f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "cannot create cache file %s", tmp);
        goto done;
    }
    hsize_t dims[4] = {(hsize_t)ds.n, (hsize_t)S, (hsize_t)S, 3};
    hsize_t chunk[4] = {1, (hsize_t)S, (hsize_t)S, 3};
    hid_t sp = H5Screate_simple(4, dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (ds.n > 0) H5Pset_chunk(pl, 4, chunk);
    dimg = H5Dcreate2(f, "images", H5T_STD_U8LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    if (dimg < 0) {
        rc = xfer_fail(err, XFER_EINTERNAL, "cannot create /images in %s", tmp);
        goto done;
    }
    int show_bar = o.progress == 1 || (o.progress < 0 && isatty(2));
#ifdef _OPENMP
    if (o.threads > 0) omp_set_num_threads(o.threads);
#endif
    double t0 = now_s();
    xfer_prepare_pipe pipe = {.ds = &ds,
                              .cfg = cfg,
                              .S = S,
                              .dimg = dimg,
                              .where = tmp,
                              .show_bar = show_bar,
                              .labels = labels,
                              .paths = paths,
                              .split = split,
                              .bad_paths = bad_paths,
                              .bad_msgs = bad_msgs};
    rc = xfer_prepare_pipe_run(&pipe, err);
    res->n_bad = pipe.n_bad;
    if (rc != XFER_OK) goto done;
    int n_good = pipe.n_good;
    if (n_good == 0) {
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: no image could be decoded", cfg->name);
        goto done;
    }
    if (n_good < ds.n) {
        /* shrink the chunked dataset to the images kept */
        hsize_t nd[4] = {(hsize_t)n_good, (hsize_t)S, (hsize_t)S, 3};
        if (H5Dset_extent(dimg, nd) < 0) {
            rc = xfer_fail(err, XFER_EINTERNAL, "resizing /images of %s failed", tmp);
            goto done;
        }
    }
    {
        hsize_t ld[1] = {(hsize_t)n_good};
        hid_t ls = H5Screate_simple(1, ld, NULL);
        hid_t dl =
            H5Dcreate2(f, "labels", H5T_STD_I32LE, ls, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        herr_t w =
            dl >= 0 ? H5Dwrite(dl, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels) : -1;
        if (dl >= 0) H5Dclose(dl);
        H5Sclose(ls);
        int bad = w < 0;
        bad |= xfer_h5_write_strings(f, "paths", paths, n_good) != 0;
        if (split) { /* image_list's split column: 0 train, 1 test */
            hid_t ss = H5Screate_simple(1, ld, NULL);
            hid_t dsp =
                H5Dcreate2(f, "split", H5T_STD_I8LE, ss, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            bad |=
                dsp < 0 || H5Dwrite(dsp, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, split) < 0;
            if (dsp >= 0) H5Dclose(dsp);
            H5Sclose(ss);
        }
        bad |= xfer_h5_write_strings(f, "class_names", ds.class_names, ds.n_classes) != 0;
        bad |= xfer_h5_write_strings(f, "bad_paths", bad_paths, res->n_bad) != 0;
        bad |= xfer_h5_write_strings(f, "bad_images", bad_msgs, res->n_bad) != 0;
        bad |= xfer_h5_attr_int(f, "xfer_cache_version", XFER_CACHE_VERSION) != 0;
        bad |= xfer_h5_attr_str(f, "dataset", cfg->name) != 0;
        bad |= xfer_h5_attr_str(f, "kind", kind_name(cfg->kind)) != 0;
        bad |= xfer_h5_attr_int(f, "cache_size", S) != 0;
        bad |= xfer_h5_attr_str(f, "parameters", params) != 0;
        bad |= xfer_h5_attr_str(f, "fingerprint", ds.fingerprint) != 0;
        bad |= xfer_h5_attr_int(f, "n_bad", res->n_bad) != 0;
        bad |= xfer_h5_attr_int(f, "n_skipped", ds.n_skipped) != 0;
        bad |= xfer_h5_attr_int(f, "n_listed", ds.n) != 0;
        if (bad) {
            rc = xfer_fail(err, XFER_EINTERNAL, "writing %s failed (disk full?)", tmp);
            goto done;
        }
    }
    H5Dclose(dimg);
    dimg = -1;
    herr_t cl = H5Fclose(f);
    f = -1;
    if (cl < 0) {
        rc = xfer_fail(err, XFER_EINTERNAL, "closing %s failed (disk full?)", tmp);
        goto done;
    }
    if (rename(tmp, cache_path) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "cannot rename %s to %s: %s", tmp, cache_path,
                       strerror(errno));
        goto done;
    }
    res->seconds = now_s() - t0;
    res->n_images = n_good;
    res->n_skipped = ds.n_skipped;
    res->images_per_s = res->seconds > 0 ? ds.n / res->seconds : 0;
    xfer_note("prepared %s: %d images (%d bad, %d skipped files) in %.2f s, %.0f images/s -> %s",
              cfg->name, n_good, res->n_bad, ds.n_skipped, res->seconds, res->images_per_s,
              cache_path);
done:
    if (dimg >= 0) H5Dclose(dimg);
    if (f >= 0) H5Fclose(f);
    if (rc != XFER_OK && tmp) unlink(tmp);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    free(tmp);
    free(labels);
    free(split);
    free(paths);
    free(bad_paths);
    free_strings(bad_msgs, ds.n);
    free(params);
    xfer_dataset_free(&ds);
    return rc;
}
