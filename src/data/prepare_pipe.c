/* The decode + write pipeline of `xfer prepare`. Images are decoded into NBUF rotating block
 * buffers by the OpenMP team of the calling thread: each thread claims the next image from an
 * atomic counter (results placed by index, no barrier between blocks) and waits, sleeping, only
 * when its block's buffer is still held by a block the writer has not finished. One writer thread
 * takes the blocks in order as they complete: reports bad images (in file order), packs the good
 * ones, and writes them to /images -- the only HDF5 calls while decoding runs, so the page-cache
 * copy of the 1.8 GB a Caltech-101 cache takes overlaps the decoding instead of stalling it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prepare_pipe.h"
#include "xfer/image.h"
#include "xfer/log.h"

#define BLOCK 64 /* images per buffer: 12.6 MB at S = 256 */
#define NBUF 4

typedef struct {
    xfer_prepare_pipe *p;
    size_t img_bytes;
    int nblocks;
    uint8_t *buf[NBUF];
    int *ok;        /* [NBUF * BLOCK] */
    xfer_err *errs; /* [NBUF * BLOCK] */
    atomic_int done[NBUF];
    atomic_int next;    /* next image to claim */
    atomic_int written; /* blocks the writer has finished: block b may use its buffer when
                           b < written + NBUF */
    atomic_int abort;
    pthread_mutex_t mu;
    pthread_cond_t cv_free, cv_ready;
    int rc;
    xfer_err err;
    double t0;
} pipe_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int block_len(const pipe_state *s, int b) {
    int n = s->p->ds->n - b * BLOCK;
    return n < BLOCK ? n : BLOCK;
}

/* Decodes item i of ds into dst (S*S*3 bytes). */
static int decode_item(const xfer_dataset *ds, int i, int S, uint8_t *dst, xfer_err *err) {
    xfer_rgb img = {0};
    int rc = XFER_OK;
    if (ds->kind == XFER_DS_IMAGE_FOLDER || ds->kind == XFER_DS_IMAGE_LIST) {
        rc = xfer_image_decode_file(ds->paths[i], S, &img, err);
    } else if (ds->kind == XFER_DS_IDX) {
        int r = ds->idx_rows, c = ds->idx_cols;
        img.w = c, img.h = r;
        img.px = malloc((size_t)r * c * 3);
        if (!img.px) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        const uint8_t *g = ds->idx_pixels + (size_t)ds->src_index[i] * r * c;
        for (int k = 0; k < r * c; k++)
            img.px[3 * k] = img.px[3 * k + 1] = img.px[3 * k + 2] = g[k];
    } else {
        int sz = ds->synth_size > 0 ? ds->synth_size : S;
        img.w = img.h = sz;
        img.px = malloc((size_t)sz * sz * 3);
        if (!img.px) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        int per = ds->synth_per_class;
        xfer_synthetic_image(ds->synth_seed, ds->src_index[i] / per, ds->n_classes,
                             ds->src_index[i] % per, sz, img.px);
    }
    if (rc == XFER_OK && xfer_image_square(&img, S, dst) != XFER_OK)
        rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory resizing", ds->paths[i]);
    xfer_rgb_free(&img);
    return rc;
}

static void progress_bar(const char *name, int done, int total, double t0) {
    double el = now_s() - t0;
    double rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    int width = 30, fill = total ? (int)((long long)width * done / total) : width;
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\rxfer: prepare %s [%s] %d/%d  %.0f images/s  ETA %.0fs   ", name, bar, done,
            total, rate, eta);
    fflush(stderr);
}

static void stop_all(pipe_state *s) {
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->abort, 1);
    pthread_cond_broadcast(&s->cv_free);
    pthread_cond_broadcast(&s->cv_ready);
    pthread_mutex_unlock(&s->mu);
}

/* Checks block b (complete in its buffer), packs its good images and writes them. */
static int write_block(pipe_state *s, int b) {
    xfer_prepare_pipe *p = s->p;
    int bn = block_len(s, b), slot0 = (b % NBUF) * BLOCK;
    uint8_t *blk = s->buf[b % NBUF];
    int good0 = p->n_good;
    for (int j = 0; j < bn; j++) {
        const xfer_err *e = &s->errs[slot0 + j];
        if (!s->ok[slot0 + j]) {
            if (e->code == XFER_EINTERNAL) return xfer_fail(&s->err, XFER_EINTERNAL, "%s", e->msg);
            if (p->show_bar) fputc('\n', stderr);
            if (p->cfg->on_bad_image == XFER_BAD_IMAGE_ERROR)
                return xfer_fail(&s->err, XFER_EINPUT, "%s (on_bad_image: error)", e->msg);
            xfer_warn("%s; skipped", e->msg);
            if (!(p->bad_msgs[p->n_bad] = strdup(e->msg)))
                return xfer_fail(&s->err, XFER_EINTERNAL, "out of memory");
            p->bad_paths[p->n_bad] = p->ds->paths[b * BLOCK + j];
            p->n_bad++;
            continue;
        }
        int k = p->n_good - good0;
        if (k != j)
            memmove(blk + (size_t)k * s->img_bytes, blk + (size_t)j * s->img_bytes, s->img_bytes);
        p->labels[p->n_good] = p->ds->labels[b * BLOCK + j];
        p->paths[p->n_good] = p->ds->paths[b * BLOCK + j];
        if (p->split) p->split[p->n_good] = p->ds->split[b * BLOCK + j];
        p->n_good++;
    }
    int n = p->n_good - good0;
    if (n == 0) return XFER_OK;
    int S = p->S;
    hsize_t st[4] = {(hsize_t)good0, 0, 0, 0};
    hsize_t count[4] = {(hsize_t)n, (hsize_t)S, (hsize_t)S, 3};
    hid_t fs = H5Dget_space(p->dimg);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, st, NULL, count, NULL);
    hid_t ms = H5Screate_simple(4, count, NULL);
    herr_t w = H5Dwrite(p->dimg, H5T_NATIVE_UCHAR, ms, fs, H5P_DEFAULT, blk);
    H5Sclose(ms);
    H5Sclose(fs);
    if (w < 0)
        return xfer_fail(&s->err, XFER_EINTERNAL, "writing /images of %s failed (disk full?)",
                         p->where);
    return XFER_OK;
}

