/* The runner's GPU batch path against the CPU batcher (include/xfer/batcher.h), which is the
 * reference: the host-side plan (src/run/gpu_batch.c: order, labels, crop boxes, flips) must be the
 * batcher's choices, and the shared pixel function (kernels/augment_pil.h) run on the host must
 * give the batcher's floats bit for bit — RandomResizedCrop with PIL's antialiased filter, flips,
 * centre crops, upscaling when the cache is smaller than the input. Runs everywhere.
 * Built with XFER_TEST_DEVICE (test cuda_batches, label gpu): the kernel itself
 * (xfer_cuda_augment_batch) on a GPU against the same batches, bit for bit; skipped without one. */
#include <stdint.h>
#include <string.h>

#include "augment_pil.h"
#include "gpu_batch.h"
#include "test_util.h"
#include "xfer/backend.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"
#include "xfer/data.h"

static void make_set(xfer_imageset *set, int n, int S, int classes) {
    memset(set, 0, sizeof *set);
    set->n = n;
    set->size = S;
    set->n_classes = classes;
    set->images = malloc((size_t)n * S * S * 3);
    set->labels = malloc(sizeof(int32_t) * n);
    uint64_t s = 7;
    for (int i = 0; i < n; i++) {
        set->labels[i] = i % classes;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                for (int c = 0; c < 3; c++) {
                    s = xfer_splitmix64(s);
                    /* smooth ramps plus noise, saturating at both ends sometimes */
                    int v = 5 * i + 4 * y + 3 * x * (c + 1) - 60 + (int)(s >> 58);
                    set->images[(((size_t)i * S + y) * S + x) * 3 + c] = (uint8_t)(v < 0     ? 0
                                                                                   : v > 255 ? 255
                                                                                             : v);
                }
    }
}

static int bits_equal(const float *a, const float *b, size_t n, size_t *first) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            *first = i;
            return 0;
        }
    return 1;
}

typedef struct {
    const char *what;
    int train, rrc, hflip, drop_last, T;
    double scale_min;
} variant;

static void run_variant(const xfer_imageset *set, const variant *v, xfer_backend *gpu,
                        xfer_cuda_image_cache *cache) {
    xfer_batcher_opts o;
    xfer_batcher_opts_default(&o);
    o.batch_size = 7;
    o.image_size = v->T;
    o.train = v->train;
    o.random_resized_crop = v->rrc;
    o.hflip = v->hflip;
    o.drop_last = v->drop_last;
    o.crop_scale_min = v->scale_min;
    o.seed = 42;
    o.prefetch = 0;
    const float mean[3] = {0.5f, 0.4f, 0.3f}, sd[3] = {0.2f, 0.25f, 0.3f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, sd, sizeof sd);
    int idx[29];
    for (int i = 0; i < 29; i++)
        idx[i] = (i * 7 + 3) % set->n; /* a subset in a scrambled order */
    xfer_err e;
    xfer_err_clear(&e);
    xfer_batcher *cpu = NULL;
    run_batch_plan plan;
    CHECK(xfer_batcher_create(set, idx, 29, &o, &cpu, &e) == XFER_OK);
    CHECK(run_batch_plan_init(&plan, set, idx, 29, &o, &e) == XFER_OK);
    if (!cpu || !plan.order) return;
    CHECK_MSG(plan.n_batches == xfer_batcher_n_batches(cpu), "%s", v->what);
    const int T = v->T, S = set->size;
    size_t img = (size_t)T * T * 3;
    float *mine = malloc(sizeof(float) * img * o.batch_size);
    float *dev = gpu ? gpu->alloc(gpu, sizeof(float) * img * o.batch_size, "out", &e) : NULL;
    int32_t *dy = gpu ? gpu->alloc(gpu, sizeof(int32_t) * o.batch_size, "labels", &e) : NULL;
    float scale[3], shift[3];
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * o.std[c]);
        shift[c] = -o.mean[c] / o.std[c];
    }
    int mismatched_boxes = 0, mismatched_pixels = 0, mismatched_gpu = 0, batches = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        xfer_batcher_start_epoch(cpu, epoch);
        run_batch_plan_epoch(&plan, epoch);
        xfer_batch bt;
        for (int k = 0; xfer_batcher_next(cpu, &bt); k++) {
            batches++;
            CHECK(bt.number == k);
            int n = run_batch_plan_fill(&plan, k);
            CHECK_MSG(n == bt.n, "%s epoch %d batch %d: %d images, batcher %d", v->what, epoch, k,
                      n, bt.n);
            if (n != bt.n) continue;
            for (int i = 0; i < n; i++) {
                CHECK(plan.index[i] == bt.index[i]);
                CHECK(plan.labels[i] == bt.y[i]);
                /* the box against the one xfer_augment_image reports */
                int crop[5];
                float *tmp = malloc(sizeof(float) * img);
                xfer_augment_image(set->images + (size_t)bt.index[i] * S * S * 3, S, &o, epoch,
                                   bt.index[i], tmp, crop);
                free(tmp);
                const xfer_aug_box *b = &plan.boxes[i];
                if (b->y0 != crop[0] || b->x0 != crop[1] || b->h != crop[2] || b->w != crop[3] ||
                    b->flip != crop[4])
                    mismatched_boxes++;
                xk_aug_box kb;
                memcpy(&kb, b, sizeof kb);
                const uint8_t *src = set->images + (size_t)b->index * S * S * 3;
                for (int y = 0; y < T; y++)
                    for (int x = 0; x < T; x++)
                        xk_aug_pixel(src, S, &kb, T, y, x, scale, shift,
                                     mine + (size_t)i * img + ((size_t)y * T + x) * 3);
            }
            size_t first = 0;
            if (!bits_equal(mine, bt.x, img * n, &first)) {
                mismatched_pixels++;
                fprintf(stderr, "%s epoch %d batch %d: value %zu is %.9g, the batcher's %.9g\n",
                        v->what, epoch, k, first, mine[first], bt.x[first]);
            }
            if (gpu && dev && dy && (!getenv("XFER_TEST_SMALL") || (epoch == 0 && k == 0))) {
                float *got = malloc(sizeof(float) * img * n);
                int32_t gl[7];
                CHECK(xfer_cuda_augment_batch(gpu, cache, plan.boxes, plan.labels, n, T, o.mean,
                                              o.std, dev, dy, &e) == XFER_OK);
                CHECK(gpu->download(gpu, got, dev, sizeof(float) * img * n, &e) == XFER_OK);
                CHECK(gpu->download(gpu, gl, dy, sizeof(int32_t) * n, &e) == XFER_OK);
                if (!bits_equal(got, bt.x, img * n, &first)) {
                    mismatched_gpu++;
                    fprintf(stderr, "%s epoch %d batch %d (GPU): value %zu is %.9g, CPU %.9g\n",
                            v->what, epoch, k, first, got[first], bt.x[first]);
                }
                CHECK(memcmp(gl, bt.y, sizeof(int32_t) * n) == 0);
                free(got);
            }
        }
    }
    CHECK_MSG(batches == 3 * plan.n_batches, "%s: %d batches", v->what, batches);
    CHECK_MSG(mismatched_boxes == 0, "%s: %d boxes differ", v->what, mismatched_boxes);
    CHECK_MSG(mismatched_pixels == 0, "%s: %d batches differ (host pixel function)", v->what,
              mismatched_pixels);
    CHECK_MSG(mismatched_gpu == 0, "%s: %d batches differ (GPU kernel)", v->what, mismatched_gpu);
    printf("%-28s %d batches: boxes, order, labels and every float equal%s\n", v->what, batches,
           gpu ? " (host and GPU)" : " (host)");
    if (gpu) {
        gpu->free(gpu, dev);
        gpu->free(gpu, dy);
    }
    free(mine);
    xfer_batcher_free(cpu);
    run_batch_plan_free(&plan);
}

