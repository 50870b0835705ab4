#include "results_h5.h"

#include <stdlib.h>
#include <string.h>

char *rh5_strdup(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void rh5_silence(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

hid_t rh5_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || H5_VERSION_GE(1, 12, 1)
    /* Results files are never modified in place (copy + rename) and writers hold OUTPUT.lock, so
     * HDF5's own flock adds nothing — and it fails on cluster filesystems without flock (Lustre,
     * some NFS), where Slurm shards run. */
    H5Pset_file_locking(fapl, 0, 1);
#endif
    return fapl;
}

hid_t rh5_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Creates (replacing) a scalar attribute of file type ftype and writes buf of memory type mtype. */
static int set_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *buf) {
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) return -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0) return -1;
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 || H5Awrite(a, mtype, buf) < 0 ? -1 : 0;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int rh5_set_str(hid_t obj, const char *name, const char *value) {
    hid_t t = rh5_str_type();
    if (t < 0) return -1;
    const char *v = value ? value : "";
    int rc = set_attr(obj, name, t, t, &v);
    H5Tclose(t);
    return rc;
}

int rh5_set_f64(hid_t obj, const char *name, double value) {
    return set_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

int rh5_set_i64(hid_t obj, const char *name, int64_t value) {
    return set_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

int rh5_get_str(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int rc = -1;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING &&
        H5Sget_simple_extent_npoints(sp) == 1) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = rh5_str_type();
            char *p = NULL;
            if (mt >= 0 && H5Aread(a, mt, &p) >= 0) {
                *out = rh5_strdup(p ? p : "");
                rc = *out ? 0 : -1;
                H5free_memory(p);
            }
            if (mt >= 0) H5Tclose(mt);
        } else { /* fixed-length strings written by other tools */
            size_t len = H5Tget_size(ft);
            char *buf = calloc(len + 1, 1);
            hid_t mt = H5Tcopy(ft);
            if (buf && mt >= 0 && H5Aread(a, mt, buf) >= 0) {
                *out = buf;
                buf = NULL;
                rc = 0;
            }
            free(buf);
            if (mt >= 0) H5Tclose(mt);
        }
    }
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int get_num(hid_t obj, const char *name, hid_t mtype, void *out) {
    if (H5Aexists(obj, name) <= 0) return -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a), ft = H5Aget_type(a);
    int rc = -1;
    if (sp >= 0 && ft >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
        (H5Tget_class(ft) == H5T_FLOAT || H5Tget_class(ft) == H5T_INTEGER))
        rc = H5Aread(a, mtype, out) < 0 ? -1 : 0;
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return rc;
}

int rh5_get_f64(hid_t obj, const char *name, double *out) {
    return get_num(obj, name, H5T_NATIVE_DOUBLE, out);
}

int rh5_get_i64(hid_t obj, const char *name, int64_t *out) {
    return get_num(obj, name, H5T_NATIVE_INT64, out);
}

int rh5_write_strs(hid_t loc, const char *name, const char *const *v, size_t n) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0 && H5Ldelete(loc, name, H5P_DEFAULT) < 0) return -1;
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL), t = rh5_str_type();
    hid_t d = sp >= 0 && t >= 0
                  ? H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                  : -1;
    int rc = d < 0 ? -1 : 0;
    if (rc == 0 && n > 0) {
        const char **tmp = malloc(n * sizeof *tmp);
        if (!tmp) rc = -1;
        for (size_t i = 0; rc == 0 && i < n; i++)
            tmp[i] = v[i] ? v[i] : "";
        if (rc == 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) rc = -1;
        free(tmp);
    }
    if (d >= 0) H5Dclose(d);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

