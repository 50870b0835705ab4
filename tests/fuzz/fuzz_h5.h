/* Structure-aware HDF5 fuzzing for the results and metrics readers. Raw-byte fuzzing of HDF5 files
 * mostly exercises libhdf5's own binary parser (whose 1.10 crashes on crafted files xfer cannot
 * fix, see docs/reliability.md); this instead copies a valid seed file and applies a byte-driven
 * list of edits through the HDF5 API — attributes and datasets deleted, retyped (integer, float,
 * string fixed/variable, arrays), reshaped (rank 0-3, empty dims), filled with fuzz values, objects
 * removed or added under the names xfer looks for — so every input is a well-formed HDF5 file
 * whose *content* is hostile, which is what xfer's own validation must survive. */
#ifndef XFER_FUZZ_H5_H
#define XFER_FUZZ_H5_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_tmp.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} fz_bytes;

static unsigned fz_u8(fz_bytes *b) {
    if (!b->n) return 0;
    b->n--;
    return *b->p++;
}

static const char *const FZ_NAMES[] = {"status",
                                       "error",
                                       "arch",
                                       "chain",
                                       "weights",
                                       "best_test_acc",
                                       "best_epoch",
                                       "epochs_to_95pct",
                                       "curve_auc",
                                       "complete",
                                       "config",
                                       "xfer_version",
                                       "seed",
                                       "direction",
                                       "n",
                                       "value",
                                       "seconds",
                                       "mean",
                                       "epoch",
                                       "lr",
                                       "train_loss",
                                       "train_acc",
                                       "test_loss",
                                       "test_acc",
                                       "class_names",
                                       "train_files",
                                       "test_files",
                                       "n_train",
                                       "n_test",
                                       "n_classes",
                                       "dataset",
                                       "sources",
                                       "scores",
                                       "curve",
                                       "target",
                                       "correlations",
                                       "correlations_by_arch",
                                       "pearson",
                                       "kendall",
                                       "top1_hit",
                                       "leep",
                                       "features",
                                       "probs",
                                       "logits",
                                       "labels",
                                       "ground_distance",
                                       "source_classes",
                                       "target_classes",
                                       "created",
                                       "device",
                                       "precision",
                                       "a",
                                       ""};
#define FZ_N_NAMES (sizeof FZ_NAMES / sizeof FZ_NAMES[0])

/* The names edits use (attributes and datasets added under them); a target reading another kind of
 * file (the dataset cache) sets its own list, so the results/metrics inputs keep their meaning. */
static const char *const *fz_names = FZ_NAMES;
static size_t fz_n_names = FZ_N_NAMES;
static inline void fz_h5_set_names(const char *const *names, size_t n) {
    fz_names = names;
    fz_n_names = n;
}

#define FZ_MAX_OBJS 256
typedef struct {
    char *names[FZ_MAX_OBJS];
    int n;
} fz_objs;

static herr_t fz_visit(hid_t o, const char *name, const H5O_info_t *info, void *data) {
    (void)o;
    (void)info;
    fz_objs *l = data;
    if (l->n < FZ_MAX_OBJS) l->names[l->n++] = strdup(name);
    return 0;
}

/* A datatype chosen by the fuzz input (caller closes it). */
static hid_t fz_type(fz_bytes *b, int *is_str) {
    *is_str = 0;
    switch (fz_u8(b) % 9) {
    case 0:
        return H5Tcopy(H5T_STD_I8LE);
    case 1:
        return H5Tcopy(H5T_STD_I32LE);
    case 2:
        return H5Tcopy(H5T_STD_I64LE);
    case 3:
        return H5Tcopy(H5T_STD_U64BE);
    case 4:
        return H5Tcopy(H5T_IEEE_F32LE);
    case 5:
        return H5Tcopy(H5T_IEEE_F64BE);
    case 6: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, 1 + fz_u8(b) % 12);
        *is_str = 1;
        return t;
    }
    case 7: {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        if (fz_u8(b) & 1) H5Tset_cset(t, H5T_CSET_UTF8);
        *is_str = 2;
        return t;
    }
    default:
        return H5Tcopy(H5T_IEEE_F64LE);
    }
}

/* A dataspace: scalar, or rank 1-3 with dims 0-6. */
static hid_t fz_space(fz_bytes *b, hsize_t *count) {
    unsigned r = fz_u8(b) % 4;
    if (r == 0) {
        *count = 1;
        return H5Screate(H5S_SCALAR);
    }
    hsize_t dims[3];
    *count = 1;
    for (unsigned i = 0; i < r; i++) {
        dims[i] = fz_u8(b) % 7;
        *count *= dims[i];
    }
    return H5Screate_simple((int)r, dims, NULL);
}

