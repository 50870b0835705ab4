/* Test-only driver for the data module, so Python tests can compare its pieces with PIL, numpy
 * and torchvision without the YAML front end:
 *   data_tool decode FILE SIZE OUT.raw [full]     cache transform of one image -> raw RGB
 *   data_tool prepare key=value...                 xfer_prepare_dataset from a filled config
 *       kind=image_folder|idx|synthetic name= root= images= labels= names=a,b cache= size=
 *       include=a,b exclude=a,b max= onbad=error synth=classes,per,size,seed threads= force=1
 *   data_tool split CACHE SEED FRACTION|TRAIN,TEST     prints "train i..." and "test i..." lines
 *   data_tool batches CACHE OUT.f32 train image_size batch seed epoch prefetch [scale_min]
 *       writes every batch's floats to OUT.f32 and prints "batch n: idx label ..." lines
 *   data_tool crops CACHE image_size scale_min seed epoch   prints "i j h w flip" per image */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/batcher.h"
#include "xfer/cache.h"
#include "xfer/data.h"
#include "xfer/image.h"

static char **split_list(const char *s, int *n) {
    char *copy = strdup(s);
    int cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc((size_t)cap, sizeof *v);
    *n = 0;
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
        v[(*n)++] = strdup(tok);
    free(copy);
    return v;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int do_decode(int argc, char **argv) {
    if (argc < 5) return 2;
    int S = atoi(argv[3]);
    int full = argc > 5 && strcmp(argv[5], "full") == 0;
    xfer_err err;
    xfer_err_clear(&err);
    xfer_rgb img;
    if (xfer_image_decode_file(argv[2], full ? 0 : S, &img, &err) != XFER_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        return err.code;
    }
    uint8_t *out = malloc((size_t)S * S * 3);
    xfer_image_square(&img, S, out);
    FILE *f = fopen(argv[4], "wb");
    fwrite(out, 1, (size_t)S * S * 3, f);
    fclose(f);
    printf("decoded %d %d dct_scale %d\n", img.w, img.h, img.dct_scale);
    free(out);
    xfer_rgb_free(&img);
    return 0;
}

static int do_prepare(int argc, char **argv) {
    xfer_dataset_cfg c;
    memset(&c, 0, sizeof c);
    c.name = "data";
    c.cache_size = 64;
    const char *cache = "cache.h5";
    xfer_prepare_opts o = {0, 0, 0};
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "kind"))
            c.kind = !strcmp(v, "idx")         ? XFER_DS_IDX
                     : !strcmp(v, "synthetic") ? XFER_DS_SYNTHETIC
                                               : XFER_DS_IMAGE_FOLDER;
        else if (!strcmp(k, "name"))
            c.name = (char *)v;
        else if (!strcmp(k, "root"))
            c.root = (char *)v;
        else if (!strcmp(k, "images"))
            c.images = (char *)v;
        else if (!strcmp(k, "labels"))
            c.labels = (char *)v;
        else if (!strcmp(k, "names"))
            c.class_names = split_list(v, &c.n_class_names);
        else if (!strcmp(k, "cache"))
            cache = v;
        else if (!strcmp(k, "size"))
            c.cache_size = atoi(v);
        else if (!strcmp(k, "include"))
            c.include = split_list(v, &c.n_include);
        else if (!strcmp(k, "exclude"))
            c.exclude = split_list(v, &c.n_exclude);
        else if (!strcmp(k, "max"))
            c.max_per_class = atoi(v);
        else if (!strcmp(k, "onbad"))
            c.on_bad_image = !strcmp(v, "error");
        else if (!strcmp(k, "threads"))
            o.threads = atoi(v);
        else if (!strcmp(k, "force"))
            o.force = atoi(v);
        else if (!strcmp(k, "synth")) {
            unsigned long long seed = 0;
            sscanf(v, "%d,%d,%d,%llu", &c.synthetic_classes, &c.synthetic_per_class,
                   &c.synthetic_size, &seed);
            c.synthetic_seed = seed;
        } else {
            fprintf(stderr, "unknown key %s\n", k);
            return 2;
        }
    }
    xfer_err err;
    xfer_err_clear(&err);
    xfer_prepare_result r;
    int rc = xfer_prepare_dataset(&c, cache, &o, &r, &err);
    if (rc != XFER_OK)
        fprintf(stderr, "xfer: error: %s\n", err.msg);
    else
        printf("images %d bad %d skipped %d reused %d rate %.1f\n", r.n_images, r.n_bad,
               r.n_skipped, r.reused, r.images_per_s);
    free_list(c.class_names, c.n_class_names);
    free_list(c.include, c.n_include);
    free_list(c.exclude, c.n_exclude);
    return rc;
}