static void *writer_main(void *arg) {
    pipe_state *s = arg;
    /* HDF5 is built thread-safe here: its error-printing switch is per thread */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    for (int b = 0; b < s->nblocks; b++) {
        int buf = b % NBUF, bn = block_len(s, b);
        pthread_mutex_lock(&s->mu);
        while (atomic_load(&s->done[buf]) < bn && !atomic_load(&s->abort))
            pthread_cond_wait(&s->cv_ready, &s->mu);
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->abort)) break;
        s->rc = write_block(s, b);
        if (s->rc != XFER_OK) {
            stop_all(s);
            break;
        }
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->done[buf], 0);
        atomic_fetch_add(&s->written, 1);
        pthread_cond_broadcast(&s->cv_free);
        pthread_mutex_unlock(&s->mu);
        if (s->p->show_bar) progress_bar(s->p->cfg->name, b * BLOCK + bn, s->p->ds->n, s->t0);
    }
    return NULL;
}

static void decode_loop(pipe_state *s) {
    const xfer_dataset *ds = s->p->ds;
    for (;;) {
        int i = atomic_fetch_add(&s->next, 1);
        if (i >= ds->n || atomic_load(&s->abort)) break;
        int b = i / BLOCK, buf = b % NBUF, slot = buf * BLOCK + i % BLOCK;
        if (b >= atomic_load(&s->written) + NBUF) {
            pthread_mutex_lock(&s->mu);
            while (b >= atomic_load(&s->written) + NBUF && !atomic_load(&s->abort))
                pthread_cond_wait(&s->cv_free, &s->mu);
            pthread_mutex_unlock(&s->mu);
            if (atomic_load(&s->abort)) break;
        }
        xfer_err_clear(&s->errs[slot]);
        s->ok[slot] = decode_item(ds, i, s->p->S, s->buf[buf] + (size_t)(i % BLOCK) * s->img_bytes,
                                  &s->errs[slot]) == XFER_OK;
        if (atomic_fetch_add(&s->done[buf], 1) + 1 == block_len(s, b)) {
            pthread_mutex_lock(&s->mu);
            pthread_cond_broadcast(&s->cv_ready);
            pthread_mutex_unlock(&s->mu);
        }
    }
}

int xfer_prepare_pipe_run(xfer_prepare_pipe *p, xfer_err *err) {
    p->n_good = p->n_bad = 0;
    pipe_state *s = calloc(1, sizeof *s);
    if (!s) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    s->p = p;
    s->img_bytes = (size_t)p->S * p->S * 3;
    s->nblocks = (p->ds->n + BLOCK - 1) / BLOCK;
    s->t0 = now_s();
    int rc = XFER_OK, nbuf = s->nblocks < NBUF ? s->nblocks : NBUF;
    s->ok = calloc(NBUF * BLOCK, sizeof *s->ok);
    s->errs = calloc(NBUF * BLOCK, sizeof *s->errs);
    int ok = s->ok && s->errs;
    for (int i = 0; i < nbuf && ok; i++)
        ok = (s->buf[i] = malloc(BLOCK * s->img_bytes)) != NULL;
    if (!ok) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory for %d decode buffers", nbuf);
        goto out;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_free, NULL);
    pthread_cond_init(&s->cv_ready, NULL);
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, s) != 0) {
        rc = xfer_fail(err, XFER_EINTERNAL, "cannot start the cache writer thread");
    } else {
#pragma omp parallel
        decode_loop(s);
        pthread_join(writer, NULL);
        rc = s->rc;
        if (rc != XFER_OK)
            *err = s->err;
        else if (p->show_bar)
            fputc('\n', stderr);
    }
    pthread_cond_destroy(&s->cv_ready);
    pthread_cond_destroy(&s->cv_free);
    pthread_mutex_destroy(&s->mu);
out:
    for (int i = 0; i < NBUF; i++)
        free(s->buf[i]);
    free(s->ok);
    free(s->errs);
    free(s);
    return rc;
}
