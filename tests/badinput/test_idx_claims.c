/* Regression (found by fuzz_idx): an IDX header claiming 8 GiB of pixels in a 40-byte file made the
 * reader malloc the claimed size up front. Now the buffer grows with the data read: the scan fails
 * with "truncated" (XFER_EINPUT) under a 256 MiB address-space limit (the limit is skipped under
 * ASan, which reserves terabytes of shadow; the error is still checked there). Also: an image and
 * label count mismatch is refused naming both files. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "test_util.h"
#include "xfer/data.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static void be32(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_file(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n);
    fclose(f);
}

static int scan(const char *images, const char *labels, xfer_err *err) {
    xfer_dataset_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "claims";
    cfg.kind = XFER_DS_IDX;
    cfg.images = (char *)images;
    cfg.labels = (char *)labels;
    xfer_dataset ds;
    int rc = xfer_dataset_scan(&cfg, &ds, err);
    if (rc == XFER_OK) xfer_dataset_free(&ds);
    return rc;
}

int main(void) {
    unsigned char img[16 + 24], lab[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 0};
    memset(img, 7, sizeof img);
    be32(img, 0x803);
    be32(img + 4, 8192); /* 8192 x 1024 x 1024 = 8 GiB claimed, 24 bytes present */
    be32(img + 8, 1024);
    be32(img + 12, 1024);
    write_file("claims-images.idx", img, sizeof img);
    write_file("claims-labels.idx", lab, sizeof lab);
    if (!UNDER_ASAN) {
        struct rlimit rl = {(rlim_t)256 << 20, (rlim_t)256 << 20};
        struct rlimit old;
        getrlimit(RLIMIT_AS, &old);
        if (old.rlim_max != RLIM_INFINITY && old.rlim_max < rl.rlim_max) rl = old;
        CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    }
    xfer_err err;
    int rc = scan("claims-images.idx", "claims-labels.idx", &err);
    CHECK_MSG(rc == XFER_EINPUT && strstr(err.msg, "truncated") &&
                  strstr(err.msg, "claims-images.idx"),
              "8 GiB claim: rc %d: %s", rc, err.msg);

    /* a well-formed 3-image file against 3... then 2 labels: a count mismatch naming both */
    be32(img + 4, 3);
    be32(img + 8, 2);
    be32(img + 12, 4);
    write_file("claims-images.idx", img, sizeof img);
    be32(lab + 4, 2);
    write_file("claims-labels.idx", lab, 10);
    rc = scan("claims-images.idx", "claims-labels.idx", &err);
    CHECK_MSG(rc == XFER_EINPUT && strstr(err.msg, "3 images") && strstr(err.msg, "2 labels"),
              "count mismatch: rc %d: %s", rc, err.msg);
    remove("claims-images.idx");
    remove("claims-labels.idx");
    return test_summary();
}