/* Fills a buffer for `count` elements of type t from the input (strings: short byte strings). */
static void *fz_values(fz_bytes *b, hid_t t, int is_str, hsize_t count, char ***vstr) {
    *vstr = NULL;
    if (is_str == 2) {
        char **s = calloc(count ? count : 1, sizeof *s);
        for (hsize_t i = 0; s && i < count; i++) {
            unsigned len = fz_u8(b) % 8;
            s[i] = calloc(len + 1, 1);
            for (unsigned k = 0; s[i] && k < len; k++)
                s[i][k] = (char)(fz_u8(b) | 1); /* no embedded NUL */
        }
        *vstr = s;
        return s;
    }
    size_t sz = H5Tget_size(t);
    uint8_t *buf = calloc(count ? count : 1, sz);
    /* special values often: NaN/inf patterns come from raw bytes; extremes from 0xff runs */
    for (size_t i = 0; buf && i < count * sz; i++)
        buf[i] = (uint8_t)fz_u8(b);
    return buf;
}

static void fz_free_values(void *buf, char **vstr, hsize_t count) {
    if (vstr)
        for (hsize_t i = 0; i < count; i++)
            free(vstr[i]);
    free(buf);
}

static void fz_write_attr(hid_t obj, const char *name, fz_bytes *b) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    int is_str;
    hsize_t count;
    hid_t t = fz_type(b, &is_str), sp = fz_space(b, &count);
    char **vstr;
    void *buf = fz_values(b, t, is_str, count, &vstr);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0 && buf) H5Awrite(a, t, buf);
    if (a >= 0) H5Aclose(a);
    fz_free_values(buf, vstr, count);
    H5Sclose(sp);
    H5Tclose(t);
}

static void fz_write_dataset(hid_t loc, const char *name, fz_bytes *b) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) H5Ldelete(loc, name, H5P_DEFAULT);
    int is_str;
    hsize_t count;
    hid_t t = fz_type(b, &is_str), sp = fz_space(b, &count);
    char **vstr;
    void *buf = fz_values(b, t, is_str, count, &vstr);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0 && buf && count) H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (d >= 0) H5Dclose(d);
    fz_free_values(buf, vstr, count);
    H5Sclose(sp);
    H5Tclose(t);
}

/* Copies seed to a temp file, applies the input's edits, returns the path (NULL: skip input). */
static const char *fz_h5_mutate(const char *seed, const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        init = 1;
    }
    FILE *s = fopen(seed, "rb");
    if (!s) return NULL;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, s);
    fclose(s);
    const char *path = fuzz_tmp_write(0, ".h5", buf, n);
    if (!path) return NULL;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return NULL;
    fz_objs objs = {{0}, 0};
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, fz_visit, &objs, H5O_INFO_BASIC);
    fz_bytes b = {data, size};
    for (int ops = 0; b.n > 0 && ops < 16; ops++) {
        unsigned op = fz_u8(&b) % 6;
        const char *on = objs.n ? objs.names[fz_u8(&b) % objs.n] : ".";
        const char *nm = fz_names[fz_u8(&b) % fz_n_names];
        hid_t o = H5Oopen(f, on, H5P_DEFAULT);
        if (o < 0) continue;
        H5O_info_t info;
        int is_group = H5Oget_info2(o, &info, H5O_INFO_BASIC) >= 0 && info.type == H5O_TYPE_GROUP;
        if (op == 0 || op == 1) { /* retype an existing attribute (op 0) or add a named one */
            char an[64] = "";
            int na = info.num_attrs > 0 ? (int)info.num_attrs : 0;
            if (op == 0 && na > 0)
                H5Aget_name_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, fz_u8(&b) % na, an,
                                   sizeof an, H5P_DEFAULT);
            fz_write_attr(o, an[0] ? an : nm, &b);
        } else if (op == 2 && info.num_attrs > 0) { /* delete an attribute */
            H5Adelete_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_INC, fz_u8(&b) % info.num_attrs,
                             H5P_DEFAULT);
        } else if (op == 3 && !is_group) { /* rewrite a dataset: new type, shape and values */
            H5Oclose(o);
            o = -1;
            fz_write_dataset(f, on, &b);
        } else if (op == 4 && strcmp(on, ".") != 0) { /* remove an object */
            H5Oclose(o);
            o = -1;
            H5Ldelete(f, on, H5P_DEFAULT);
        } else if (op == 5 && is_group && nm[0]) { /* add a dataset or group under a known name */
            if (fz_u8(&b) & 1) {
                fz_write_dataset(o, nm, &b);
            } else if (H5Lexists(o, nm, H5P_DEFAULT) <= 0) {
                hid_t g = H5Gcreate2(o, nm, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
                if (g >= 0) H5Gclose(g);
            }
        }
        if (o >= 0) H5Oclose(o);
    }
    for (int i = 0; i < objs.n; i++)
        free(objs.names[i]);
    H5Fclose(f);
    return path;
}

#endif
