/* Models: AlexNet, ResNet-18 and ResNet-34 with torchvision's structure and state_dict names, on
 * any backend (include/xfer/backend.h). See docs/engine.md.
 *
 * Memory: parameters live in ONE backend allocation carved into named tensors (the table below);
 * gradients and SGD momentum buffers are allocations of the same size and layout; BN running
 * statistics are named buffers in a fourth allocation. Internally convolution weights are OHWI and
 * activations NHWC; every function that takes or returns a tensor by name on the host uses the
 * TORCH layout (OIHW, and AlexNet's classifier.1 with columns in torch's C,H,W flatten order):
 * the conversion happens only in xfer_model_get_tensor / xfer_model_set_tensor. */
#ifndef XFER_NN_H
#define XFER_NN_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/backend.h"
#include "xfer/error.h"

typedef enum {
    XFER_ARCH_ALEXNET = 0,
    XFER_ARCH_RESNET18,
    XFER_ARCH_RESNET34,
    XFER_ARCH_RESNET50,
    XFER_ARCH_RESNET101,
    XFER_ARCH_RESNET152,
    XFER_ARCH_MOBILENET_V2,
    XFER_ARCH_MNASNET1_0,
    XFER_ARCH_DENSENET121,
    XFER_ARCH_DENSENET169,
    XFER_ARCH_DENSENET201,
    XFER_ARCH_GOOGLENET,
    XFER_ARCH_INCEPTION_V3,
    XFER_ARCH_COUNT
} xfer_arch;

/* torchvision's names: "alexnet", "resnet18", ..., "mobilenet_v2", "mnasnet1_0", "densenet121",
 * "googlenet", "inception_v3" (XFER_ARCH_NAMES lists them for messages). */
#define XFER_ARCH_NAMES                                                                            \
    "alexnet, resnet18, resnet34, resnet50, resnet101, resnet152, mobilenet_v2, mnasnet1_0, "      \
    "densenet121, densenet169, densenet201, googlenet, inception_v3"
int xfer_arch_parse(const char *s, xfer_arch *out, xfer_err *err);
const char *xfer_arch_name(xfer_arch a);
/* The classifier's weight ("fc.weight", "classifier.6.weight", ...): its first dimension is the
 * class count of a weights file. */
const char *xfer_arch_head_weight(xfer_arch a);

typedef enum { XFER_TENSOR_PARAM = 0, XFER_TENSOR_BUFFER } xfer_tensor_kind;

#define XFER_TENSOR_NAME_MAX 64

typedef struct {
    char name[XFER_TENSOR_NAME_MAX]; /* torchvision's state_dict key */
    xfer_tensor_kind kind;           /* PARAM: in params/grads/momentum; BUFFER: in buffers */
    int ndim;
    int64_t shape[4]; /* torch's shape */
    size_t offset;    /* in floats, into params (PARAM) or buffers (BUFFER) */
    size_t numel;
    /* torch layout [o][i][kh][kw] <-> internal [o][kh][kw][i] (convolutions, and AlexNet's
     * classifier.1 seen as [4096][256][6][6]) */
    int permute_ohwi;
    int perm_o, perm_i, perm_kh, perm_kw;
} xfer_tensor_info;

typedef struct {
    xfer_arch arch;
    int num_classes; /* >= 1 */
    double width;    /* channel multiplier, 1.0 = torchvision; channels round(c*width), min 1 */
    uint64_t seed;   /* initialisation and dropout */
    float dropout;   /* every dropout layer's probability (torchvision: AlexNet, Inception-v3 0.5;
                        MobileNetV2, MNASNet, GoogLeNet 0.2); ResNets and DenseNets have none */
} xfer_model_config;

/* torch.optim.SGD's hyper-parameters (dampening 0). */
typedef struct {
    float lr, momentum, weight_decay;
    int nesterov;
} xfer_sgd_config;

typedef struct xfer_model xfer_model;

/* Builds the model on backend b (borrowed: it must outlive the model) and initialises it like
 * torchvision from cfg->seed. */
int xfer_model_create(const xfer_model_config *cfg, xfer_backend *b, xfer_model **out,
                      xfer_err *err);
void xfer_model_free(xfer_model *m);

const xfer_model_config *xfer_model_config_of(const xfer_model *m);
int xfer_model_n_tensors(const xfer_model *m);
const xfer_tensor_info *xfer_model_tensor(const xfer_model *m, int i);
int xfer_model_find(const xfer_model *m, const char *name); /* index or -1 */
size_t xfer_model_n_params(const xfer_model *m);            /* floats in the parameter buffer */
int xfer_model_feature_dim(const xfer_model *m);            /* input width of the last Linear */
/* Index of the head's weight and bias ("fc.*" or "classifier.6.*"). */
void xfer_model_head(const xfer_model *m, int *weight, int *bias);

/* Host copies of one named tensor in torch layout (n = numel). `which`: 0 the value, 1 the
 * gradient, 2 the momentum buffer (PARAM tensors only for 1 and 2). */
int xfer_model_get_tensor(xfer_model *m, int i, int which, float *host, size_t n, xfer_err *err);
int xfer_model_set_tensor(xfer_model *m, int i, int which, const float *host, size_t n,
                          xfer_err *err);

/* Re-initialises the head (Linear default: U(+-1/sqrt(fan_in)) for weight and bias). */
void xfer_model_reset_head(xfer_model *m);
/* Changes the model's seed: the stream of later xfer_model_reset_head calls and of dropout
 * (repeated fine-tunes of one source with different seeds). */
