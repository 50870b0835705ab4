/* Freeing a config, lookups by name, and the names of enum values as written in YAML. */
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

static void free_dataset(xfer_dataset_cfg *d) {
    free(d->name);
    free(d->root);
    free(d->images);
    free(d->labels);
    free(d->class_names_file);
    cfg_free_strings(d->class_names, d->n_class_names);
    cfg_free_strings(d->exclude, d->n_exclude);
    cfg_free_strings(d->include, d->n_include);
    free(d->cache);
    free(d->list);
}

static void free_source(xfer_source_cfg *s) {
    free(s->name);
    free(s->arch);
    free(s->weights);
    free(s->classes);
    free(s->ground_truth_name);
    free(s->train_from);
    free(s->train_dataset);
}

void xfer_config_free(xfer_config *cfg) {
    if (!cfg) return;
    free(cfg->path);
    free(cfg->text);
    free(cfg->experiment);
    free(cfg->output);
    for (int i = 0; i < cfg->n_datasets; i++)
        free_dataset(&cfg->datasets[i]);
    free(cfg->datasets);
    for (int i = 0; i < cfg->n_sources; i++)
        free_source(&cfg->sources[i]);
    free(cfg->sources);
    free(cfg->target.dataset);
    free(cfg->target.prune.seed_by);
    free(cfg->canon_sans_prune);
    for (int i = 0; i < cfg->n_scores; i++) {
        free(cfg->scores[i].name);
        cfg_free_strings(cfg->scores[i].param_keys, cfg->scores[i].n_params);
        cfg_free_strings(cfg->scores[i].param_values, cfg->scores[i].n_params);
    }
    free(cfg->scores);
    xfer_wordvec_cfg *w = &cfg->word_vectors;
    free(w->path);
    free(w->wordnet_dir);
    cfg_free_strings(w->synonym_from, w->n_synonyms);
    cfg_free_strings(w->synonym_to, w->n_synonyms);
    memset(cfg, 0, sizeof *cfg);
}

const xfer_dataset_cfg *xfer_config_dataset(const xfer_config *cfg, const char *name) {
    for (int i = 0; name && i < cfg->n_datasets; i++)
        if (cfg->datasets[i].name && !strcmp(cfg->datasets[i].name, name)) return &cfg->datasets[i];
    return NULL;
}

const xfer_source_cfg *xfer_config_source(const xfer_config *cfg, const char *name) {
    for (int i = 0; name && i < cfg->n_sources; i++)
        if (cfg->sources[i].name && !strcmp(cfg->sources[i].name, name)) return &cfg->sources[i];
    return NULL;
}

const xfer_score_cfg *xfer_config_score(const xfer_config *cfg, const char *name) {
    for (int i = 0; name && i < cfg->n_scores; i++)
        if (cfg->scores[i].name && !strcmp(cfg->scores[i].name, name)) return &cfg->scores[i];
    return NULL;
}

const char *xfer_score_param(const xfer_score_cfg *s, const char *key) {
    for (int i = 0; key && i < s->n_params; i++)
        if (s->param_keys[i] && !strcmp(s->param_keys[i], key)) return s->param_values[i];
    return NULL;
}

const char *xfer_device_name(xfer_device_kind d) {
    switch (d) {
    case XFER_DEVICE_AUTO:
        return "auto";
    case XFER_DEVICE_CPU:
        return "cpu";
    case XFER_DEVICE_CUDA:
        return "cuda";
    }
    return "?";
}

const char *xfer_precision_name(xfer_precision p) {
    switch (p) {
    case XFER_PREC_FP32:
        return "fp32";
    case XFER_PREC_TF32:
        return "tf32";
    case XFER_PREC_BF16:
        return "bf16";
    }
    return "?";
}

const char *xfer_dataset_kind_name(xfer_dataset_kind k) {
    switch (k) {
    case XFER_DS_IMAGE_FOLDER:
        return "image_folder";
    case XFER_DS_IDX:
        return "idx";
    case XFER_DS_SYNTHETIC:
        return "synthetic";
    case XFER_DS_IMAGE_LIST:
        return "image_list";
    }
    return "?";
}

const char *xfer_wordvec_format_name(xfer_wordvec_format f) {
    return f == XFER_WV_BIN ? "bin" : f == XFER_WV_VEC ? "vec" : "?";
}

const char *xfer_namevec_mode_name(xfer_namevec_mode m) {
    return m == XFER_NAMEVEC_MEAN ? "mean" : m == XFER_NAMEVEC_SUM ? "sum" : "?";
}

const char *xfer_class_distance_name(xfer_class_distance d) {
    return d == XFER_CLASSDIST_WORDNET ? "wordnet" : d == XFER_CLASSDIST_WORDVEC ? "wordvec" : "?";
}
