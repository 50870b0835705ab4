/* torchvision's GoogLeNet and Inception-v3 without their auxiliary heads (the published
 * checkpoints carry aux1/aux2/AuxLogits tensors; loading skips them, and fine-tuning never uses
 * them, as torchvision's googlenet() and inception_v3(aux_logits=False)). Both apply
 * transform_input (the pretrained weights expect it): ImageNet-normalised input is mapped to the
 * (x - 0.5) / 0.5 normalisation the weights were trained with. BasicConv2d = conv (no bias), BN
 * (eps 1e-3), ReLU. */
#include <stdio.h>

#include "model_internal.h"

#define INCEPTION_BN_EPS 1e-3f

static int basic_ex(xfer_model *m, int in, const char *name, int o, int kh, int kw, int stride,
                    int ph, int pw, xfer_err *err) {
    char key[2 * XFER_TENSOR_NAME_MAX];
    int s;
    snprintf(key, sizeof key, "%s.conv", name);
    if ((s = nn_conv_ex(m, in, key, o, kh, kw, stride, ph, pw, 1, 0, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.bn", name);
    if ((s = nn_bn_ex(m, s, key, INCEPTION_BN_EPS, XFER_BN_MOMENTUM, err)) < 0) return -1;
    return nn_act(m, s, NODE_RELU, err);
}

static int basic(xfer_model *m, int in, const char *name, int o, int k, int stride, int pad,
                 xfer_err *err) {
    return basic_ex(m, in, name, o, k, k, stride, pad, pad, err);
}

/* "<block>.<branch>" */
static int bc(xfer_model *m, int in, const char *block, const char *branch, int o, int kh, int kw,
              int stride, int ph, int pw, xfer_err *err) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", block, branch);
    return basic_ex(m, in, name, o, kh, kw, stride, ph, pw, err);
}

static int transform_input(xfer_model *m, xfer_err *err) {
    /* x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5, torchvision's _transform_input */
    const float scale[3] = {(float)(0.229 / 0.5), (float)(0.224 / 0.5), (float)(0.225 / 0.5)};
    const float shift[3] = {(float)((0.485 - 0.5) / 0.5), (float)((0.456 - 0.5) / 0.5),
                            (float)((0.406 - 0.5) / 0.5)};
    return nn_affine(m, 0, scale, shift, err);
}

/* GoogLeNet's Inception: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 (torchvision's "5x5" branch is 3x3) |
 * 3x3 max pool (stride 1, pad 1, ceil) -> 1x1 */
static int g_inception(xfer_model *m, int in, const char *name, int c1, int c3r, int c3, int c5r,
                       int c5, int pp, xfer_err *err) {
    int b[4], t;
    if ((b[0] = bc(m, in, name, "branch1", nn_ch(m, c1), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, in, name, "branch2.0", nn_ch(m, c3r), 1, 1, 1, 0, 0, err)) < 0 ||
        (b[1] = bc(m, t, name, "branch2.1", nn_ch(m, c3), 3, 3, 1, 1, 1, err)) < 0 ||
        (t = bc(m, in, name, "branch3.0", nn_ch(m, c5r), 1, 1, 1, 0, 0, err)) < 0 ||
        (b[2] = bc(m, t, name, "branch3.1", nn_ch(m, c5), 3, 3, 1, 1, 1, err)) < 0 ||
        (t = nn_pool(m, NODE_MAXPOOL, in, 3, 1, 1, 1, 0, err)) < 0 ||
        (b[3] = bc(m, t, name, "branch4.1", nn_ch(m, pp), 1, 1, 1, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 4, err);
}

int nn_build_googlenet(xfer_model *m, xfer_err *err) {
    static const struct {
        const char *name;
        int c[6];
    } inc[9] = {{"inception3a", {64, 96, 128, 16, 32, 32}},
                {"inception3b", {128, 128, 192, 32, 96, 64}},
                {"inception4a", {192, 96, 208, 16, 48, 64}},
                {"inception4b", {160, 112, 224, 24, 64, 64}},
                {"inception4c", {128, 128, 256, 24, 64, 64}},
                {"inception4d", {112, 144, 288, 32, 64, 64}},
                {"inception4e", {256, 160, 320, 32, 128, 128}},
                {"inception5a", {256, 160, 320, 32, 128, 128}},
                {"inception5b", {384, 192, 384, 48, 128, 128}}};
    int s;
    NN_TRY(transform_input(m, err));
    NN_TRY(basic(m, s, "conv1", nn_ch(m, 64), 7, 2, 3, err));
    NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 3, 2, 0, 1, 0, err));
    NN_TRY(basic(m, s, "conv2", nn_ch(m, 64), 1, 1, 0, err));
    NN_TRY(basic(m, s, "conv3", nn_ch(m, 192), 3, 1, 1, err));
    NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 3, 2, 0, 1, 0, err));
    for (int i = 0; i < 9; i++) {
        const int *c = inc[i].c;
        NN_TRY(g_inception(m, s, inc[i].name, c[0], c[1], c[2], c[3], c[4], c[5], err));
        if (i == 1) NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 3, 2, 0, 1, 0, err));
        if (i == 6) NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 2, 2, 0, 1, 0, err));
    }
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    return nn_head(m, s, "fc", err);
}