int main(void) {
    xfer_backend *gpu = NULL;
    xfer_cuda_image_cache *cache = NULL;
    xfer_imageset set;
    make_set(&set, 40, 36, 5);
#ifdef XFER_TEST_DEVICE
    if (!xfer_cuda_available()) XFER_SKIP("no CUDA device");
    xfer_err e;
    xfer_err_clear(&e);
    gpu = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!gpu) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    CHECK(xfer_cuda_cache_upload(gpu, set.images, set.n, set.size, set.size, &cache, &e) ==
          XFER_OK);
    /* a box outside the cache is an input error naming the box */
    xfer_aug_box bad = {1, 0, 30, 0, 10, 10, 0, 0};
    int32_t lab = 0;
    float *out = gpu->alloc(gpu, sizeof(float) * 8 * 8 * 3, "out", &e);
    CHECK(xfer_cuda_augment_batch(gpu, cache, &bad, &lab, 1, 8, (float[3]){0, 0, 0},
                                  (float[3]){1, 1, 1}, out, NULL, &e) == XFER_EINPUT);
    CHECK(strstr(e.msg, "box 0") != NULL);
    gpu->free(gpu, out);
#endif
    const variant vs[] = {
        {"train rrc+flip T=24", 1, 1, 1, 0, 24, 0.08},
        {"train rrc+flip T=48 (up)", 1, 1, 1, 1, 48, 0.08},
        {"train rrc, no flip, T=30", 1, 1, 0, 0, 30, 0.5},
        {"train centre crop+flip T=32", 1, 0, 1, 0, 32, 0.08},
        {"eval centre crop T=30", 0, 1, 1, 0, 30, 0.08},
        {"eval upscale T=50", 0, 1, 1, 0, 50, 0.08},
    };
    /* XFER_TEST_SMALL (the kernel emulator under ThreadSanitizer): the kernel on one batch */
    int small = getenv("XFER_TEST_SMALL") != NULL;
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++)
        run_variant(&set, &vs[i], small && i > 0 ? NULL : gpu, cache);
    if (gpu) {
        xfer_cuda_cache_free(gpu, cache);
        xfer_backend_release(gpu);
    }
    free(set.images);
    free(set.labels);
    return test_summary();
}
