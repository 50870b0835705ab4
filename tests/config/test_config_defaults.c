/* Every default of the config (docs/config.md) on a minimal config, and every value of a full one
 * read back. Expected values are the documented ones: the paper's recipe (Ueno, Azuma, Kondo),
 * torchvision's ImageNet normalisation and RandomResizedCrop scale, and the values written in the
 * YAML text below. */
#include <string.h>

#include "test_util.h"
#include "xfer/config.h"

static int load(const char *text, xfer_config *cfg, xfer_err *err) {
    return xfer_config_load_string(text, strlen(text), "test.yaml", cfg, err);
}

static void check_paper_recipe(const xfer_recipe_cfg *r) {
    CHECK(r->epochs == 30);
    CHECK(r->batch_size == 32);
    CHECK_CLOSE(r->lr, 0.001, 0, 0);
    CHECK_CLOSE(r->momentum, 0.9, 0, 0);
    CHECK(r->weight_decay == 0);
    CHECK(!r->nesterov);
    CHECK(r->step_size == 7);
    CHECK_CLOSE(r->gamma, 0.1, 0, 0);
    CHECK(r->random_resized_crop);
    CHECK_CLOSE(r->crop_scale_min, 0.08, 0, 0);
    CHECK(r->hflip);
    CHECK(!r->drop_last);
    CHECK(r->eval_every == 1);
    CHECK_CLOSE(r->dropout, 0.5, 0, 0);
}

static void test_minimal_defaults(void) {
    const char *text = "experiment: mini\n"
                       "datasets:\n"
                       "  f:\n"
                       "    kind: image_folder\n"
                       "    root: data/f\n"
                       "  s:\n"
                       "    kind: synthetic\n"
                       "    synthetic: {classes: 4, per_class: 5}\n"
                       "sources:\n"
                       "  - name: a\n"
                       "    arch: alexnet\n"
                       "    weights: random\n"
                       "  - name: b\n"
                       "    arch: alexnet\n"
                       "    train: {dataset: s}\n"
                       "target:\n"
                       "  dataset: f\n";
    xfer_config cfg;
    xfer_err err;
    int rc = load(text, &cfg, &err);
    CHECK_MSG(rc == XFER_OK, "%s", err.msg);
    if (rc != XFER_OK) return;
    CHECK(!strcmp(cfg.path, "test.yaml"));
    CHECK(!strcmp(cfg.text, text));
    CHECK(!strcmp(cfg.experiment, "mini"));
    CHECK(cfg.seed == 0);
    CHECK(cfg.n_seeds == 1);
    CHECK(cfg.device == XFER_DEVICE_AUTO);
    CHECK(cfg.precision == XFER_PREC_FP32);
    CHECK(!strcmp(cfg.output, "results/mini/results.h5"));
    CHECK(!cfg.output_set);

    CHECK(cfg.n_datasets == 2);
    const xfer_dataset_cfg *f = xfer_config_dataset(&cfg, "f");
    CHECK(f && f == &cfg.datasets[0]);
    if (f) {
        CHECK(f->mark.line == 3 && f->mark.col == 3);
        CHECK(f->kind == XFER_DS_IMAGE_FOLDER);
        CHECK(!strcmp(f->root, "data/f"));
        CHECK(f->root_mark.line == 5 && f->root_mark.col == 11);
        CHECK(!f->images && !f->labels && !f->class_names_file && !f->class_names);
        CHECK(f->n_class_names == 0 && f->n_exclude == 0 && f->n_include == 0);
        CHECK(f->max_per_class == 0);
        CHECK_CLOSE(f->train_fraction, 0.8, 0, 0);
        CHECK(f->train_per_class == 0 && f->test_per_class == 0);
        CHECK(f->split_seed == 0 && !f->split_seed_set);
        CHECK(f->image_size == 224);
        CHECK(f->cache_size == 256 && !f->cache_size_set);
        const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        for (int i = 0; i < 3; i++) {
            CHECK(f->mean[i] == mean[i]);
            CHECK(f->std[i] == std[i]);
        }
        CHECK(!f->cache);
        CHECK(f->on_bad_image == XFER_BAD_IMAGE_WARN);
    }
    const xfer_dataset_cfg *s = xfer_config_dataset(&cfg, "s");
    CHECK(s != NULL);
    if (s) {
        CHECK(s->kind == XFER_DS_SYNTHETIC);
        CHECK(s->synthetic_classes == 4 && s->synthetic_per_class == 5);
        CHECK(s->synthetic_size == 256); /* default: cache_size */
        CHECK(s->synthetic_seed == 0 && !s->synthetic_seed_set);
    }
    CHECK(xfer_config_dataset(&cfg, "nope") == NULL);

    CHECK(cfg.n_sources == 2);
    const xfer_source_cfg *a = xfer_config_source(&cfg, "a");
    CHECK(a != NULL);
    if (a) {
        CHECK(!strcmp(a->arch, "alexnet"));
        CHECK(a->width == 1.0);
        CHECK(!strcmp(a->weights, "random"));
        CHECK(!a->classes);
        CHECK(a->init_seed == 0 && !a->init_seed_set);
        CHECK(!a->has_train && !a->train_from && !a->train_dataset);
    }
    const xfer_source_cfg *b = xfer_config_source(&cfg, "b");
    CHECK(b != NULL);
    if (b) {
        CHECK(!b->weights);
        CHECK(b->has_train);
        CHECK(!b->train_from); /* absent = from scratch */
        CHECK(!strcmp(b->train_dataset, "s"));
        check_paper_recipe(&b->train);
    }
    CHECK(!strcmp(cfg.target.dataset, "f"));
    check_paper_recipe(&cfg.target.finetune);
    CHECK(cfg.n_scores == 0);
    CHECK(!cfg.word_vectors.present);
    CHECK(!strcmp(cfg.word_vectors.wordnet_dir, "/usr/share/wordnet"));
    xfer_config_free(&cfg);
    CHECK(cfg.datasets == NULL && cfg.n_sources == 0);
    xfer_config_free(&cfg); /* freeing twice is harmless */
}