static int load(const char *path, xfer_imageset *set) {
    xfer_err err;
    xfer_err_clear(&err);
    int rc = xfer_imageset_load(path, set, &err);
    if (rc != XFER_OK) fprintf(stderr, "error: %s\n", err.msg);
    return rc;
}

static int do_split(int argc, char **argv) {
    if (argc < 5) return 2;
    xfer_imageset set;
    if (load(argv[2], &set) != XFER_OK) return 2;
    xfer_dataset_cfg c;
    memset(&c, 0, sizeof c);
    c.name = "data";
    if (strchr(argv[4], ','))
        sscanf(argv[4], "%d,%d", &c.train_per_class, &c.test_per_class);
    else
        c.train_fraction = atof(argv[4]);
    xfer_split sp;
    xfer_err err;
    xfer_err_clear(&err);
    int rc = xfer_split_make(&c, set.labels, set.n, set.n_classes, strtoull(argv[3], NULL, 10), &sp,
                             &err);
    if (rc == XFER_OK) {
        printf("train");
        for (int i = 0; i < sp.n_train; i++)
            printf(" %d", sp.train[i]);
        printf("\ntest");
        for (int i = 0; i < sp.n_test; i++)
            printf(" %d", sp.test[i]);
        printf("\n");
    } else {
        fprintf(stderr, "error: %s\n", err.msg);
    }
    xfer_split_free(&sp);
    xfer_imageset_free(&set);
    return rc;
}

static int do_batches(int argc, char **argv) {
    if (argc < 10) return 2;
    xfer_imageset set;
    if (load(argv[2], &set) != XFER_OK) return 2;
    xfer_batcher_opts o;
    xfer_batcher_opts_default(&o);
    o.train = atoi(argv[4]);
    o.image_size = atoi(argv[5]);
    o.batch_size = atoi(argv[6]);
    o.seed = strtoull(argv[7], NULL, 10);
    int epoch = atoi(argv[8]);
    o.prefetch = atoi(argv[9]);
    if (argc > 10) o.crop_scale_min = atof(argv[10]);
    int *idx = malloc((size_t)set.n * sizeof(int));
    for (int i = 0; i < set.n; i++)
        idx[i] = i;
    xfer_batcher *b;
    xfer_err err;
    xfer_err_clear(&err);
    int rc = xfer_batcher_create(&set, idx, set.n, &o, &b, &err);
    if (rc != XFER_OK) {
        fprintf(stderr, "error: %s\n", err.msg);
        free(idx);
        xfer_imageset_free(&set);
        return rc;
    }
    FILE *f = fopen(argv[3], "wb");
    xfer_batcher_start_epoch(b, epoch);
    xfer_batch bt;
    while (xfer_batcher_next(b, &bt)) {
        fwrite(bt.x, sizeof(float), (size_t)bt.n * o.image_size * o.image_size * 3, f);
        printf("batch %d:", bt.n);
        for (int i = 0; i < bt.n; i++)
            printf(" %d %d", bt.index[i], bt.y[i]);
        printf("\n");
    }
    fclose(f);
    xfer_batcher_free(b);
    free(idx);
    xfer_imageset_free(&set);
    return 0;
}

static int do_crops(int argc, char **argv) {
    if (argc < 7) return 2;
    xfer_imageset set;
    if (load(argv[2], &set) != XFER_OK) return 2;
    xfer_batcher_opts o;
    xfer_batcher_opts_default(&o);
    o.image_size = atoi(argv[3]);
    o.crop_scale_min = atof(argv[4]);
    o.seed = strtoull(argv[5], NULL, 10);
    int epoch = atoi(argv[6]);
    float *buf = malloc((size_t)o.image_size * o.image_size * 3 * sizeof(float));
    for (int i = 0; i < set.n; i++) {
        int c[5];
        xfer_augment_image(set.images + (size_t)i * set.size * set.size * 3, set.size, &o, epoch, i,
                           buf, c);
        printf("%d %d %d %d %d\n", c[0], c[1], c[2], c[3], c[4]);
    }
    free(buf);
    xfer_imageset_free(&set);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "decode")) return do_decode(argc, argv);
    if (!strcmp(argv[1], "prepare")) return do_prepare(argc, argv);
    if (!strcmp(argv[1], "split")) return do_split(argc, argv);
    if (!strcmp(argv[1], "batches")) return do_batches(argc, argv);
    if (!strcmp(argv[1], "crops")) return do_crops(argc, argv);
    return 2;
}
