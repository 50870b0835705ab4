/* The model's private state: the tensor table, the flat buffers and a small graph of nodes over
 * activation slots, built once per architecture and sized per input shape. */
#ifndef XFER_NN_MODEL_INTERNAL_H
#define XFER_NN_MODEL_INTERNAL_H

#include "xfer/nn.h"

typedef enum {
    NODE_CONV,
    NODE_BN,
    NODE_RELU, /* in place: out == in */
    NODE_MAXPOOL,
    NODE_AVGPOOL, /* adaptive */
    NODE_DROPOUT,
    NODE_LINEAR, /* flattens its NHWC input */
    NODE_ADD,
    NODE_RELU6,     /* in place, like NODE_RELU */
    NODE_AVGPOOL2D, /* k x k / stride / pad (ceil_mode, count_include_pad) */
    NODE_CONCAT,    /* channel concatenation of cat_in[0..n_cat) (same h, w) */
    NODE_AFFINE,    /* per-channel y = x * scale + shift (transform_input) */
} node_kind;

#define NN_CAT_MAX 8

typedef struct {
    int c, h, w;              /* per image; h, w set by plan() */
    float *val, *grad;        /* backend memory, [n][h][w][c] */
    size_t val_cap, grad_cap; /* floats allocated (grad lazily, by the first backward) */
    int grad_set;             /* during backward: grad holds a value */
} slot;

typedef struct {
    node_kind kind;
    int in, in2, out; /* slots (in2: second input of ADD) */
    /* CONV / LINEAR: tensor indices (bias -1 when absent) */
    int w, bias;
    int k, stride, pad;       /* CONV (square), MAXPOOL, AVGPOOL2D */
    int kh, kw, pad_h, pad_w; /* CONV: the kernel and padding as used (kh = kw = k if square) */
    int groups;               /* CONV */
    int ceil_mode, count_include_pad; /* MAXPOOL, AVGPOOL2D */
    int oh, ow;                       /* AVGPOOL target */
    float eps, momentum;              /* BN */
    int cat_in[NN_CAT_MAX], n_cat;    /* CONCAT (in = cat_in[0]) */
    float affine[2][4];               /* AFFINE: host scale and shift (c <= 4) */
    float *affine_dev;                /* AFFINE: scale [c] then shift [c], backend memory */
    /* BN: weight, bias (params), running_mean, running_var (buffers) */
    int gamma, beta, rmean, rvar;
    float *save_mean, *save_invstd; /* BN, [c] */
    uint8_t *mask;                  /* DROPOUT */
    size_t mask_cap;
    xfer_conv2d_desc cd;
    xfer_pool2d_desc pd;
} node;

/* One recorded training step (a CUDA graph) and everything it baked in. */
#define NN_STEP_GRAPHS 2
typedef struct {
    void *g; /* backend recording, NULL when the entry is empty */
    int n, h, w;
    const float *x;
    const int32_t *labels;
    float *acc;
    float momentum, weight_decay;
    int nesterov;
    unsigned long mem_gen;
    uint64_t last_use;
} nn_step_graph;

struct xfer_model {
    xfer_model_config cfg;
    xfer_backend *b;
    xfer_tensor_info *tensors;
    int n_tensors, cap_tensors;
    size_t n_params, n_buffers;
    float *params, *grads, *momentum, *buffers; /* backend memory */
    int sgd_started;
    uint64_t rng_counter;
    node *nodes;
    int n_nodes, cap_nodes;
    slot *slots;
    int n_slots, cap_slots;
    int logits_slot, features_slot;
    int head_w, head_b;
    /* current plan */
    int n, h, w, train;
    float *scratch; /* gradient of a slot that already has one: computed here, then added */
    size_t scratch_cap;
    float *loss_dev, *correct_dev; /* the last batch's mean loss and correct count */
    /* xfer_model_train_step_dev (step_dev.c) */
    float *lr_dev; /* the learning rate the SGD step reads (backend memory) */
    float lr_host; /* its value, when lr_set */
    int lr_set;
    unsigned long mem_gen; /* bumped when an activation, gradient or mask buffer is replaced */
    nn_step_graph graphs[NN_STEP_GRAPHS];
    int prev_n, prev_h, prev_w; /* shape of the last train_step_dev (capture on the 2nd in a row) */
    int graphs_off;             /* a capture failed: run uncaptured from now on */
    uint64_t graph_replays;     /* steps run by replaying a recording (tests, docs) */
    uint64_t graph_clock;       /* last_use stamps (least recently used entry is replaced) */
};