static void test_full_values(void) {
    const char *text =
        "experiment: full\n"
        "seed: 18446744073709551615\n"
        "seeds: 5\n"
        "device: cuda\n"
        "precision: bf16\n"
        "output: out/r.h5\n"
        "datasets:\n"
        "  x:\n"
        "    kind: idx\n"
        "    images: i.gz\n"
        "    labels: l.gz\n"
        "    class_names: [T-shirt/top, Trouser]\n"
        "    exclude: [Trouser]\n"
        "    include: [T-shirt/top, Trouser]\n"
        "    max_per_class: 100\n"
        "    split: {train_per_class: 30, test_per_class: 20, seed: 7}\n"
        "    image_size: 32\n"
        "    mean: [0.5, -0.25, 1e-1]\n"
        "    std: [0.5, 0.25, 2]\n"
        "    cache: c.h5\n"
        "    on_bad_image: error\n"
        "  y:\n"
        "    kind: synthetic\n"
        "    class_names: names.txt\n"
        "    synthetic: {classes: 3, per_class: 2, size: 48, seed: 9}\n"
        "    image_size: 56\n"
        "    cache_size: 64\n"
        "    split: {train_fraction: 0.5}\n"
        "sources:\n"
        "  - name: base\n"
        "    arch: resnet34\n"
        "    width: 0.25\n"
        "    weights: w.safetensors\n"
        "    classes: c.txt\n"
        "    init_seed: 3\n"
        "  - name: tuned\n"
        "    arch: resnet34\n"
        "    width: 0.25\n"
        "    train:\n"
        "      from: base\n"
        "      dataset: y\n"
        "      epochs: 4\n"
        "      batch_size: 8\n"
        "      optimizer: {sgd: {lr: 0.01, momentum: 0.5, weight_decay: 1e-4, nesterov: true}}\n"
        "      schedule: {step: {step_size: 2, gamma: 0.5}}\n"
        "      augmentation: {random_resized_crop: false, crop_scale_min: 0.5, hflip: false}\n"
        "      drop_last: true\n"
        "      eval_every: 2\n"
        "      dropout: 0\n"
        "  - name: scratch\n"
        "    arch: alexnet\n"
        "    train: {from: random, dataset: x}\n"
        "target:\n"
        "  dataset: x\n"
        "  finetune: {epochs: 3}\n"
        "scores:\n"
        "  - leep\n"
        "  - emd: {temperature: 2, mode: fast}\n"
        "word_vectors:\n"
        "  path: v.bin\n"
        "  name_vector: mean\n"
        "  class_distance: wordnet\n"
        "  wordnet_dir: wn\n"
        "  synonyms: {tshirt: shirt, ankle: boot}\n";
    xfer_config cfg;
    xfer_err err;
    int rc = load(text, &cfg, &err);
    CHECK_MSG(rc == XFER_OK, "%s", err.msg);
    if (rc != XFER_OK) return;
    CHECK(cfg.seed == 18446744073709551615ull);
    CHECK(cfg.n_seeds == 5 && cfg.seeds_mark.line == 3 && cfg.seeds_mark.col == 8);
    CHECK(cfg.device == XFER_DEVICE_CUDA && cfg.precision == XFER_PREC_BF16);
    CHECK(!strcmp(cfg.output, "out/r.h5") && cfg.output_set);
    const xfer_dataset_cfg *x = &cfg.datasets[0], *y = &cfg.datasets[1];
    CHECK(x->kind == XFER_DS_IDX && !strcmp(x->images, "i.gz") && !strcmp(x->labels, "l.gz"));
    CHECK(x->n_class_names == 2 && !strcmp(x->class_names[0], "T-shirt/top") &&
          !strcmp(x->class_names[1], "Trouser"));
    CHECK(x->n_exclude == 1 && !strcmp(x->exclude[0], "Trouser"));
    CHECK(x->n_include == 2);
    CHECK(x->max_per_class == 100);
    CHECK(x->train_per_class == 30 && x->test_per_class == 20 && x->train_fraction == 0);
    CHECK(x->split_seed == 7 && x->split_seed_set);
    CHECK(x->image_size == 32 && x->cache_size == 37); /* round(32 * 256 / 224) = 37 */
    CHECK(x->mean[0] == 0.5f && x->mean[1] == -0.25f && x->mean[2] == 0.1f);
    CHECK(x->std[0] == 0.5f && x->std[1] == 0.25f && x->std[2] == 2.0f);
    CHECK(!strcmp(x->cache, "c.h5") && x->on_bad_image == XFER_BAD_IMAGE_ERROR);
    CHECK(y->kind == XFER_DS_SYNTHETIC && !strcmp(y->class_names_file, "names.txt"));
    CHECK(y->synthetic_classes == 3 && y->synthetic_per_class == 2 && y->synthetic_size == 48);
    CHECK(y->synthetic_seed == 9 && y->synthetic_seed_set);
    CHECK(y->cache_size == 64 && y->cache_size_set && y->image_size == 56);
    CHECK(y->split_seed == cfg.seed && !y->split_seed_set); /* default: the experiment seed */
    CHECK(y->train_fraction == 0.5);

    const xfer_source_cfg *base = &cfg.sources[0], *tuned = &cfg.sources[1],
                          *scratch = &cfg.sources[2];
    CHECK(!strcmp(base->arch, "resnet34") && base->width == 0.25);
    CHECK(!strcmp(base->weights, "w.safetensors") && !strcmp(base->classes, "c.txt"));
    CHECK(base->init_seed == 3 && base->init_seed_set);
    CHECK(tuned->has_train && !strcmp(tuned->train_from, "base") &&
          !strcmp(tuned->train_dataset, "y"));
    CHECK(tuned->init_seed == cfg.seed && !tuned->init_seed_set);
    const xfer_recipe_cfg *r = &tuned->train;
    CHECK(r->epochs == 4 && r->batch_size == 8);
    CHECK(r->lr == 0.01 && r->momentum == 0.5 && r->weight_decay == 1e-4 && r->nesterov);
    CHECK(r->step_size == 2 && r->gamma == 0.5);
    CHECK(!r->random_resized_crop && r->crop_scale_min == 0.5 && !r->hflip);
    CHECK(r->drop_last && r->eval_every == 2 && r->dropout == 0);
    CHECK(scratch->has_train && !scratch->train_from && !strcmp(scratch->train_dataset, "x"));
    CHECK(cfg.target.finetune.epochs == 3 && cfg.target.finetune.batch_size == 32);

    CHECK(cfg.n_scores == 2);
    const xfer_score_cfg *emd = xfer_config_score(&cfg, "emd");
    CHECK(emd && emd->n_params == 2);
    if (emd) {
        CHECK(!strcmp(xfer_score_param(emd, "temperature"), "2"));
        CHECK(!strcmp(xfer_score_param(emd, "mode"), "fast"));
        CHECK(xfer_score_param(emd, "other") == NULL);
    }
    CHECK(xfer_config_score(&cfg, "leep") && xfer_config_score(&cfg, "leep")->n_params == 0);
    const xfer_wordvec_cfg *w = &cfg.word_vectors;
    CHECK(w->present && !strcmp(w->path, "v.bin"));
    CHECK(w->format == XFER_WV_BIN); /* from the .bin extension */
    CHECK(w->name_vector == XFER_NAMEVEC_MEAN && w->class_distance == XFER_CLASSDIST_WORDNET);
    CHECK(!strcmp(w->wordnet_dir, "wn"));
    CHECK(w->n_synonyms == 2 && !strcmp(w->synonym_from[1], "ankle") &&
          !strcmp(w->synonym_to[1], "boot"));
    xfer_config_free(&cfg);
}

