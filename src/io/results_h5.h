/* Small HDF5 helpers for the results file (internal to src/io/results*.c). Every function returns
 * 0 on success and -1 on failure (the HDF5 error stack is silenced; callers name the file/object).
 * Strings are UTF-8 variable-length; returned strings are malloc'ed and owned by the caller. */
#ifndef XFER_IO_RESULTS_H5_H
#define XFER_IO_RESULTS_H5_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer/results.h"

void rh5_silence(void);
hid_t rh5_str_type(void); /* caller closes */
/* File access properties for results files (strong close, no HDF5 file locking); caller closes. */
hid_t rh5_fapl(void);

int rh5_set_str(hid_t obj, const char *name, const char *value);
int rh5_set_f64(hid_t obj, const char *name, double value);
int rh5_set_i64(hid_t obj, const char *name, int64_t value);
int rh5_get_str(hid_t obj, const char *name, char **out);
int rh5_get_f64(hid_t obj, const char *name, double *out);
int rh5_get_i64(hid_t obj, const char *name, int64_t *out);

/* 1-D datasets: string arrays and growable numeric columns. */
int rh5_write_strs(hid_t loc, const char *name, const char *const *v, size_t n);
int rh5_read_strs(hid_t loc, const char *name, char ***out, size_t *n);
void rh5_free_strs(char **v, size_t n);
/* Creates an empty chunked dataset with unlimited max size (type: H5T_NATIVE_DOUBLE or
 * H5T_NATIVE_INT64). */
int rh5_create_column(hid_t loc, const char *name, hid_t mem_type);
/* Appends n values to a column. */
int rh5_append_column(hid_t loc, const char *name, hid_t mem_type, const void *v, size_t n);
int rh5_resize_column(hid_t loc, const char *name, size_t n);
/* Reads a whole 1-D column (malloc'ed; *n = its length). */
int rh5_read_column(hid_t loc, const char *name, hid_t mem_type, void **out, size_t *n);

int rh5_exists(hid_t loc, const char *path);
/* Names of the links in a group, in name order. */
int rh5_list(hid_t group, char ***names, size_t *n);
char *rh5_strdup(const char *s);

#endif
