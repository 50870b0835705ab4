/* Reads the input file of `xfer metrics` (layout in include/xfer/metrics.h, docs/metrics.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "scores_internal.h"

/* Target classes derived from the largest label: at most this many. */
#define XFER_METRIC_FILE_MAX_CLASSES (1 << 20)

static void free_strings(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

void xfer_metric_file_free(xfer_metric_file *f) {
    xfer_metric_cache_free(f->in.cache);
    free(f->features);
    free(f->probs);
    free(f->distance);
    free(f->embedding);
    free(f->labels);
    free_strings(f->source_classes, f->n_source_classes);
    free_strings(f->target_classes, f->n_target_classes);
    memset(f, 0, sizeof *f);
}

static int exists(hid_t file, const char *name) {
    return H5Lexists(file, name, H5P_DEFAULT) > 0;
}

/* An optional scalar baseline (`params`, `prior`): one finite number. */
static int read_baseline(hid_t file, const char *path, const char *name, double *out, int *has,
                         xfer_err *err) {
    *has = 0;
    if (!exists(file, name)) return XFER_OK;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    hid_t sp = ds < 0 ? -1 : H5Dget_space(ds), ty = ds < 0 ? -1 : H5Dget_type(ds);
    int ok = sp >= 0 && ty >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
             (H5Tget_class(ty) == H5T_FLOAT || H5Tget_class(ty) == H5T_INTEGER) &&
             H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0 &&
             isfinite(*out);
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (!ok)
        return xfer_fail(err, XFER_EINPUT, "%s: dataset '%s' is not one finite number", path, name);
    *has = 1;
    return XFER_OK;
}

/* Reads a dataset of rank `rank` (1 or 2) as native type mem; dims[0..rank-1] out. */
static int read_numeric(hid_t file, const char *path, const char *name, int rank, int want_int,
                        hsize_t *dims, void **out, xfer_err *err) {
    *out = NULL;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open dataset '%s'", path, name);
    hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
    int rc = XFER_OK;
    int r = H5Sget_simple_extent_ndims(sp);
    H5T_class_t cls = H5Tget_class(ty);
    if (r != rank) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: dataset '%s' has rank %d (expected %d)", path, name,
                       r, rank);
        goto done;
    }
    if (want_int ? cls != H5T_INTEGER : (cls != H5T_FLOAT && cls != H5T_INTEGER)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: dataset '%s' is not %s", path, name,
                       want_int ? "integer" : "numeric");
        goto done;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= dims[i];
    if (count == 0 || count > ((size_t)1 << 34)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: dataset '%s' has %zu elements", path, name, count);
        goto done;
    }
    void *buf = malloc(count * (want_int ? sizeof(int) : sizeof(double)));
    if (!buf) {
        rc = XFER_OOM(err);
        goto done;
    }
    if (H5Dread(ds, want_int ? H5T_NATIVE_INT : H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                buf) < 0) {
        free(buf);
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read dataset '%s' (values out of range?)",
                       path, name);
        goto done;
    }
    *out = buf;
