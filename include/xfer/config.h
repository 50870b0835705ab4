/* The experiment config: YAML parsed with libyaml's document API into these typed structs, with
 * defaults filled in, then validated. Every key, type, default and meaning is documented in
 * docs/config.md. Strings are heap-owned by the config and freed by xfer_config_free(). */
#ifndef XFER_CONFIG_H
#define XFER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer/error.h"

/* A position in the YAML file, 1-based (what editors show). line == 0: not from the file. */
typedef struct {
    int line, col;
} xfer_mark;

typedef enum { XFER_DEVICE_AUTO = 0, XFER_DEVICE_CPU, XFER_DEVICE_CUDA } xfer_device_kind;
typedef enum { XFER_PREC_FP32 = 0, XFER_PREC_TF32, XFER_PREC_BF16 } xfer_precision;
typedef enum {
    XFER_DS_IMAGE_FOLDER = 0,
    XFER_DS_IDX,
    XFER_DS_SYNTHETIC,
    XFER_DS_IMAGE_LIST
} xfer_dataset_kind;
typedef enum { XFER_BAD_IMAGE_WARN = 0, XFER_BAD_IMAGE_ERROR } xfer_bad_image_policy;
typedef enum { XFER_WV_VEC = 0, XFER_WV_BIN } xfer_wordvec_format;
typedef enum { XFER_NAMEVEC_SUM = 0, XFER_NAMEVEC_MEAN } xfer_namevec_mode;
typedef enum { XFER_CLASSDIST_WORDVEC = 0, XFER_CLASSDIST_WORDNET } xfer_class_distance;

typedef struct {
    char *name;
    xfer_mark mark;
    xfer_dataset_kind kind;
    /* image_folder: the folder of class folders; image_list: the folder the list's relative paths
     * start from (NULL: the list file's folder) */
    char *root;
    /* image_list: a text/CSV file of `path,label[,split]` lines (docs/config.md) */
    char *list;
    /* idx: images and labels files (plain or .gz); class names from a file or inline */
    char *images, *labels;
    char *class_names_file;
    char **class_names;
    int n_class_names;
    /* class selection: `exclude` drops classes by display name; `include` (if non-empty) keeps
     * only these, in this order of precedence: include first, then exclude. */
    char **exclude;
    int n_exclude;
    char **include;
    int n_include;
    int max_per_class; /* 0 = all images of each class (taken in file order after sorting) */
    /* split: either train_fraction (0,1) or train_per_class/test_per_class (>0); seed */
    double train_fraction;               /* default 0.8 when neither form is given */
    int train_per_class, test_per_class; /* 0 = unset; test_per_class 0 with train_per_class set
                                            means "all the rest" */
    uint64_t split_seed;                 /* default: the experiment seed */
    bool split_seed_set;
    int image_size;        /* network input, default 224 */
    int cache_size;        /* shorter side in the decoded cache, default
                              round(image_size * 256 / 224): 256 for 224 */
    float mean[3], std[3]; /* default ImageNet: 0.485 0.456 0.406 / 0.229 0.224 0.225 */
    char *cache;           /* cache file; NULL = <output dir>/cache/<name>.h5 */
    xfer_bad_image_policy on_bad_image;
    /* synthetic */
    int synthetic_classes, synthetic_per_class, synthetic_size; /* size default: cache_size */
    uint64_t synthetic_seed;                                    /* default: the experiment seed */
    /* added: where the values were written, for messages about them (line 0: not given) */
    xfer_mark kind_mark, root_mark, images_mark, labels_mark, class_names_mark, cache_mark;
    bool synthetic_seed_set; /* synthetic.seed was given */
    bool cache_size_set;     /* cache_size was given (else derived from image_size) */
    bool split_set;          /* a split block was given */
    xfer_mark list_mark, split_mark;
} xfer_dataset_cfg;

/* The learning-rate schedule: torch's StepLR, or CosineAnnealingLR with T_max = epochs, stepped
 * once per epoch (docs/config.md). */
typedef enum { XFER_SCHED_STEP = 0, XFER_SCHED_COSINE } xfer_schedule_kind;
/* What test accuracy means: top-1, or the mean of the per-class recalls (docs/config.md). */
typedef enum { XFER_ACC_TOP1 = 0, XFER_ACC_MEAN_PER_CLASS } xfer_accuracy_kind;

