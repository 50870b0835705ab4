/* The decoded dataset cache: `xfer prepare` decodes every image of a dataset once into an HDF5
 * file that training reads (30 epochs x every source) without touching JPEGs again.
 *
 * File layout (format version 1, documented in docs/data.md):
 *   /images       uint8 [N, S, S, 3]  RGB, shorter side resized to S = cache_size, centre crop
 *   /labels       int32 [N]           0 .. n_classes-1
 *   /paths        string [N]          source of each image (file path, "<idx file>#k", ...)
 *   /split        int8 [N]            only for an image_list with a split column: 0 train, 1 test
 *   /class_names  string [n_classes]  display names
 *   /bad_paths    string [n_bad]      images skipped as bad (on_bad_image: warn)
 *   /bad_images   string [n_bad]      their warnings ("PATH: why")
 *   attributes on /: xfer_cache_version (int), dataset (string), kind (string), cache_size (int),
 *   parameters (string), fingerprint (string: 16 hex digits), n_bad (int), n_skipped (int),
 *   n_listed (int: images listed before bad ones were dropped). */
#ifndef XFER_CACHE_H
#define XFER_CACHE_H

#include <stdint.h>

#include "xfer/config.h"
#include "xfer/error.h"

#define XFER_CACHE_VERSION 1

typedef struct {
    int progress; /* -1: a live bar when stderr is a terminal, else a summary line; 0: summary
                     line only; 1: always the bar */
    int force;    /* rebuild even when the cache is valid */
    int threads;  /* 0: OpenMP's default (all cores) */
} xfer_prepare_opts;

typedef struct {
    int reused;     /* 1: a valid cache was found and kept */
    int n_images;   /* images in the cache */
    int n_bad;      /* images skipped because they could not be decoded */
    int n_skipped;  /* files skipped for their extension */
    double seconds; /* decoding + writing time (0 when reused) */
    double images_per_s;
} xfer_prepare_result;

/* The cache path of a dataset: cfg->cache when set, else <dirname(output)>/cache/<name>.h5
 * (output = the experiment's results path; NULL or no '/' -> "cache/<name>.h5"). Heap string. */
char *xfer_cache_path(const xfer_dataset_cfg *cfg, const char *output);

/* Decodes the dataset into cache_path unless a valid cache (same parameters and source
 * fingerprint; under on_bad_image: error, no skipped images either -- those are decoded again and
 * the first that still fails is an XFER_EINPUT naming it, the cache left as it is) is there. On
 * reuse the images the cache skipped are warned about again. Writes to a temporary name in the same
 * folder and renames it; on any error no file is left behind. Bad images are warned about ("xfer:
 * warning: PATH: why") and skipped, or with on_bad_image: error fail with XFER_EINPUT. */
int xfer_prepare_dataset(const xfer_dataset_cfg *cfg, const char *cache_path,
                         const xfer_prepare_opts *opts, xfer_prepare_result *res, xfer_err *err);

/* A cache loaded into memory. */
typedef struct {
    int n;    /* images */
    int size; /* S: images are S x S x 3 */
    int n_classes;
    uint8_t *images;    /* [n, S, S, 3] uint8 NHWC */
    int32_t *labels;    /* [n] */
    char **paths;       /* [n] */
    int8_t *split;      /* [n] the list's split column (0 train, 1 test), or NULL: none */
    char **class_names; /* [n_classes] */
    char fingerprint[17];
} xfer_imageset;

int xfer_imageset_load(const char *cache_path, xfer_imageset *set, xfer_err *err);
void xfer_imageset_free(xfer_imageset *set);

#endif
