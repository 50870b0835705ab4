#include "h5_strings.h"

#include <stdlib.h>
#include <string.h>

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

int xfer_h5_write_strings(hid_t loc, const char *name, char *const *v, int n) {
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = vlen_str_type();
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = -1;
    if (d >= 0) rc = (n == 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0) ? 0 : -1;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

int xfer_h5_read_strings(hid_t loc, const char *name, char ***out, int *n) {
    *out = NULL;
    *n = 0;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    int rc = -1;
    if (H5Sget_simple_extent_ndims(sp) == 1) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        hid_t t = vlen_str_type();
        char **raw = calloc(dims[0] ? dims[0] : 1, sizeof(char *));
        char **res = calloc(dims[0] ? dims[0] : 1, sizeof(char *));
        if (raw && res &&
            (dims[0] == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0)) {
            rc = 0;
            for (hsize_t i = 0; i < dims[0]; i++) {
                res[i] = strdup(raw[i] ? raw[i] : "");
                if (!res[i]) rc = -1;
            }
            if (dims[0]) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
        }
        free(raw);
        if (rc == 0) {
            *out = res;
            *n = (int)dims[0];
        } else if (res) {
            for (hsize_t i = 0; i < dims[0]; i++)
                free(res[i]);
            free(res);
        }
        H5Tclose(t);
    }
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int xfer_h5_attr_str(hid_t loc, const char *name, const char *value) {
    hid_t t = vlen_str_type();
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, t, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

int xfer_h5_attr_int(hid_t loc, const char *name, long long value) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

/* 1 when attribute a holds exactly one element (a scalar or a 1-element array): reading more into
 * one value would overflow it (a crafted cache can declare any shape). */
static int attr_is_single(hid_t a) {
    hid_t sp = H5Aget_space(a);
    if (sp < 0) return 0;
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    return n == 1;
}

char *xfer_h5_get_attr_str(hid_t loc, const char *name) {
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ft = H5Aget_type(a);
    char *res = NULL;
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 && attr_is_single(a)) {
        hid_t t = vlen_str_type();
        char *raw = NULL;
        if (H5Aread(a, t, &raw) >= 0 && raw) {
            res = strdup(raw);
            H5free_memory(raw);
        }
        H5Tclose(t);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return res;
}

int xfer_h5_get_attr_int(hid_t loc, const char *name, long long *value) {
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
    if (ft >= 0) H5Tclose(ft);
    int rc = -1;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && attr_is_single(a))
        rc = H5Aread(a, H5T_NATIVE_LLONG, value) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}