/* graph.c */
int nn_add_tensor(xfer_model *m, const char *name, xfer_tensor_kind kind, int ndim,
                  const int64_t *shape, xfer_err *err);
int nn_add_slot(xfer_model *m, int c, xfer_err *err);
int nn_add_node(xfer_model *m, const node *nd, xfer_err *err);
int nn_alloc_storage(xfer_model *m, xfer_err *err); /* params, grads, momentum, buffers */
void nn_free_graph(xfer_model *m);
int nn_backward_ops(xfer_model *m, const int32_t *labels, xfer_err *err); /* no download */

/* step_dev.c */
void nn_step_graphs_free(xfer_model *m);

/* arch.c: the dispatcher, AlexNet and the ResNets; arch_mobile.c: MobileNetV2, MNASNet;
 * arch_densenet.c; arch_inception.c: GoogLeNet, Inception-v3 */
int nn_build(xfer_model *m, xfer_err *err);
int nn_build_mobilenet_v2(xfer_model *m, xfer_err *err);
int nn_build_mnasnet(xfer_model *m, xfer_err *err);
int nn_build_densenet(xfer_model *m, int growth, const int *blocks, int init_features,
                      xfer_err *err);
int nn_build_googlenet(xfer_model *m, xfer_err *err);
int nn_build_inception_v3(xfer_model *m, xfer_err *err);

/* layers.c: builders that add tensors (torchvision names) and a node; they return the output
 * slot, or < 0 with err filled. Activations (nn_act) run in place. */
int nn_ch(const xfer_model *m, int c); /* channels scaled by the width */
int nn_conv_ex(xfer_model *m, int in, const char *name, int o, int kh, int kw, int stride,
               int pad_h, int pad_w, int groups, int bias, xfer_err *err);
int nn_conv(xfer_model *m, int in, const char *name, int o, int k, int stride, int pad, int bias,
            xfer_err *err);
int nn_bn_ex(xfer_model *m, int in, const char *name, float eps, float momentum, xfer_err *err);
int nn_bn(xfer_model *m, int in, const char *name, xfer_err *err); /* torch's defaults */
int nn_act(xfer_model *m, int in, node_kind kind, xfer_err *err);  /* RELU or RELU6 */
/* MAXPOOL (k, stride, pad), AVGPOOL (adaptive, to k x k), DROPOUT, ADD (in + in2) */
int nn_simple(xfer_model *m, node_kind kind, int in, int in2, int k, int stride, int pad,
              xfer_err *err);
int nn_pool(xfer_model *m, node_kind kind, int in, int k, int stride, int pad, int ceil_mode,
            int count_include_pad, xfer_err *err); /* MAXPOOL or AVGPOOL2D */
int nn_concat(xfer_model *m, const int *ins, int n, xfer_err *err);
int nn_affine(xfer_model *m, int in, const float *scale, const float *shift, xfer_err *err);
int nn_linear(xfer_model *m, int in, const char *name, int in_features, int out, xfer_err *err);
/* The final Linear "<name>" over slot `features` (flattened): sets features/logits/head; status. */
int nn_head(xfer_model *m, int features, const char *name, xfer_err *err);

/* A builder call that returns < 0 returns the error's code from the enclosing status function;
 * `s` (int) receives the slot. */
#define NN_TRY(expr)                                                                               \
    do {                                                                                           \
        if ((s = (expr)) < 0) return err->code ? err->code : XFER_EINTERNAL;                       \
    } while (0)

/* init.c */
void nn_init_tensor(xfer_model *m, int i, float *host_internal);
int nn_init_all(xfer_model *m, xfer_err *err);

#endif