/* A training recipe (fine-tuning the target, or building a source). Defaults are the paper's
 * (Ueno, Azuma, Kondo: Model selection for efficient transfer learning in image recognition):
 * cross-entropy, SGD lr 0.001 momentum 0.9, 30 epochs, StepLR step 7 gamma 0.1. */
typedef struct {
    xfer_mark mark;
    int epochs;                  /* default 30 */
    int batch_size;              /* default 32 */
    double lr;                   /* default 0.001 */
    double momentum;             /* default 0.9 */
    double weight_decay;         /* default 0 */
    bool nesterov;               /* default false */
    xfer_schedule_kind schedule; /* default step */
    int step_size;               /* StepLR, default 7 */
    double gamma;                /* StepLR, default 0.1 */
    double eta_min;              /* cosine: the final learning rate, default 0 */
    xfer_accuracy_kind accuracy; /* default top1 */
    bool random_resized_crop;    /* default true */
    double crop_scale_min;       /* RandomResizedCrop scale lower bound, default 0.08 */
    bool hflip;                  /* default true */
    bool drop_last;              /* drop the last partial training batch, default false */
    int eval_every;              /* evaluate on the test split every N epochs, default 1 */
    double dropout;              /* AlexNet dropout p, default 0.5 */
} xfer_recipe_cfg;

typedef struct {
    char *name;
    xfer_mark mark;
    char *arch;         /* XFER_ARCH_NAMES (include/xfer/nn.h) */
    double width;       /* channel width multiplier, default 1.0 (small models for the demo) */
    char *weights;      /* .safetensors path, or "random"; NULL when built by `train` */
    char *classes;      /* file of the source's class names, one per line (EMD ground distance) */
    uint64_t init_seed; /* seed of random initialisation, default: experiment seed */
    /* optional: build this source by training */
    bool has_train;
    xfer_mark train_mark;
    char *train_from; /* name of another source; NULL = from scratch (`from: random` or absent) */
    xfer_mark train_from_mark;
    char *train_dataset; /* dataset name */
    xfer_recipe_cfg train;
    /* added */
    xfer_mark arch_mark, weights_mark, classes_mark, train_dataset_mark;
    bool init_seed_set; /* init_seed was given */
    /* optional `prior`: a per-source number known without target data (e.g. the source's
     * published ImageNet top-1), reported as the `prior` baseline (docs/metrics.md) */
    bool has_prior;
    double prior;
    xfer_mark prior_mark;
    /* optional `ground_truth_name`: the column of a published-accuracy file (`xfer report
     * --ground-truth`) this source is matched to; NULL: its arch */
    char *ground_truth_name;
    xfer_mark ground_truth_name_mark;
} xfer_source_cfg;

typedef struct {
    char *name; /* softmax_max | emd | leep | nce | logme | hscore | hscore_reg | gbc | transrate |
                   sfda | nleep | parc ... */
    xfer_mark mark;
    int n_params;
    char **param_keys; /* metric parameters, kept as strings; each metric parses its own */
    char **param_values;
} xfer_score_cfg;

typedef struct {
    bool present;
    xfer_mark mark;
    char *path;
    xfer_wordvec_format format;    /* default: from the file extension (.bin → bin, else vec) */
    xfer_namevec_mode name_vector; /* default sum (the paper) */
    xfer_class_distance class_distance; /* default wordvec */
    char *wordnet_dir;                  /* default /usr/share/wordnet */
    int n_synonyms;
    char **synonym_from, **synonym_to;
    /* added */
    xfer_mark path_mark, wordnet_dir_mark;
} xfer_wordvec_cfg;

/* target.finetune.prune: successive halving over the sweep (docs/config.md, docs/run.md). */
typedef enum { XFER_PRUNE_NONE = 0, XFER_PRUNE_SUCCESSIVE_HALVING } xfer_prune_method;
typedef enum { XFER_PRUNE_TEST_ACC = 0, XFER_PRUNE_CURVE_AUC } xfer_prune_metric;
typedef enum { XFER_PRUNE_SCOPE_EXPERIMENT = 0, XFER_PRUNE_SCOPE_SHARD } xfer_prune_scope;
typedef struct {
    bool present;             /* the block was given */
    xfer_mark mark;           /* the block's position */
    xfer_prune_method method; /* default none: every source fine-tuned for every epoch */
    int eta;                  /* default 3: a rung keeps the top 1/eta */
    int min_epochs;           /* default 1: the first rung */
    xfer_prune_metric metric; /* default test_acc */
    char *seed_by;            /* a score name, or NULL */
    int keep_at_least;        /* default 1 */
    xfer_prune_scope scope;   /* default experiment (all shards) */
    xfer_mark method_mark, seed_by_mark, keep_mark;
} xfer_prune_cfg;

