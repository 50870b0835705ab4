/* Writer -> reader round trip for every dtype, plus the conversions to float32/int64 checked
 * against values fixed by IEEE 754 (binary16, bfloat16) rather than by xfer itself. */
#include "test_util.h"
#include "xfer/safetensors.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static const char *PATH = "st_roundtrip.safetensors";

int main(void) {
    xfer_err err;
    xfer_st_writer *w = xfer_st_writer_new();
    CHECK(w != NULL);

    float f32[6] = {1.5f, -2.25f, 3.0e-38f, 1e30f, 0.0f, -7.0f};
    /* binary16: 1, 2^-24 (smallest subnormal), 65504 (max), -inf, -0, NaN, 1/3 ~ 0x3555 */
    uint16_t f16[7] = {0x3c00, 0x0001, 0x7bff, 0xfc00, 0x8000, 0x7e00, 0x3555};
    float f16_ref[7] = {1.0f, 0x1p-24f, 65504.0f, -INFINITY, -0.0f, NAN, 0x1.554p-2f};
    /* bfloat16: 1, -2, 3.140625 (0x4049), +inf */
    uint16_t bf16[4] = {0x3f80, 0xc000, 0x4049, 0x7f80};
    float bf16_ref[4] = {1.0f, -2.0f, 3.140625f, INFINITY};
    double f64[4] = {0.1, -1e300, 1e-50, 3.4028235677973366e38 /* > FLT_MAX, rounds to inf */};
    int64_t i64[3] = {-5, INT64_C(1) << 40, 7};
    int32_t i32[2] = {-2147483647 - 1, 12345};
    uint8_t u8[3] = {0, 200, 255};
    uint8_t bl[2] = {1, 0};

    int64_t s23[2] = {2, 3}, s7[1] = {7}, s4[2] = {2, 2}, s3[1] = {3}, s2[1] = {2}, s0[2] = {0, 5};
    CHECK(xfer_st_writer_add(w, "f32", XFER_DT_F32, 2, s23, f32, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "f16", XFER_DT_F16, 1, s7, f16, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "bf16", XFER_DT_BF16, 2, s4, bf16, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "f64", XFER_DT_F64, 2, s4, f64, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "i64", XFER_DT_I64, 1, s3, i64, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "i32", XFER_DT_I32, 1, s2, i32, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "u8", XFER_DT_U8, 1, s3, u8, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "bool", XFER_DT_BOOL, 1, s2, bl, &err) == XFER_OK);
    int64_t scalar = 42;
    CHECK(xfer_st_writer_add(w, "scalar", XFER_DT_I64, 0, NULL, &scalar, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "empty", XFER_DT_F32, 2, s0, NULL, &err) == XFER_OK);
    CHECK(xfer_st_writer_add(w, "f32", XFER_DT_F32, 1, s2, f32, &err) != XFER_OK);
    CHECK(strstr(err.msg, "duplicate tensor 'f32'") != NULL);
    CHECK(xfer_st_writer_meta(w, "arch", "resnet18", &err) == XFER_OK);
    CHECK(xfer_st_writer_meta(w, "epoch", "1", &err) == XFER_OK);
    CHECK(xfer_st_writer_meta(w, "epoch", "2", &err) == XFER_OK);
    CHECK(xfer_st_writer_meta(w, "quote", "a \"b\"\n\\ é", &err) == XFER_OK);
    CHECK_MSG(xfer_st_writer_save(w, PATH, &err) == XFER_OK, "%s", err.msg);
    xfer_st_writer_free(w);

    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", PATH, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);

    /* header length: a multiple of 8, JSON padded with spaces */
    FILE *f = fopen(PATH, "rb");
    unsigned char h[8];
    CHECK(f && fread(h, 1, 8, f) == 8);
    if (f) fclose(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--)
        hl = hl << 8 | h[i];
    CHECK(hl % 8 == 0);

    xfer_safetensors st;
    int rc = xfer_st_open(PATH, &st, &err);
    CHECK_MSG(rc == XFER_OK, "%s", err.msg);
    if (rc != XFER_OK) return test_summary();
    CHECK(st.data_start == 8 + hl);
    CHECK(st.n_tensors == 10);
    const char *order[] = {"f32", "f16", "bf16", "f64",    "i64",
                           "i32", "u8",  "bool", "scalar", "empty"};
    for (int i = 0; i < 10 && i < st.n_tensors; i++)
        CHECK_MSG(strcmp(st.tensors[i].name, order[i]) == 0, "tensor %d is %s", i,
                  st.tensors[i].name);
    CHECK(xfer_st_meta(&st, "arch") && strcmp(xfer_st_meta(&st, "arch"), "resnet18") == 0);
    CHECK(xfer_st_meta(&st, "epoch") && strcmp(xfer_st_meta(&st, "epoch"), "2") == 0);
    CHECK(xfer_st_meta(&st, "quote") && strcmp(xfer_st_meta(&st, "quote"), "a \"b\"\n\\ é") == 0);
    CHECK(xfer_st_meta(&st, "missing") == NULL);
    CHECK(xfer_st_find(&st, "nope") == NULL);

    float out[8];
    const xfer_st_tensor *t = xfer_st_find(&st, "f32");
    CHECK(t && t->dtype == XFER_DT_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          t->numel == 6);
    if (t) {
        CHECK(xfer_st_read_f32(&st, t, out, 6, &err) == XFER_OK);
        CHECK(memcmp(out, f32, sizeof f32) == 0);
        CHECK(memcmp(xfer_st_data(&st, t), f32, sizeof f32) == 0);
        CHECK(xfer_st_count_nonfinite(&st, t) == 0);
        CHECK(xfer_st_read_f32(&st, t, out, 5, &err) != XFER_OK);
        int64_t iv[6];
        CHECK(xfer_st_read_i64(&st, t, iv, 6, &err) == XFER_EINPUT);
        CHECK(strstr(err.msg, "'f32' is F32, expected an integer tensor") != NULL);
    }
    t = xfer_st_find(&st, "f16");
    CHECK(t && t->dtype == XFER_DT_F16 && t->numel == 7);
    if (t && xfer_st_read_f32(&st, t, out, 7, &err) == XFER_OK) {
        for (int i = 0; i < 7; i++) {
            if (isnan(f16_ref[i]))
                CHECK(isnan(out[i]));
            else
                CHECK_MSG(out[i] == f16_ref[i] && signbit(out[i]) == signbit(f16_ref[i]),
                          "f16[%d] = %a, want %a", i, out[i], f16_ref[i]);
        }
        CHECK(xfer_st_count_nonfinite(&st, t) == 2);
    }
    t = xfer_st_find(&st, "bf16");
    CHECK(t && t->dtype == XFER_DT_BF16);
    if (t && xfer_st_read_f32(&st, t, out, 4, &err) == XFER_OK) {
        for (int i = 0; i < 4; i++)
            CHECK_MSG(out[i] == bf16_ref[i], "bf16[%d] = %a", i, out[i]);
        CHECK(xfer_st_count_nonfinite(&st, t) == 1);
    }
    t = xfer_st_find(&st, "f64");
    if (t && xfer_st_read_f32(&st, t, out, 4, &err) == XFER_OK) {
        CHECK(out[0] == 0.1f && out[1] == -INFINITY && out[2] == 0.0f && out[3] == INFINITY);
        CHECK(xfer_st_count_nonfinite(&st, t) == 0); /* finite as doubles */
    }
    int64_t iv[4];
    t = xfer_st_find(&st, "i64");
    if (t) {
        CHECK(xfer_st_read_i64(&st, t, iv, 3, &err) == XFER_OK);
        CHECK(iv[0] == -5 && iv[1] == (INT64_C(1) << 40) && iv[2] == 7);
        CHECK(xfer_st_read_f32(&st, t, out, 3, &err) == XFER_OK);
        CHECK(out[0] == -5.0f && out[1] == 0x1p40f && out[2] == 7.0f);
        CHECK(xfer_st_count_nonfinite(&st, t) == 0);
    }
    t = xfer_st_find(&st, "i32");
    if (t) {
        CHECK(xfer_st_read_i64(&st, t, iv, 2, &err) == XFER_OK);
        CHECK(iv[0] == -2147483648LL && iv[1] == 12345);
    }
    t = xfer_st_find(&st, "u8");
    if (t) {
        CHECK(xfer_st_read_i64(&st, t, iv, 3, &err) == XFER_OK);
        CHECK(iv[0] == 0 && iv[1] == 200 && iv[2] == 255);
        CHECK(xfer_st_read_f32(&st, t, out, 3, &err) == XFER_OK && out[2] == 255.0f);
    }
    t = xfer_st_find(&st, "bool");
    if (t) {
        CHECK(xfer_st_read_f32(&st, t, out, 2, &err) == XFER_OK && out[0] == 1.0f &&
              out[1] == 0.0f);
    }
    t = xfer_st_find(&st, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1);
    if (t) CHECK(xfer_st_read_i64(&st, t, iv, 1, &err) == XFER_OK && iv[0] == 42);
    t = xfer_st_find(&st, "empty");
    CHECK(t && t->numel == 0 && t->begin == t->end);
    if (t) CHECK(xfer_st_read_f32(&st, t, NULL, 0, &err) == XFER_OK);
    xfer_st_close(&st);

    /* the same bytes through the memory path */
    f = fopen(PATH, "rb");
    static unsigned char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    rc = xfer_st_open_memory(buf, n, "copy", &st, &err);
    CHECK_MSG(rc == XFER_OK, "%s", err.msg);
    if (rc == XFER_OK) {
        CHECK(st.n_tensors == 10 && st.n_meta == 3);
        xfer_st_close(&st);
    }
    /* save into a missing folder: a named error, nothing left behind */
    w = xfer_st_writer_new();
    CHECK(xfer_st_writer_save(w, "no/such/dir/x.safetensors", &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "no/such/dir/x.safetensors") != NULL);
    xfer_st_writer_free(w);
    unlink(PATH);
    return test_summary();
}
