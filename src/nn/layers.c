/* Layer builders shared by the architectures (arch*.c): each adds its tensors under torchvision's
 * names and one node, and returns the output slot (or < 0 with err filled). */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

int nn_ch(const xfer_model *m, int c) {
    int v = (int)(c * m->cfg.width + 0.5);
    return v < 1 ? 1 : v;
}

int nn_conv_ex(xfer_model *m, int in, const char *name, int o, int kh, int kw, int stride,
               int pad_h, int pad_w, int groups, int bias, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int c = m->slots[in].c;
    if (groups < 1) groups = 1;
    if (groups != 1 && !(groups == c && o == c))
        return xfer_fail(err, XFER_EINTERNAL,
                         "%s: groups %d of %d -> %d channels (only 1 and depthwise are supported)",
                         name, groups, c, o);
    int64_t ws[4] = {o, c / groups, kh, kw}, bs[1] = {o};
    node nd = {.kind = NODE_CONV,
               .in = in,
               .k = kh,
               .kh = kh,
               .kw = kw,
               .stride = stride,
               .pad = pad_h,
               .pad_h = pad_h,
               .pad_w = pad_w,
               .groups = groups,
               .bias = -1};
    snprintf(key, sizeof key, "%s.weight", name);
    if ((nd.w = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 4, ws, err)) < 0) return -1;
    if (bias) {
        snprintf(key, sizeof key, "%s.bias", name);
        if ((nd.bias = nn_add_tensor(m, key, XFER_TENSOR_PARAM, 1, bs, err)) < 0) return -1;
    }
    if ((nd.out = nn_add_slot(m, o, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

int nn_conv(xfer_model *m, int in, const char *name, int o, int k, int stride, int pad, int bias,
            xfer_err *err) {
    return nn_conv_ex(m, in, name, o, k, k, stride, pad, pad, 1, bias, err);
}

int nn_bn_ex(xfer_model *m, int in, const char *name, float eps, float momentum, xfer_err *err) {
    char key[XFER_TENSOR_NAME_MAX];
    int c = m->slots[in].c;
    int64_t s[1] = {c};
    node nd = {.kind = NODE_BN, .in = in, .eps = eps, .momentum = momentum};
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

int nn_bn(xfer_model *m, int in, const char *name, xfer_err *err) {
    return nn_bn_ex(m, in, name, XFER_BN_EPS, XFER_BN_MOMENTUM, err);
}

int nn_act(xfer_model *m, int in, node_kind kind, xfer_err *err) {
    node nd = {.kind = kind, .in = in, .out = in};
    return nn_add_node(m, &nd, err) < 0 ? -1 : in;
}

int nn_simple(xfer_model *m, node_kind kind, int in, int in2, int k, int stride, int pad,
              xfer_err *err) {
    node nd = {
        .kind = kind, .in = in, .in2 = in2, .k = k, .stride = stride, .pad = pad, .oh = k, .ow = k};
    if ((nd.out = nn_add_slot(m, m->slots[in].c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

int nn_pool(xfer_model *m, node_kind kind, int in, int k, int stride, int pad, int ceil_mode,
            int count_include_pad, xfer_err *err) {
    node nd = {.kind = kind,
               .in = in,
               .k = k,
               .stride = stride,
               .pad = pad,
               .ceil_mode = ceil_mode,
               .count_include_pad = count_include_pad};
    if ((nd.out = nn_add_slot(m, m->slots[in].c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

int nn_concat(xfer_model *m, const int *ins, int n, xfer_err *err) {
    if (n < 1 || n > NN_CAT_MAX)
        return xfer_fail(err, XFER_EINTERNAL, "concatenation of %d inputs", n);
    node nd = {.kind = NODE_CONCAT, .in = ins[0], .n_cat = n};
    int c = 0;
    for (int j = 0; j < n; j++) {
        nd.cat_in[j] = ins[j];
        c += m->slots[ins[j]].c;
    }
    if ((nd.out = nn_add_slot(m, c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

int nn_affine(xfer_model *m, int in, const float *scale, const float *shift, xfer_err *err) {
    int c = m->slots[in].c;
    if (c > 4) return xfer_fail(err, XFER_EINTERNAL, "input transform of %d channels", c);
    node nd = {.kind = NODE_AFFINE, .in = in};
    for (int j = 0; j < c; j++)
        nd.affine[0][j] = scale[j], nd.affine[1][j] = shift[j];
    if ((nd.out = nn_add_slot(m, c, err)) < 0) return -1;
    return nn_add_node(m, &nd, err) < 0 ? -1 : nd.out;
}

int nn_linear(xfer_model *m, int in, const char *name, int in_features, int out, xfer_err *err) {
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

int nn_head(xfer_model *m, int features, const char *name, xfer_err *err) {
    int s;
    m->features_slot = features;
    if ((s = nn_linear(m, features, name, m->slots[features].c, m->cfg.num_classes, err)) < 0)
        return err->code ? err->code : XFER_EINTERNAL;
    m->logits_slot = s;
    m->head_w = m->n_tensors - 2, m->head_b = m->n_tensors - 1;
    return XFER_OK;
}
