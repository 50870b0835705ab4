/* torchvision's AlexNet and ResNets (BasicBlock: 18/34; Bottleneck with the stride on the 3x3,
 * torchvision's "v1.5": 50/101/152), built as nodes with torchvision's state_dict names; and the
 * dispatcher over every architecture (the others in arch_*.c). */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static int build_alexnet(xfer_model *m, xfer_err *err) {
    int s = 0;
    int c1 = nn_ch(m, 64), c2 = nn_ch(m, 192), c3 = nn_ch(m, 384), c4 = nn_ch(m, 256);
    int c5 = nn_ch(m, 256), hid = nn_ch(m, 4096);
    NN_TRY(nn_conv(m, s, "features.0", c1, 11, 4, 2, 1, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    NN_TRY(nn_conv(m, s, "features.3", c2, 5, 1, 2, 1, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    NN_TRY(nn_conv(m, s, "features.6", c3, 3, 1, 1, 1, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_conv(m, s, "features.8", c4, 3, 1, 1, 1, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_conv(m, s, "features.10", c5, 3, 1, 1, 1, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_MAXPOOL, s, 0, 3, 2, 0, err));
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 6, 0, 0, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    NN_TRY(nn_linear(m, s, "classifier.1", c5 * 36, hid, err));
    /* torch flattens C,H,W; our NHWC flatten is H,W,C: classifier.1 is converted like an OIHW
     * filter [hid][c5][6][6] <-> [hid][6][6][c5] at load/save time (docs/engine.md). */
    xfer_tensor_info *t = &m->tensors[m->n_tensors - 2];
    t->permute_ohwi = 1, t->perm_o = hid, t->perm_i = c5, t->perm_kh = 6, t->perm_kw = 6;
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_DROPOUT, s, 0, 0, 0, 0, err));
    NN_TRY(nn_linear(m, s, "classifier.4", hid, hid, err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    return nn_head(m, s, "classifier.6", err);
}

/* "<name>.conv<i>" + "<name>.bn<i>" (+ ReLU unless last) */
static int conv_bn(xfer_model *m, int in, const char *name, int i, int o, int k, int stride,
                   int relu, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int s;
    snprintf(key, sizeof key, "%s.conv%d", name, i);
    if ((s = nn_conv(m, in, key, o, k, stride, k / 2, 0, err)) < 0) return -1;
    snprintf(key, sizeof key, "%s.bn%d", name, i);
    if ((s = nn_bn(m, s, key, err)) < 0) return -1;
    return relu ? nn_act(m, s, NODE_RELU, err) : s;
}

/* BasicBlock (expansion 1: 3x3, 3x3) or Bottleneck (expansion 4: 1x1, 3x3 with the stride, 1x1),
 * the downsample branch when the shape changes, the residual add and ReLU. */
static int res_block(xfer_model *m, int in, const char *name, int planes, int stride,
                     int bottleneck, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int s, identity = in, out_c = bottleneck ? 4 * planes : planes;
    if (bottleneck) {
        if ((s = conv_bn(m, in, name, 1, planes, 1, 1, 1, err)) < 0 ||
            (s = conv_bn(m, s, name, 2, planes, 3, stride, 1, err)) < 0 ||
            (s = conv_bn(m, s, name, 3, out_c, 1, 1, 0, err)) < 0)
            return -1;
    } else {
        if ((s = conv_bn(m, in, name, 1, planes, 3, stride, 1, err)) < 0 ||
            (s = conv_bn(m, s, name, 2, planes, 3, 1, 0, err)) < 0)
            return -1;
    }
    if (stride != 1 || m->slots[in].c != out_c) {
        snprintf(key, sizeof key, "%s.downsample.0", name);
        if ((identity = nn_conv(m, in, key, out_c, 1, stride, 0, 0, err)) < 0) return -1;
        snprintf(key, sizeof key, "%s.downsample.1", name);
        if ((identity = nn_bn(m, identity, key, err)) < 0) return -1;
    }
    if ((s = nn_simple(m, NODE_ADD, s, identity, 0, 0, 0, err)) < 0) return -1;
    return nn_act(m, s, NODE_RELU, err);
}

static int build_resnet(xfer_model *m, const int *blocks, int bottleneck, xfer_err *err) {
    int s = 0;
    NN_TRY(nn_conv(m, s, "conv1", nn_ch(m, 64), 7, 2, 3, 0, err));
    NN_TRY(nn_bn(m, s, "bn1", err));
    NN_TRY(nn_act(m, s, NODE_RELU, err));
    NN_TRY(nn_simple(m, NODE_MAXPOOL, s, 0, 3, 2, 1, err));
    for (int l = 0; l < 4; l++) {
        for (int i = 0; i < blocks[l]; i++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", l + 1, i);
            NN_TRY(res_block(m, s, name, nn_ch(m, 64 << l), (i == 0 && l > 0) ? 2 : 1, bottleneck,
                             err));
        }
    }
    NN_TRY(nn_simple(m, NODE_AVGPOOL, s, 0, 1, 0, 0, err));
    return nn_head(m, s, "fc", err);
}

int nn_build(xfer_model *m, xfer_err *err) {
    static const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3}, r101[4] = {3, 4, 23, 3},
                     r152[4] = {3, 8, 36, 3};
    static const int d121[4] = {6, 12, 24, 16}, d169[4] = {6, 12, 32, 32},
                     d201[4] = {6, 12, 48, 32};
    if (nn_add_slot(m, 3, err) < 0) return err->code; /* slot 0: the input images */
    switch (m->cfg.arch) {
    case XFER_ARCH_ALEXNET:
        return build_alexnet(m, err);
    case XFER_ARCH_RESNET18:
        return build_resnet(m, r18, 0, err);
    case XFER_ARCH_RESNET34:
        return build_resnet(m, r34, 0, err);
    case XFER_ARCH_RESNET50:
        return build_resnet(m, r34, 1, err);
    case XFER_ARCH_RESNET101:
        return build_resnet(m, r101, 1, err);
    case XFER_ARCH_RESNET152:
        return build_resnet(m, r152, 1, err);
    case XFER_ARCH_MOBILENET_V2:
        return nn_build_mobilenet_v2(m, err);
    case XFER_ARCH_MNASNET1_0:
        return nn_build_mnasnet(m, err);
    case XFER_ARCH_DENSENET121:
        return nn_build_densenet(m, 32, d121, 64, err);
    case XFER_ARCH_DENSENET169:
        return nn_build_densenet(m, 32, d169, 64, err);
    case XFER_ARCH_DENSENET201:
        return nn_build_densenet(m, 32, d201, 64, err);
    case XFER_ARCH_GOOGLENET:
        return nn_build_googlenet(m, err);
    case XFER_ARCH_INCEPTION_V3:
        return nn_build_inception_v3(m, err);
    case XFER_ARCH_COUNT:
        break;
    }
    return xfer_fail(err, XFER_EINPUT, "unknown architecture %d", (int)m->cfg.arch);
}