void rh5_free_strs(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int rh5_read_strs(hid_t loc, const char *name, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d), mt = rh5_str_type();
    int rc = -1;
    if (sp >= 0 && ft >= 0 && mt >= 0 && H5Tget_class(ft) == H5T_STRING &&
        H5Tis_variable_str(ft) > 0 && H5Sget_simple_extent_ndims(sp) == 1) {
        hssize_t m = H5Sget_simple_extent_npoints(sp);
        size_t cnt = m > 0 ? (size_t)m : 0;
        char **raw = calloc(cnt ? cnt : 1, sizeof *raw);
        char **res = calloc(cnt ? cnt : 1, sizeof *res);
        if (raw && res && (cnt == 0 || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0)) {
            rc = 0;
            for (size_t i = 0; i < cnt; i++)
                if (!(res[i] = rh5_strdup(raw[i] ? raw[i] : ""))) rc = -1;
            if (cnt) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
            if (rc == 0) {
                *out = res;
                *n = cnt;
                res = NULL;
            }
        }
        rh5_free_strs(res, cnt);
        free(raw);
    }
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

/* Curves grow one epoch at a time; 64 rows per chunk keeps small files small. */
#define RH5_COLUMN_CHUNK 64

int rh5_create_column(hid_t loc, const char *name, hid_t mem_type) {
    hsize_t dims[1] = {0}, maxd[1] = {H5S_UNLIMITED}, chunk[1] = {RH5_COLUMN_CHUNK};
    hid_t ftype = H5Tequal(mem_type, H5T_NATIVE_INT64) > 0 ? H5T_STD_I64LE : H5T_IEEE_F64LE;
    hid_t sp = H5Screate_simple(1, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = -1;
    if (sp >= 0 && pl >= 0 && H5Pset_chunk(pl, 1, chunk) >= 0) {
        hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        if (d >= 0) {
            rc = 0;
            H5Dclose(d);
        }
    }
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

int rh5_append_column(hid_t loc, const char *name, hid_t mem_type, const void *v, size_t n) {
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    int rc = -1;
    hid_t sp = H5Dget_space(d), fsp = -1, msp = -1;
    hsize_t cur[1];
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_dims(sp, cur, NULL) >= 0) {
        hsize_t nd[1] = {cur[0] + n}, start[1] = {cur[0]}, cnt[1] = {n};
        if (n == 0) {
            rc = 0;
        } else if (H5Dset_extent(d, nd) >= 0 && (fsp = H5Dget_space(d)) >= 0 &&
                   H5Sselect_hyperslab(fsp, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
                   (msp = H5Screate_simple(1, cnt, NULL)) >= 0 &&
                   H5Dwrite(d, mem_type, msp, fsp, H5P_DEFAULT, v) >= 0) {
            rc = 0;
        }
    }
    if (msp >= 0) H5Sclose(msp);
    if (fsp >= 0) H5Sclose(fsp);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int rh5_resize_column(hid_t loc, const char *name, size_t n) {
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hsize_t nd[1] = {n};
    int rc = H5Dset_extent(d, nd) < 0 ? -1 : 0;
    H5Dclose(d);
    return rc;
}

int rh5_read_column(hid_t loc, const char *name, hid_t mem_type, void **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    int rc = -1;
    hsize_t dims[1];
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1 &&
        H5Sget_simple_extent_dims(sp, dims, NULL) >= 0) {
        size_t cnt = (size_t)dims[0];
        void *buf = malloc((cnt ? cnt : 1) * 8);
        if (buf && (cnt == 0 || H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0)) {
            *out = buf;
            *n = cnt;
            rc = 0;
        } else {
            free(buf);
        }
    }
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int rh5_exists(hid_t loc, const char *path) {
    /* H5Lexists on "a/b" fails when "a" is missing: check each component. */
    char buf[1024];
    size_t len = strlen(path);
    if (len >= sizeof buf) return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 0; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (i > 0 && H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
            buf[i] = c;
        }
    }
    return 1;
}

typedef struct {
    char **v;
    size_t n, cap;
    int fail;
} name_list;

static herr_t collect_name(hid_t g, const char *name, const H5L_info_t *info, void *op) {
    (void)g;
    (void)info;
    name_list *l = op;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->fail = 1;
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = rh5_strdup(name))) {
        l->fail = 1;
        return -1;
    }
    l->n++;
    return 0;
}

int rh5_list(hid_t group, char ***names, size_t *n) {
    name_list l = {0};
    hsize_t idx = 0;
    herr_t e = H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &l);
    if (e < 0 || l.fail) {
        rh5_free_strs(l.v, l.n);
        *names = NULL;
        *n = 0;
        return -1;
    }
    *names = l.v;
    *n = l.n;
    return 0;
}