static void test_names_and_lists(void) {
    CHECK(!strcmp(xfer_device_name(XFER_DEVICE_CPU), "cpu"));
    CHECK(!strcmp(xfer_precision_name(XFER_PREC_TF32), "tf32"));
    CHECK(!strcmp(xfer_dataset_kind_name(XFER_DS_IDX), "idx"));
    CHECK(!strcmp(xfer_wordvec_format_name(XFER_WV_VEC), "vec"));
    CHECK(!strcmp(xfer_namevec_mode_name(XFER_NAMEVEC_SUM), "sum"));
    CHECK(!strcmp(xfer_class_distance_name(XFER_CLASSDIST_WORDVEC), "wordvec"));
    int n = 0;
    while (xfer_known_scores[n])
        n++;
    CHECK(n == 18);
    CHECK(xfer_score_is_known("parc") && !xfer_score_is_known("PARC"));
    xfer_recipe_cfg r;
    memset(&r, 0xff, sizeof r);
    r.mark = (xfer_mark){4, 2};
    xfer_recipe_defaults(&r);
    check_paper_recipe(&r);
    CHECK(r.mark.line == 4 && r.mark.col == 2);
}

static void test_vec_format_default(void) {
    const char *text = "experiment: v\n"
                       "datasets: {d: {kind: synthetic, synthetic: {classes: 2, per_class: 2}}}\n"
                       "sources: [{name: a, arch: alexnet, weights: random}]\n"
                       "target: {dataset: d}\n"
                       "scores: [emd]\n"
                       "word_vectors: {path: vectors.txt}\n";
    xfer_config cfg;
    xfer_err err;
    int rc = load(text, &cfg, &err);
    CHECK_MSG(rc == XFER_OK, "%s", err.msg);
    if (rc != XFER_OK) return;
    CHECK(cfg.word_vectors.format == XFER_WV_VEC);
    CHECK(cfg.word_vectors.name_vector == XFER_NAMEVEC_SUM);
    CHECK(cfg.word_vectors.class_distance == XFER_CLASSDIST_WORDVEC);
    CHECK(cfg.word_vectors.path_mark.line == 6 && cfg.word_vectors.path_mark.col == 22);
    xfer_config_free(&cfg);
}

int main(void) {
    test_minimal_defaults();
    test_full_values();
    test_names_and_lists();
    test_vec_format_default();
    return test_summary();
}
