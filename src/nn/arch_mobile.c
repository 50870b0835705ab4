/* torchvision's MobileNetV2 (inverted residuals, depthwise 3x3, ReLU6) and MNASNet-1.0 (depthwise
 * 3x3 and 5x5, BN momentum 1 - 0.9997), with torchvision's state_dict names. */
#include <stdio.h>

#include "model_internal.h"

/* conv (no bias) "<name>.<i>" + BN "<name>.<i+1>" (+ activation `act` unless 0) */
static int conv_bn_act(xfer_model *m, int in, const char *name, int i, int o, int k, int stride,
                       int groups, float momentum, node_kind act, xfer_err *err) {
    char key[4 * XFER_TENSOR_NAME_MAX];
    int s;
    snprintf(key, sizeof key, "%s.%d", name, i);
    if ((s = nn_conv_ex(m, in, key, o, k, k, stride, k / 2, k / 2, groups, 0, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.%d", name, i + 1);
    if ((s = nn_bn_ex(m, s, key, XFER_BN_EPS, momentum, err)) < 0) return -1;
    return act ? nn_act(m, s, act, err) : s;
}

/* MobileNetV2's Conv2dNormActivation "<name>" = "<name>.0" conv + "<name>.1" BN + ReLU6 */
static int cna(xfer_model *m, int in, const char *name, int o, int k, int stride, int groups,
               xfer_err *err) {
    return conv_bn_act(m, in, name, 0, o, k, stride, groups, XFER_BN_MOMENTUM, NODE_RELU6, err);
}

static int inverted_residual(xfer_model *m, int in, int idx, int oup, int stride, int t,
                             xfer_err *err) {
    char name[48], key[2 * XFER_TENSOR_NAME_MAX];
    int inp = m->slots[in].c, hidden = inp * t, s = in, j = 0;
    snprintf(name, sizeof name, "features.%d.conv", idx);
    if (t != 1) {
        snprintf(key, sizeof key, "%s.%d", name, j++);
        if ((s = cna(m, s, key, hidden, 1, 1, 1, err)) < 0) return -1;
    }
    snprintf(key, sizeof key, "%s.%d", name, j++);
    if ((s = cna(m, s, key, hidden, 3, stride, hidden, err)) < 0) return -1;
    if ((s = conv_bn_act(m, s, name, j, oup, 1, 1, 1, XFER_BN_MOMENTUM, 0, err)) < 0) return -1;
    if (stride == 1 && inp == oup) s = nn_simple(m, NODE_ADD, s, in, 0, 0, 0, err);
    return s;
}

int nn_build_mobilenet_v2(xfer_model *m, xfer_err *err) {
    static const int cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int s = 0, idx = 1;
    NN_TRY(cna(m, s, "features.0", nn_ch(m, 32), 3, 2, 1, err));
    for (int b = 0; b < 7; b++)
        for (int i = 0; i < cfg[b][2]; i++)
            NN_TRY(inverted_residual(m, s, idx++, nn_ch(m, cfg[b][1]), i == 0 ? cfg[b][3] : 1,
                                     cfg[b][0], err));
    char name[32];
    snprintf(name, sizeof name, "features.%d", idx);
    NN_TRY(cna(m, s, name, m->cfg.width > 1.0 ? nn_ch(m, 1280) : 1280, 1, 1, 1, err));
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    return nn_head(m, s, "classifier.1", err);
}

#define MNAS_BN_MOMENTUM ((float)(1.0 - 0.9997)) /* torchvision's _BN_MOMENTUM */

/* _InvertedResidual "<name>.layers": 1x1 expand, depthwise k x k, 1x1 project (+ residual) */
static int mnas_block(xfer_model *m, int in, const char *name, int out, int k, int stride,
                      int expand, xfer_err *err) {
    char key[2 * XFER_TENSOR_NAME_MAX];
    int inp = m->slots[in].c, mid = inp * expand, s;
    snprintf(key, sizeof key, "%s.layers", name);
    if ((s = conv_bn_act(m, in, key, 0, mid, 1, 1, 1, MNAS_BN_MOMENTUM, NODE_RELU, err)) < 0 ||
        (s = conv_bn_act(m, s, key, 3, mid, k, stride, mid, MNAS_BN_MOMENTUM, NODE_RELU, err)) <
            0 ||
        (s = conv_bn_act(m, s, key, 6, out, 1, 1, 1, MNAS_BN_MOMENTUM, 0, err)) < 0)
        return -1;
    if (inp == out && stride == 1) s = nn_simple(m, NODE_ADD, s, in, 0, 0, 0, err);
    return s;
}

int nn_build_mnasnet(xfer_model *m, xfer_err *err) {
    /* _stack(in, out, kernel, stride, expansion, repeats) at layers.8 .. layers.13 */
    static const int stacks[6][5] = {{24, 3, 2, 3, 3}, {40, 5, 2, 3, 3},  {80, 5, 2, 6, 3},
                                     {96, 3, 1, 6, 2}, {192, 5, 2, 6, 4}, {320, 3, 1, 6, 1}};
    const float mom = MNAS_BN_MOMENTUM;
    int s = 0, d0 = nn_ch(m, 32), d1 = nn_ch(m, 16);
    NN_TRY(conv_bn_act(m, s, "layers", 0, d0, 3, 2, 1, mom, NODE_RELU, err));
    NN_TRY(conv_bn_act(m, s, "layers", 3, d0, 3, 1, d0, mom, NODE_RELU, err));
    NN_TRY(conv_bn_act(m, s, "layers", 6, d1, 1, 1, 1, mom, 0, err));
    for (int st = 0; st < 6; st++)
        for (int r = 0; r < stacks[st][4]; r++) {
            char name[32];
            snprintf(name, sizeof name, "layers.%d.%d", 8 + st, r);
            NN_TRY(mnas_block(m, s, name, nn_ch(m, stacks[st][0]), stacks[st][1],
                              r == 0 ? stacks[st][2] : 1, stacks[st][3], err));
        }
    NN_TRY(conv_bn_act(m, s, "layers", 14, 1280, 1, 1, 1, mom, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    return nn_head(m, s, "classifier.1", err);
}
