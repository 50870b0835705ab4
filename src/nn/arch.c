/* torchvision's AlexNet and ResNet-18/34, built as nodes with torchvision's state_dict names. */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static int ch(const xfer_model *m, int c) {
    int v = (int)(c * m->cfg.width + 0.5);
    return v < 1 ? 1 : v;
}

/* Convolution "<name>.weight" [o][i][k][k] (+ "<name>.bias"); returns the output slot or < 0. */
static int conv(xfer_model *m, int in, const char *name, int o, int k, int stride, int pad,
                int bias, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int64_t ws[4] = {o, m->slots[in].c, k, k}, bs[1] = {o};
    node nd = {.kind = NODE_CONV, .in = in, .k = k, .stride = stride, .pad = pad, .bias = -1};
    snprintf(key, sizeof key, "%s.weight", name);
    if ((nd.w = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 4, ws, err)) < 0) return -1;
    if (bias) {
        snprintf(key, sizeof key, "%s.bias", name);
        if ((nd.bias = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 1, bs, err)) < 0) return -1;
    }
    if ((nd.out = nn_add_slot(m, o, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

static int bn(xfer_model *m, int in, const char *name, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int c = m->slots[in].c;
    int64_t s[1] = {c};
    node nd = {.kind = NODE_BN, .in = in};
    static const char *suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    int *dst[4] = {&nd.gamma, &nd.beta, &nd.rmean, &nd.rvar};
    for (int j = 0; j < 4; j++) {
        snprintf(key, sizeof key, "%s.%s", name, suffix[j]);
        *dst[j] = nn_add_tensor(m, key, j < 2 ? XFER_TENSOR_PARAM : XFER_TENSOR_BUFFER, 1, s, err);
        if (*dst[j] < 0) return -1;
    }
    if ((nd.out = nn_add_slot(m, c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

static int relu(xfer_model *m, int in, xfer_err *err) {
    node nd = {.kind = NODE_RELU, .in = in, .out = in};
    return nn_add_node(m, &nd, err) < 0 ? -1 : in;
}

static int simple(xfer_model *m, node_kind kind, int in, int in2, int k, int stride, int pad,
                  xfer_err *err) {
    node nd = {
        .kind = kind, .in = in, .in2 = in2, .k = k, .stride = stride, .pad = pad, .oh = k, .ow = k};
    if ((nd.out = nn_add_slot(m, m->slots[in].c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

static int linear(xfer_model *m, int in, const char *name, int in_features, int out,
                  xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int64_t ws[2] = {out, in_features}, bs[1] = {out};
    node nd = {.kind = NODE_LINEAR, .in = in};
    snprintf(key, sizeof key, "%s.weight", name);
    if ((nd.w = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 2, ws, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.bias", name);
    if ((nd.bias = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 1, bs, err)) < 0) return -1;
    if ((nd.out = nn_add_slot(m, out, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((s = (expr)) < 0) return err->code ? err->code : XFER_EINTERNAL;                       \
    } while (0)

static int build_alexnet(xfer_model *m, xfer_err *err) {
    int s = 0;
    int c1 = ch(m, 64), c2 = ch(m, 192), c3 = ch(m, 384), c4 = ch(m, 256), c5 = ch(m, 256);
    int hid = ch(m, 4096);
    TRY(conv(m, s, "features.0", c1, 11, 4, 2, 1, err));
    TRY(relu(m, s, err));
    TRY(simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    TRY(conv(m, s, "features.3", c2, 5, 1, 2, 1, err));
    TRY(relu(m, s, err));
    TRY(simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    TRY(conv(m, s, "features.6", c3, 3, 1, 1, 1, err));
    TRY(relu(m, s, err));
    TRY(conv(m, s, "features.8", c4, 3, 1, 1, 1, err));
    TRY(relu(m, s, err));
    TRY(conv(m, s, "features.10", c5, 3, 1, 1, 1, err));
    TRY(relu(m, s, err));
    TRY(simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    TRY(simple(m, NODE_AVGPOOL, s, 0, 6, 0, 0, err));
    TRY(simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    TRY(linear(m, s, "classifier.1", c5 * 36, hid, err));
    /* torch flattens C,H,W; our NHWC flatten is H,W,C: classifier.1 is converted like an OIHW
     * filter [hid][c5][6][6] <-> [hid][6][6][c5] at load/save time (docs/engine.md). */
    xfer_tensor_info *t = &m->tensors[m->n_tensors - 2];
    t->permute_ohwi = 1, t->perm_o = hid, t->perm_i = c5, t->perm_kh = 6, t->perm_kw = 6;
    TRY(relu(m, s, err));
    TRY(simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    TRY(linear(m, s, "classifier.4", hid, hid, err));
    TRY(relu(m, s, err));
    m->features_slot = s;
    TRY(linear(m, s, "classifier.6", hid, m->cfg.num_classes, err));
    m->logits_slot = s;
    m->head_w = m->n_tensors - 2, m->head_b = m->n_tensors - 1;
    return XFER_OK;
}

static int basic_block(xfer_model *m, int in, const char *name, int planes, int stride,
                       xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int s, identity = in;
    snprintf(key, sizeof key, "%s.conv1", name);
    if ((s = conv(m, in, key, planes, 3, stride, 1, 0, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.bn1", name);
    if ((s = bn(m, s, key, err)) < 0 || (s = relu(m, s, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.conv2", name);
    if ((s = conv(m, s, key, planes, 3, 1, 1, 0, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.bn2", name);
    if ((s = bn(m, s, key, err)) < 0) return -1;
    if (stride != 1 || m->slots[in].c != planes) {
        snprintf(key, sizeof key, "%s.downsample.0", name);
        if ((identity = conv(m, in, key, planes, 1, stride, 0, 0, err)) < 0) return -1;
        snprintf(key, sizeof key, "%s.downsample.1", name);
        if ((identity = bn(m, identity, key, err)) < 0) return -1;
    }
    if ((s = simple(m, NODE_ADD, s, identity, 0, 0, 0, err)) < 0) return -1;
    return relu(m, s, err);
}

static int build_resnet(xfer_model *m, const int *blocks, xfer_err *err) {
    int s = 0;
    TRY(conv(m, s, "conv1", ch(m, 64), 7, 2, 3, 0, err));
    TRY(bn(m, s, "bn1", err));
    TRY(relu(m, s, err));
    TRY(simple(m, NODE_MAXPOOL, s, 0, 3, 2, 1, err));
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < blocks[l]; i++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", l + 1, i);
            TRY(basic_block(m, s, name, ch(m, 64 << l), (i == 0 && l > 0) ? 2 : 1, err));
        }
    }
    TRY(simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    m->features_slot = s;
    TRY(linear(m, s, "fc", m->slots[s].c, m->cfg.num_classes, err));
    m->logits_slot = s;
    m->head_w = m->n_tensors - 2, m->head_b = m->n_tensors - 1;
    return XFER_OK;
}

int nn_build(xfer_model *m, xfer_err *err) {
    static const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3};
    if (nn_add_slot(m, 3, err) < 0) return err->code; /* slot 0: the input images */
    switch (m->cfg.arch) {
    case XFER_ARCH_ALEXNET:
        return build_alexnet(m, err);
    case XFER_ARCH_RESNET18:
        return build_resnet(m, r18, err);
    case XFER_ARCH_RESNET34:
        return build_resnet(m, r34, err);
    }
    return xfer_fail(err, XFER_EINPUT, "unknown architecture %d", (int)m->cfg.arch);
}
