/* Shared by the fuzz targets that must hand the parser a path: writes the input to one temp file
 * per process (under $TMPDIR or /tmp, removed at exit) and returns its path. Header-only so the
 * CMake glob (fuzz_*.c, one executable each) needs no change. */
#ifndef XFER_FUZZ_TMP_H
#define XFER_FUZZ_TMP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_tmp_paths[4][512];
static int fuzz_tmp_n;

static void fuzz_tmp_cleanup(void) {
    for (int i = 0; i < fuzz_tmp_n; i++)
        unlink(fuzz_tmp_paths[i]);
}

/* Slot k (0..3) gets a stable path ending in suffix; the data replaces its content. NULL on an
 * I/O failure (the input is then skipped). */
static const char *fuzz_tmp_write(int k, const char *suffix, const uint8_t *data, size_t size) {
    if (fuzz_tmp_paths[k][0] == 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_tmp_paths[k], sizeof fuzz_tmp_paths[k], "%s/xfer-fuzz-%ld-%d%s",
                 dir && *dir ? dir : "/tmp", (long)getpid(), k, suffix);
        if (fuzz_tmp_n == 0) atexit(fuzz_tmp_cleanup);
        fuzz_tmp_n = k + 1 > fuzz_tmp_n ? k + 1 : fuzz_tmp_n;
    }
    FILE *f = fopen(fuzz_tmp_paths[k], "wb");
    if (!f) return NULL;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size) return NULL;
    return fuzz_tmp_paths[k];
}

#endif