typedef struct {
    char *dataset;
    xfer_mark mark;
    xfer_recipe_cfg finetune;
    xfer_mark dataset_mark; /* added: the value of target.dataset */
    xfer_prune_cfg prune;   /* added: target.finetune.prune */
} xfer_target_cfg;

/* The most fine-tunes per source a config may ask for with `seeds`. */
#define XFER_MAX_SEEDS 100

typedef struct {
    char *path; /* the config file as given */
    char *text; /* its full text (written into the results file) */
    char *experiment;
    uint64_t seed; /* default 0 */
    int n_seeds;   /* `seeds`: fine-tunes per source, 1..XFER_MAX_SEEDS, default 1;
                      fine-tune i uses seed + i (docs/config.md) */
    xfer_mark seeds_mark;
    xfer_device_kind device;  /* default auto */
    xfer_precision precision; /* default fp32 */
    char *output;             /* results HDF5 path, default results/<experiment>/results.h5 */
    xfer_dataset_cfg *datasets;
    int n_datasets;
    xfer_source_cfg *sources;
    int n_sources;
    xfer_target_cfg target;
    xfer_score_cfg *scores;
    int n_scores;
    xfer_wordvec_cfg word_vectors;
    bool output_set; /* added: output was given (else the default above) */
    /* added: the document in a canonical form without target.finetune.prune (resuming a results
     * file with other pruning settings compares it) */
    char *canon_sans_prune;
} xfer_config;

/* Reads, parses and validates a config file. On failure fills err with every problem found, one
 * per line, each "FILE:LINE:COL: what is wrong (expected ...)", and returns XFER_EINPUT; cfg is
 * then left freed. */
int xfer_config_load(const char *path, xfer_config *cfg, xfer_err *err);

/* The same from memory; `name` is used in messages in place of a file name. */
int xfer_config_load_string(const char *text, size_t len, const char *name, xfer_config *cfg,
                            xfer_err *err);

void xfer_config_free(xfer_config *cfg);

/* Checks that the files the config names exist (weights, dataset roots and files, class-name
 * files, word vectors). strict == false: each missing file is printed as a warning and XFER_OK is
 * returned; strict == true: XFER_EINPUT with every missing file listed. */
int xfer_config_check_files(const xfer_config *cfg, bool strict, xfer_err *err);

/* Lookup by name; NULL when absent. */
const xfer_dataset_cfg *xfer_config_dataset(const xfer_config *cfg, const char *name);
const xfer_source_cfg *xfer_config_source(const xfer_config *cfg, const char *name);

/* Enum names as written in YAML. */
const char *xfer_device_name(xfer_device_kind d);
const char *xfer_precision_name(xfer_precision p);

/* ---- added by the config module ---- */

/* More enum names as written in YAML. */
const char *xfer_dataset_kind_name(xfer_dataset_kind k);
const char *xfer_wordvec_format_name(xfer_wordvec_format f);
const char *xfer_namevec_mode_name(xfer_namevec_mode m);
const char *xfer_class_distance_name(xfer_class_distance d);

/* Fills r with the paper's recipe (the defaults listed in xfer_recipe_cfg). */
void xfer_recipe_defaults(xfer_recipe_cfg *r);

/* Pruning: the method's and metric's names as written in YAML; whether two prune blocks decide
 * alike (every key equal); the rung epochs of a successive-halving sweep of `epochs` (min_epochs *
 * eta^k below epochs, at most `cap`), returning their count. */
const char *xfer_prune_method_name(xfer_prune_method m);
const char *xfer_prune_metric_name(xfer_prune_metric m);
const char *xfer_prune_scope_name(xfer_prune_scope s);
bool xfer_prune_same(const xfer_prune_cfg *a, const xfer_prune_cfg *b);
int xfer_prune_rungs(const xfer_prune_cfg *p, int epochs, int *rungs, int cap);

/* The score names a config may list, NULL-terminated (the scores module implements each). */
extern const char *const xfer_known_scores[];
bool xfer_score_is_known(const char *name);

/* Lookup of a score by name, and of one of its parameters (the string as written); NULL when
 * absent. */
const xfer_score_cfg *xfer_config_score(const xfer_config *cfg, const char *name);
const char *xfer_score_param(const xfer_score_cfg *s, const char *key);

#endif