void xfer_model_set_seed(xfer_model *m, uint64_t seed);

/* Loads weights by torchvision / timm name from a safetensors file. Missing, unexpected and
 * shape-mismatched keys are all reported by name in one XFER_EINPUT error. The head is skipped
 * with a note when only its class count differs (it keeps its fresh initialisation);
 * num_batches_tracked is ignored; a NaN or Inf value is warned about. */
int xfer_model_load_weights(xfer_model *m, const char *path, xfer_err *err);

/* ---- running the model -------------------------------------------------------------------- */
/* Forward pass on n images x (backend memory, NHWC [n][h][w][3], normalised). train = 1 uses
 * batch statistics (and updates the BN running statistics) and dropout; 0 is eval mode. After it,
 * the pointers below are valid until the next call. */
int xfer_model_forward(xfer_model *m, const float *x, int n, int h, int w, int train,
                       xfer_err *err);
const float *xfer_model_logits(const xfer_model *m);   /* backend memory [n][num_classes] */
const float *xfer_model_features(const xfer_model *m); /* backend memory [n][feature_dim] */

/* After a forward: softmax cross-entropy against labels (backend memory, int32 [n], checked to be
 * in range by the caller), backward through the whole model into the gradient buffer (zeroed
 * first). Writes the mean loss and the number of correct argmaxes to the host. */
int xfer_model_backward(xfer_model *m, const int32_t *labels, float *loss, int *correct,
                        xfer_err *err);

/* One torch.optim.SGD step over all parameters (momentum buffers created on the first step). */
int xfer_model_sgd_step(xfer_model *m, const xfer_sgd_config *opt, xfer_err *err);

/* forward(train) + backward + sgd_step. */
int xfer_model_train_step(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                          const int32_t *labels, int n, int h, int w, float *loss, int *correct,
                          xfer_err *err);

/* ---- a training step without host synchronisation (src/nn/step_dev.c) ------------------- */
/* forward(train) + loss + backward + SGD, all enqueued on the backend with nothing read back:
 * acc (backend memory, 2 floats, zeroed by the caller when it starts summing) ACCUMULATES
 * acc[0] += n * mean loss (float) and acc[1] += the number of correct argmaxes. The parameters,
 * momentum buffers and BN statistics end bitwise as after xfer_model_train_step with the same
 * arguments. opt->lr is copied to backend memory when it differs from the last call's, and the
 * SGD update reads it there.
 * With a backend that records graphs (CUDA; XFER_CUDA_GRAPHS=0 switches it off) the step is
 * recorded the second time in a row it runs with the same shape, x, labels, acc and optimiser
 * settings, and replayed from then on (cudaGraphLaunch) while none of the memory it refers to has
 * been replaced; steps that cannot be recorded (the first SGD step with momentum, dropout > 0 in
 * the model, a shape seen once, e.g. an epoch's last partial batch) run as plain launches. A
 * capture that fails is warned about once and the model runs uncaptured from then on. */
int xfer_model_train_step_dev(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                              const int32_t *labels, int n, int h, int w, float *acc,
                              xfer_err *err);
/* The last step's mean loss and correct count (waits for it): what xfer_model_backward returns. */
int xfer_model_last_loss(xfer_model *m, float *loss, int *correct, xfer_err *err);
/* Steps run so far by replaying a recorded graph (0 on the CPU). */
uint64_t xfer_model_graph_replays(const xfer_model *m);

/* Training state carried by checkpoints. */
int xfer_model_sgd_started(const xfer_model *m);      /* momentum buffers hold a value */
uint64_t xfer_model_rng_counter(const xfer_model *m); /* dropout counter */
void xfer_model_set_rng_counter(xfer_model *m, uint64_t counter);

/* ---- checkpoints (src/nn/weights.c) ------------------------------------------------------- */
/* Metadata keys of checkpoints (all strings). */
#define XFER_CKPT_ARCH "arch"                    /* xfer_arch_name() */
#define XFER_CKPT_WIDTH "xfer.width"             /* "%.17g" */
#define XFER_CKPT_CLASSES "xfer.num_classes"     /* decimal */
#define XFER_CKPT_CLASS_NAMES "xfer.class_names" /* JSON array of strings */
#define XFER_CKPT_EPOCH "xfer.epoch"             /* epochs completed, decimal */
#define XFER_CKPT_SEED "xfer.seed"               /* decimal: init and dropout seed */
#define XFER_CKPT_RNG "xfer.rng.dropout_counter" /* decimal: dropout RNG counter */
#define XFER_CKPT_SGD_STARTED "xfer.sgd.started" /* "1" when momentum.* tensors are valid */
#define XFER_CKPT_MOMENTUM_PREFIX "momentum."    /* momentum.<param name>, torch layout */

/* Saves params and buffers under torchvision names plus momentum.<name> and the metadata above.
 * class_names may be NULL. Written to a temporary name and renamed. */
int xfer_model_save_checkpoint(xfer_model *m, const char *path, const char *const *class_names,
                               int epoch, xfer_err *err);
/* Loads a checkpoint written by save (strict: every key must match); restores momentum buffers
 * and the dropout RNG (seed and counter) when present; *epoch (may be NULL) receives the saved
 * epoch or -1. */
int xfer_model_load_checkpoint(xfer_model *m, const char *path, int *epoch, xfer_err *err);

#endif
