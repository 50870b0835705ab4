/* torchvision's DenseNet-121/169/201: pre-activation dense layers (BN, ReLU, 1x1 conv to
 * bn_size * growth, BN, ReLU, 3x3 conv to growth) whose outputs are concatenated onto their input
 * in NHWC, transitions (BN, ReLU, 1x1 conv halving the channels, 2x2 average pool stride 2), the
 * final BN and ReLU. Names are torchvision's current ones ("norm1"); the old "norm.1" keys of the
 * published checkpoints are renamed by scripts/convert_torch.py, as torchvision does at load. */
#include <stdio.h>

#include "model_internal.h"

#define DENSE_BN_SIZE 4

static int bn_relu_conv(xfer_model *m, int in, const char *name, const char *norm, const char *conv,
                        int o, int k, xfer_err *err) {
    char key[2 * XFER_TENSOR_NAME_MAX];
    int s;
    snprintf(key, sizeof key, "%s.%s", name, norm);
    if ((s = nn_bn(m, in, key, err)) < 0 || (s = nn_act(m, s, NODE_RELU, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.%s", name, conv);
    return nn_conv(m, s, key, o, k, 1, k / 2, 0, err);
}

int nn_build_densenet(xfer_model *m, int growth, const int *blocks, int init_features,
                      xfer_err *err) {
    int s = 0, g = nn_ch(m, growth);
    NN_TRY(nn_conv(m, s, "features.conv0", nn_ch(m, init_features), 7, 2, 3, 0, err));
    NN_TRY(nn_bn(m, s, "features.norm0", err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_MAXPOOL, s, 0, 3, 2, 1, err));
    for (int b = 0; b < 4; b++) {
        for (int l = 0; l < blocks[b]; l++) {
            char name[64];
            snprintf(name, sizeof name, "features.denseblock%d.denselayer%d", b + 1, l + 1);
            int t;
            if ((t = bn_relu_conv(m, s, name, "norm1", "conv1", DENSE_BN_SIZE * g, 1, err)) < 0 ||
                (t = bn_relu_conv(m, t, name, "norm2", "conv2", g, 3, err)) < 0)
                return err->code ? err->code : XFER_EINTERNAL;
            int cat[2] = {s, t};
            NN_TRY(nn_concat(m, cat, 2, err));
        }
        if (b < 3) {
            char name[48];
            snprintf(name, sizeof name, "features.transition%d", b + 1);
            NN_TRY(bn_relu_conv(m, s, name, "norm", "conv", m->slots[s].c / 2, 1, err));
            NN_TRY(nn_pool(m, NODE_AVGPOOL2D, s, 2, 2, 0, 0, 1, err));
        }
    }
    NN_TRY(nn_bn(m, s, "features.norm5", err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    return nn_head(m, s, "classifier", err);
}
