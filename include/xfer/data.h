/* Datasets: listing the images of a dataset (image_folder | idx | synthetic), selecting classes,
 * and splitting into train/test. Pixels are decoded by image.h and cached by cache.h; this module
 * only knows which images exist, their labels and where they come from.
 *
 * Ownership: every pointer in an xfer_dataset is owned by it and freed by xfer_dataset_free(). */
#ifndef XFER_DATA_H
#define XFER_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "xfer/config.h"
#include "xfer/error.h"

/* A dataset listing after class selection and max_per_class. Items are ordered by class (in class
 * order), then by file name (strcmp) or by position in the IDX file. */
typedef struct {
    xfer_dataset_kind kind;
    int n_classes;
    char *
        *class_names; /* [n_classes] display names ("001.ak47" -> "ak47", "Faces-101" -> "Faces") */
    char **class_dirs;   /* [n_classes] folder names (image_folder) or copies of class_names */
    int n;               /* number of items */
    char **paths;        /* [n] image_folder: file path; idx: "<images file>#<k>"; synthetic:
                            "synthetic/<class>/<i>" */
    int32_t *labels;     /* [n] 0 .. n_classes-1 */
    int64_t *file_size;  /* [n] image_folder only (else NULL): bytes, from stat() */
    int64_t *file_mtime; /* [n] image_folder only (else NULL): mtime in seconds */
    int32_t *src_index;  /* [n] idx: row in the IDX file; synthetic: image number in its class */
    int n_skipped;       /* image_folder: files skipped for their extension */
    int8_t *split;       /* [n] image_list with a split column: 0 train, 1 test; else NULL */
    /* idx: the whole image array as read (uint8 [idx_count, idx_rows, idx_cols]) */
    uint8_t *idx_pixels;
    int idx_count, idx_rows, idx_cols;
    /* synthetic parameters (copied from the config; size 0 = the cache size) */
    int synth_size;
    int synth_per_class; /* images per class; src_index = original class * this + i */
    uint64_t synth_seed;
    /* FNV-1a 64 of the source: file names, sizes, mtimes (image_folder), the IDX files' names,
     * sizes and mtimes, or the synthetic parameters; with the class list. 16 hex digits. */
    char fingerprint[17];
} xfer_dataset;

/* Lists the dataset that cfg describes (image_list: items by class, then in list order; a missing
 * or empty list, a listed image that does not exist, an unknown label or a bad split value is an
 * XFER_EINPUT naming LIST:LINE). Errors (XFER_EINPUT, message naming the path): missing
 * root, unreadable folder, a kept class folder without images, no classes left after
 * include/exclude, an include naming no class, IDX magic or count mismatch, a label outside the
 * class names. */
int xfer_dataset_scan(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err);
void xfer_dataset_free(xfer_dataset *ds);

/* "001.ak47" -> "ak47", "Faces_easy-101" -> "Faces_easy": drops a leading run of digits followed
 * by '.', and a trailing "-101". Returns a heap string (NULL on out of memory). */
char *xfer_class_display_name(const char *folder);

/* A train/test split: indices into the dataset's items, ascending. */
typedef struct {
    int *train, n_train;
    int *test, n_test;
} xfer_split;

/* Splits items by class (stratified): with cfg->train_per_class > 0, train_per_class random items
 * per class go to train and test_per_class (0 = all the rest) to test; otherwise a fraction
 * round(train_fraction * n_c) of each class (at least 1 and leaving at least 1 when n_c >= 2).
 * The permutation of each class comes from a counter-based RNG keyed by (seed, class), so the
 * split depends only on (labels, cfg, seed), never on threads. XFER_EINPUT when a class has too
 * few items for train_per_class (+1 test). */
int xfer_split_make(const xfer_dataset_cfg *cfg, const int32_t *labels, int n, int n_classes,
                    uint64_t seed, xfer_split *sp, xfer_err *err);
void xfer_split_free(xfer_split *sp);
/* The split an image_list's split column gives: flags[i] 0 = train, 1 = test. */
int xfer_split_given(const int8_t *flags, int n, xfer_split *sp, xfer_err *err);

/* Counter-based random numbers: a pure function of (key, counter), so any item's randomness can be
 * drawn on any thread in any order. */
uint64_t xfer_rng_u64(uint64_t key, uint64_t counter);
/* Uniform in [0, 1) with 53 bits. */
double xfer_rng_uniform(uint64_t key, uint64_t counter);
/* Mixes several words into one key. */
uint64_t xfer_rng_key(uint64_t a, uint64_t b, uint64_t c);

/* Synthetic images: class `label` of n_classes, image number i, size x size RGB into out
 * (size*size*3 bytes). Deterministic in (seed, label, i). Each class has its own shape, colours
 * and texture; images vary in position, scale, and noise. */
void xfer_synthetic_image(uint64_t seed, int label, int n_classes, int i, int size, uint8_t *out);

#endif
