/* Small HDF5 helpers for the cache files (not a public API). */
#ifndef XFER_H5_STRINGS_H
#define XFER_H5_STRINGS_H

#include <hdf5.h>

/* UTF-8 variable-length strings */
int xfer_h5_write_strings(hid_t loc, const char *name, char *const *v, int n);
/* Reads n strings into a heap array of heap strings; -1 on failure. */
int xfer_h5_read_strings(hid_t loc, const char *name, char ***out, int *n);
int xfer_h5_attr_str(hid_t loc, const char *name, const char *value);
int xfer_h5_attr_int(hid_t loc, const char *name, long long value);
/* Reads a string attribute into a heap string; NULL when absent or not a string. */
char *xfer_h5_get_attr_str(hid_t loc, const char *name);
int xfer_h5_get_attr_int(hid_t loc, const char *name, long long *value);

#endif
