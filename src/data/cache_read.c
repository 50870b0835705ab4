/* xfer_imageset_load: a decoded cache read whole into memory (uint8 NHWC). */
#include <stdlib.h>
#include <string.h>

#include "h5_strings.h"
#include "xfer/cache.h"

void xfer_imageset_free(xfer_imageset *set) {
    if (!set) return;
    for (int i = 0; set->paths && i < set->n; i++)
        free(set->paths[i]);
    for (int i = 0; set->class_names && i < set->n_classes; i++)
        free(set->class_names[i]);
    free(set->paths);
    free(set->class_names);
    free(set->images);
    free(set->labels);
    free(set->split);
    memset(set, 0, sizeof *set);
}

int xfer_imageset_load(const char *path, xfer_imageset *set, xfer_err *err) {
    memset(set, 0, sizeof *set);
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = XFER_OK;
    hid_t d = -1, sp = -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot open as an HDF5 cache", path);
        goto done;
    }
    long long ver = 0;
    if (xfer_h5_get_attr_int(f, "xfer_cache_version", &ver) != 0 || ver != XFER_CACHE_VERSION) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: not an xfer cache of version %d", path,
                       XFER_CACHE_VERSION);
        goto done;
    }
    d = H5Dopen2(f, "images", H5P_DEFAULT);
    if (d < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: no /images", path);
        goto done;
    }
    sp = H5Dget_space(d);
    hsize_t dims[4] = {0};
    if (H5Sget_simple_extent_ndims(sp) != 4 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
        dims[1] != dims[2] || dims[3] != 3) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: /images is not [N,S,S,3]", path);
        goto done;
    }
    set->n = (int)dims[0];
    set->size = (int)dims[1];
    size_t bytes = (size_t)dims[0] * dims[1] * dims[2] * 3;
    set->images = malloc(bytes ? bytes : 1);
    set->labels = malloc((size_t)(set->n ? set->n : 1) * sizeof(int32_t));
    if (!set->images || !set->labels) {
        rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory (%zu bytes of images)", path, bytes);
        goto done;
    }
    if (bytes && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, set->images) < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read /images", path);
        goto done;
    }
    H5Sclose(sp);
    sp = -1;
    H5Dclose(d);
    d = H5Dopen2(f, "labels", H5P_DEFAULT);
    if (d >= 0) {
        sp = H5Dget_space(d);
        hsize_t ld[1] = {0};
        H5Sget_simple_extent_dims(sp, ld, NULL);
        if (H5Sget_simple_extent_ndims(sp) != 1 || ld[0] != dims[0]) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: /labels does not match /images", path);
            goto done;
        }
    }
    if (d < 0 ||
        (set->n && H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, set->labels) < 0)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read /labels", path);
        goto done;
    }
    H5Sclose(sp);
    sp = -1;
    H5Dclose(d);
    d = -1;
    if (H5Lexists(f, "split", H5P_DEFAULT) > 0) { /* image_list's split column */
        d = H5Dopen2(f, "split", H5P_DEFAULT);
        sp = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t sd[1] = {0};
        set->split = malloc((size_t)(set->n ? set->n : 1));
        if (d < 0 || sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
            H5Sget_simple_extent_dims(sp, sd, NULL) < 0 || sd[0] != dims[0] || !set->split ||
            (set->n &&
             H5Dread(d, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, set->split) < 0)) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read /split", path);
            goto done;
        }
        for (int i = 0; i < set->n; i++)
            if (set->split[i] != 0 && set->split[i] != 1) {
                rc = xfer_fail(err, XFER_EINPUT, "%s: /split of image %d is %d (expected 0 or 1)",
                               path, i, set->split[i]);
                goto done;
            }
    }
    int np = 0;
    if (xfer_h5_read_strings(f, "paths", &set->paths, &np) != 0 || np != set->n) {
        if (set->paths)
            for (int i = 0; i < np; i++)
                free(set->paths[i]);
        free(set->paths);
        set->paths = NULL;
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read /paths", path);
        goto done;
    }
    if (xfer_h5_read_strings(f, "class_names", &set->class_names, &set->n_classes) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read /class_names", path);
        goto done;
    }
    for (int i = 0; i < set->n; i++)
        if (set->labels[i] < 0 || set->labels[i] >= set->n_classes) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: label %d of image %d outside %d classes", path,
                           set->labels[i], i, set->n_classes);
            goto done;
        }
    char *fp = xfer_h5_get_attr_str(f, "fingerprint");
    if (fp) {
        snprintf(set->fingerprint, sizeof set->fingerprint, "%s", fp);
        free(fp);
    }
done:
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc != XFER_OK) xfer_imageset_free(set);
    return rc;
}
