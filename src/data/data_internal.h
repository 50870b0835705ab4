/* Helpers shared by the files of src/data (not a public API). */
#ifndef XFER_DATA_INTERNAL_H
#define XFER_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/data.h"

int xfer_scan_folder(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err);
int xfer_scan_idx(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err);
int xfer_scan_synthetic(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err);
int xfer_scan_list(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err);

/* The non-empty lines of a text file (trailing CR/LF removed), heap strings. */
int xfer_read_lines(const char *path, char ***out, int *n, xfer_err *err);

/* keep[c] = 1 for classes kept by cfg's include/exclude (matched on display or folder name).
 * `where` names the root/file in messages. */
int xfer_select_classes(const xfer_dataset_cfg *cfg, char **folders, char **display, int n,
                        int *keep, const char *where, xfer_err *err);

/* ds->class_names and class_dirs: copies of the kept names (keep[c]) at remap[c]; sets
 * ds->n_classes to n_kept. */
int xfer_dataset_set_classes(xfer_dataset *ds, char *const *names, const int *keep,
                             const int *remap, int n_names, int n_kept, xfer_err *err);

int xfer_dataset_alloc_items(xfer_dataset *ds, int n, int with_files, xfer_err *err);

void xfer_fp_init(uint64_t *h);
void xfer_fp_bytes(uint64_t *h, const void *p, size_t n);
void xfer_fp_str(uint64_t *h, const char *s);
void xfer_fp_i64(uint64_t *h, int64_t v);
/* A file's name, size and mtime. */
void xfer_fp_file(uint64_t *h, const char *path);
/* Adds the class list and formats 16 hex digits. */
void xfer_fp_finish(uint64_t h, const xfer_dataset *ds, char out[17]);

#endif
