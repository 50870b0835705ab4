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
} node_kind;

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
    int k, stride, pad; /* CONV, MAXPOOL */
    int oh, ow;         /* AVGPOOL target */
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

/* arch.c */
int nn_build(xfer_model *m, xfer_err *err);

/* init.c */
void nn_init_tensor(xfer_model *m, int i, float *host_internal);
int nn_init_all(xfer_model *m, xfer_err *err);

#endif