/* 3x3 average pool, stride 1, pad 1, count_include_pad (F.avg_pool2d's default) */
static int avg3(xfer_model *m, int in, xfer_err *err) {
    return nn_pool(m, NODE_AVGPOOL2D, in, 3, 1, 1, 0, 1, err);
}

static int inception_a(xfer_model *m, int in, const char *n, int pool_features, xfer_err *err) {
    int b[4], t;
    if ((b[0] = bc(m, in, n, "branch1x1", nn_ch(m, 64), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch5x5_1", nn_ch(m, 48), 1, 1, 1, 0, 0, err)) < 0 ||
        (b[1] = bc(m, t, n, "branch5x5_2", nn_ch(m, 64), 5, 5, 1, 2, 2, err)) < 0 ||
        (t = bc(m, in, n, "branch3x3dbl_1", nn_ch(m, 64), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch3x3dbl_2", nn_ch(m, 96), 3, 3, 1, 1, 1, err)) < 0 ||
        (b[2] = bc(m, t, n, "branch3x3dbl_3", nn_ch(m, 96), 3, 3, 1, 1, 1, err)) < 0 ||
        (t = avg3(m, in, err)) < 0 ||
        (b[3] = bc(m, t, n, "branch_pool", nn_ch(m, pool_features), 1, 1, 1, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 4, err);
}

static int inception_b(xfer_model *m, int in, const char *n, xfer_err *err) {
    int b[3], t;
    if ((b[0] = bc(m, in, n, "branch3x3", nn_ch(m, 384), 3, 3, 2, 0, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch3x3dbl_1", nn_ch(m, 64), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch3x3dbl_2", nn_ch(m, 96), 3, 3, 1, 1, 1, err)) < 0 ||
        (b[1] = bc(m, t, n, "branch3x3dbl_3", nn_ch(m, 96), 3, 3, 2, 0, 0, err)) < 0 ||
        (b[2] = nn_pool(m, NODE_MAXPOOL, in, 3, 2, 0, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 3, err);
}

static int inception_c(xfer_model *m, int in, const char *n, int c7, xfer_err *err) {
    int b[4], t, c = nn_ch(m, c7), o = nn_ch(m, 192);
    if ((b[0] = bc(m, in, n, "branch1x1", o, 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch7x7_1", c, 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7_2", c, 1, 7, 1, 0, 3, err)) < 0 ||
        (b[1] = bc(m, t, n, "branch7x7_3", o, 7, 1, 1, 3, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch7x7dbl_1", c, 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7dbl_2", c, 7, 1, 1, 3, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7dbl_3", c, 1, 7, 1, 0, 3, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7dbl_4", c, 7, 1, 1, 3, 0, err)) < 0 ||
        (b[2] = bc(m, t, n, "branch7x7dbl_5", o, 1, 7, 1, 0, 3, err)) < 0 ||
        (t = avg3(m, in, err)) < 0 ||
        (b[3] = bc(m, t, n, "branch_pool", o, 1, 1, 1, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 4, err);
}

static int inception_d(xfer_model *m, int in, const char *n, xfer_err *err) {
    int b[3], t, c = nn_ch(m, 192);
    if ((t = bc(m, in, n, "branch3x3_1", c, 1, 1, 1, 0, 0, err)) < 0 ||
        (b[0] = bc(m, t, n, "branch3x3_2", nn_ch(m, 320), 3, 3, 2, 0, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch7x7x3_1", c, 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7x3_2", c, 1, 7, 1, 0, 3, err)) < 0 ||
        (t = bc(m, t, n, "branch7x7x3_3", c, 7, 1, 1, 3, 0, err)) < 0 ||
        (b[1] = bc(m, t, n, "branch7x7x3_4", c, 3, 3, 2, 0, 0, err)) < 0 ||
        (b[2] = nn_pool(m, NODE_MAXPOOL, in, 3, 2, 0, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 3, err);
}

/* InceptionE's output cat(1x1, cat(3x3_2a, 3x3_2b), cat(dbl_3a, dbl_3b), pool) is one six-way
 * concatenation in the same channel order. */
static int inception_e(xfer_model *m, int in, const char *n, xfer_err *err) {
    int b[6], t, c = nn_ch(m, 384);
    if ((b[0] = bc(m, in, n, "branch1x1", nn_ch(m, 320), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch3x3_1", c, 1, 1, 1, 0, 0, err)) < 0 ||
        (b[1] = bc(m, t, n, "branch3x3_2a", c, 1, 3, 1, 0, 1, err)) < 0 ||
        (b[2] = bc(m, t, n, "branch3x3_2b", c, 3, 1, 1, 1, 0, err)) < 0 ||
        (t = bc(m, in, n, "branch3x3dbl_1", nn_ch(m, 448), 1, 1, 1, 0, 0, err)) < 0 ||
        (t = bc(m, t, n, "branch3x3dbl_2", c, 3, 3, 1, 1, 1, err)) < 0 ||
        (b[3] = bc(m, t, n, "branch3x3dbl_3a", c, 1, 3, 1, 0, 1, err)) < 0 ||
        (b[4] = bc(m, t, n, "branch3x3dbl_3b", c, 3, 1, 1, 1, 0, err)) < 0 ||
        (t = avg3(m, in, err)) < 0 ||
        (b[5] = bc(m, t, n, "branch_pool", nn_ch(m, 192), 1, 1, 1, 0, 0, err)) < 0)
        return -1;
    return nn_concat(m, b, 6, err);
}

int nn_build_inception_v3(xfer_model *m, xfer_err *err) {
    int s;
    NN_TRY(transform_input(m, err));
    NN_TRY(basic(m, s, "Conv2d_1a_3x3", nn_ch(m, 32), 3, 2, 0, err));
    NN_TRY(basic(m, s, "Conv2d_2a_3x3", nn_ch(m, 32), 3, 1, 0, err));
    NN_TRY(basic(m, s, "Conv2d_2b_3x3", nn_ch(m, 64), 3, 1, 1, err));
    NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 3, 2, 0, 0, 0, err));
    NN_TRY(basic(m, s, "Conv2d_3b_1x1", nn_ch(m, 80), 1, 1, 0, err));
    NN_TRY(basic(m, s, "Conv2d_4a_3x3", nn_ch(m, 192), 3, 1, 0, err));
    NN_TRY(nn_pool(m, NODE_MAXPOOL, s, 3, 2, 0, 0, 0, err));
    NN_TRY(inception_a(m, s, "Mixed_5b", 32, err));
    NN_TRY(inception_a(m, s, "Mixed_5c", 64, err));
    NN_TRY(inception_a(m, s, "Mixed_5d", 64, err));
    NN_TRY(inception_b(m, s, "Mixed_6a", err));
    NN_TRY(inception_c(m, s, "Mixed_6b", 128, err));
    NN_TRY(inception_c(m, s, "Mixed_6c", 160, err));
    NN_TRY(inception_c(m, s, "Mixed_6d", 160, err));
    NN_TRY(inception_c(m, s, "Mixed_6e", 192, err));
    NN_TRY(inception_d(m, s, "Mixed_7a", err));
    NN_TRY(inception_e(m, s, "Mixed_7b", err));
    NN_TRY(inception_e(m, s, "Mixed_7c", err));
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    return nn_head(m, s, "fc", err);
}
