/* The decode + write pipeline of xfer_prepare_dataset (not a public API). */
#ifndef XFER_PREPARE_PIPE_H
#define XFER_PREPARE_PIPE_H

#include <hdf5.h>

#include "xfer/data.h"

typedef struct {
    const xfer_dataset *ds;
    const xfer_dataset_cfg *cfg;
    int S;             /* cache_size */
    hid_t dimg;        /* /images, chunked [ds->n, S, S, 3] */
    const char *where; /* file named in write errors */
    int show_bar;
    int32_t *labels;  /* out: [ds->n], the first n_good filled */
    char **paths;     /* out: [ds->n], borrowed from ds */
    int8_t *split;    /* out: [ds->n] when ds->split (else NULL), the first n_good filled */
    char **bad_paths; /* out: [ds->n], the first n_bad filled, borrowed from ds */
    char **bad_msgs;  /* out: [ds->n], the first n_bad filled: the warnings, heap strings */
    int n_good, n_bad;
} xfer_prepare_pipe;

/* Decodes every item of p->ds on the OpenMP team of the calling thread while one writer thread
 * checks each finished block in order (warnings, on_bad_image), packs its good images and writes
 * them to p->dimg. Returns XFER_OK, XFER_EINPUT (on_bad_image: error) or XFER_EINTERNAL. */
int xfer_prepare_pipe_run(xfer_prepare_pipe *p, xfer_err *err);

#endif