done:
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int read_strings(hid_t file, const char *path, const char *name, char ***out, int *n,
                        xfer_err *err) {
    *out = NULL;
    *n = 0;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    if (ds < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open dataset '%s'", path, name);
    hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds), mt = -1;
    int rc = XFER_OK;
    hsize_t dims[1] = {0};
    if (H5Tget_class(ty) != H5T_STRING || H5Sget_simple_extent_ndims(sp) != 1) {
        rc =
            xfer_fail(err, XFER_EINPUT, "%s: dataset '%s' is not a 1-D string dataset", path, name);
        goto done;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    int cnt = (int)dims[0];
    char **s = calloc(cnt ? (size_t)cnt : 1, sizeof *s);
    if (!s) {
        rc = XFER_OOM(err);
        goto done;
    }
    mt = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mt, H5Tget_cset(ty)); /* h5py writes UTF-8; ASCII<->UTF-8 does not convert */
    if (H5Tis_variable_str(ty) > 0) {
        char **v = calloc(cnt ? (size_t)cnt : 1, sizeof *v);
        H5Tset_size(mt, H5T_VARIABLE);
        if (!v || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
            free(v);
            free(s);
            rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read strings '%s'", path, name);
            goto done;
        }
        for (int i = 0; i < cnt; i++)
            s[i] = strdup(v[i] ? v[i] : "");
        H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        free(v);
    } else {
        size_t sz = H5Tget_size(ty);
        char *buf = malloc((size_t)cnt * (sz + 1) + 1);
        H5Tset_size(mt, sz + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        if (!buf || H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            free(buf);
            free(s);
            rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read strings '%s'", path, name);
            goto done;
        }
        for (int i = 0; i < cnt; i++)
            s[i] = strdup(buf + (size_t)i * (sz + 1));
        free(buf);
    }
    for (int i = 0; i < cnt; i++)
        if (!s[i]) {
            free_strings(s, cnt);
            rc = XFER_OOM(err);
            goto done;
        }
    *out = s;
    *n = cnt;
done:
    if (mt >= 0) H5Tclose(mt);
    H5Tclose(ty);
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

int xfer_metric_file_load(const char *path, xfer_metric_file *f, xfer_err *err) {
    memset(f, 0, sizeof *f);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open as an HDF5 file", path);
    xfer_metric_input *in = &f->in;
    hsize_t dims[2];
    int rc = XFER_OK, n = -1;
    const char *n_from = NULL;
    if (!exists(file, "labels")) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: no 'labels' dataset (integers [N])", path);
        goto done;
    }
    if ((rc = read_numeric(file, path, "labels", 1, 1, dims, (void **)&f->labels, err))) goto done;
    n = (int)dims[0];
    n_from = "labels";
    if (exists(file, "features")) {
        if ((rc = read_numeric(file, path, "features", 2, 0, dims, (void **)&f->features, err)))
            goto done;
        if ((int)dims[0] != n) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: 'features' has %d rows but '%s' has %d", path,
                           (int)dims[0], n_from, n);
            goto done;
        }
        in->d = (int)dims[1];
        in->features = f->features;
    }
    const char *pname = exists(file, "probs") ? "probs" : exists(file, "logits") ? "logits" : NULL;
    if (pname) {
        if ((rc = read_numeric(file, path, pname, 2, 0, dims, (void **)&f->probs, err))) goto done;
        if ((int)dims[0] != n) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: '%s' has %d rows but '%s' has %d", path, pname,
                           (int)dims[0], n_from, n);
            goto done;
        }
        in->cs = (int)dims[1];
        in->probs = f->probs;
        if (strcmp(pname, "logits") == 0) {
            /* Non-finite logits are reported by the input check, before softmax hides them. */
            int finite = 1;
            for (size_t q = 0; q < (size_t)n * in->cs; q++)
                if (!(f->probs[q] - f->probs[q] == 0)) {
                    rc = xfer_fail(err, XFER_EINPUT, "%s: logits[%zu,%zu] is not finite", path,
                                   q / in->cs, q % in->cs);
                    finite = 0;
                    break;
                }
            if (!finite) goto done;
            xfer_softmax_rows(f->probs, n, in->cs, f->probs);
        }
    }
    int ct_dist = 0, ct_emb = 0;
    if (exists(file, "ground_distance")) {
        if ((rc = read_numeric(file, path, "ground_distance", 2, 0, dims, (void **)&f->distance,
                               err)))
            goto done;
        if (in->probs && (int)dims[0] != in->cs) {
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: 'ground_distance' has %d rows but '%s' has %d source classes", path,
                           (int)dims[0], pname, in->cs);
            goto done;
        }
        ct_dist = (int)dims[1];
        in->distance = f->distance;
    }
    if (exists(file, "label_embedding")) {
        if ((rc = read_numeric(file, path, "label_embedding", 2, 0, dims, (void **)&f->embedding,
                               err)))
            goto done;
        in->e = (int)dims[1];
        in->label_embedding = f->embedding;
        ct_emb = (int)dims[0];
    }
    if (exists(file, "source_classes") &&
        (rc = read_strings(file, path, "source_classes", &f->source_classes, &f->n_source_classes,
                           err)))
        goto done;
    if (exists(file, "target_classes") &&
        (rc = read_strings(file, path, "target_classes", &f->target_classes, &f->n_target_classes,
                           err)))
        goto done;
    if (f->source_classes && in->probs && f->n_source_classes != in->cs) {
        rc =
            xfer_fail(err, XFER_EINPUT, "%s: 'source_classes' has %d names but '%s' has %d columns",
                      path, f->n_source_classes, pname, in->cs);
        goto done;
    }
    if (ct_dist && f->target_classes && f->n_target_classes != ct_dist) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: 'target_classes' has %d names but 'ground_distance' has %d columns",
                       path, f->n_target_classes, ct_dist);
        goto done;
    }
    int ct_other = ct_dist ? ct_dist : f->target_classes ? f->n_target_classes : 0;
    if (ct_emb && ct_other && ct_emb != ct_other) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: 'label_embedding' has %d rows but '%s' has %d target classes", path,
                       ct_emb, ct_dist ? "ground_distance" : "target_classes", ct_other);
        goto done;
    }
    int maxl = 0;
    for (int i = 0; i < n; i++)
        maxl = f->labels[i] > maxl ? f->labels[i] : maxl;
    if (!ct_dist && !f->target_classes && maxl >= XFER_METRIC_FILE_MAX_CLASSES) {
        /* Ct would come from the largest label: refuse absurd ones (INT_MAX overflowed here) */
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: 'labels' holds %d, more than %d classes; give 'target_classes' or "
                       "'ground_distance' to fix the number of target classes",
                       path, maxl, XFER_METRIC_FILE_MAX_CLASSES);
        goto done;
    }
    if ((rc = read_baseline(file, path, "params", &f->params, &f->has_params, err)) ||
        (rc = read_baseline(file, path, "prior", &f->prior, &f->has_prior, err)))
        goto done;
    in->ct = ct_dist             ? ct_dist
             : f->target_classes ? f->n_target_classes
             : ct_emb            ? ct_emb
                                 : maxl + 1;
    in->n = n;
    in->labels = f->labels;
    if (!(in->cache = xfer_metric_cache_new())) rc = XFER_OOM(err);
done:
    H5Fclose(file);
    if (rc) xfer_metric_file_free(f);
    return rc;
}
