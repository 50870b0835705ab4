/* Every class of malformed safetensors file must give XFER_EINPUT with a message naming the file
 * and the problem, through both the mmap path (xfer_st_open) and the memory path. */
#include "test_util.h"
#include "xfer/safetensors.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static const char *TMP = "st_malformed.tmp";

/* Bytes: an 8-byte LE length `hlen`, the header text, then `ndata` bytes of data. */
static size_t make(unsigned char *buf, uint64_t hlen, const char *header, size_t ndata) {
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    size_t n = strlen(header);
    memcpy(buf + 8, header, n);
    memset(buf + 8 + n, 0x3c, ndata);
    return 8 + n + ndata;
}

static void expect_fail(const char *what, const unsigned char *buf, size_t n, const char *needle) {
    FILE *f = fopen(TMP, "wb");
    CHECK(f != NULL);
    if (!f) return;
    if (n) fwrite(buf, 1, n, f);
    fclose(f);
    xfer_safetensors st;
    xfer_err err;
    int rc = xfer_st_open(TMP, &st, &err);
    CHECK_MSG(rc == XFER_EINPUT, "%s: rc %d (%s)", what, rc, err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg,
              needle);
    CHECK_MSG(strstr(err.msg, TMP) != NULL, "%s: message '%s' does not name the file", what,
              err.msg);
    if (rc == XFER_OK) xfer_st_close(&st);
    rc = xfer_st_open_memory(buf, n, "mem.safetensors", &st, &err);
    CHECK_MSG(rc == XFER_EINPUT, "%s (memory): rc %d (%s)", what, rc, err.msg);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s (memory): '%s' lacks '%s'", what, err.msg,
              needle);
    if (rc == XFER_OK) xfer_st_close(&st);
}

/* hlen = strlen(header) */
static void bad(const char *what, const char *header, size_t ndata, const char *needle) {
    static unsigned char buf[1 << 16];
    size_t n = make(buf, strlen(header), header, ndata);
    expect_fail(what, buf, n, needle);
}

static void expect_ok(const char *what, const char *header, size_t ndata) {
    static unsigned char buf[1 << 16];
    size_t n = make(buf, strlen(header), header, ndata);
    xfer_safetensors st;
    xfer_err err;
    int rc = xfer_st_open_memory(buf, n, "ok.safetensors", &st, &err);
    CHECK_MSG(rc == XFER_OK, "%s: %s", what, err.msg);
    if (rc == XFER_OK) xfer_st_close(&st);
}

int main(void) {
    static unsigned char buf[1 << 16];
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_ok("valid control", good, 8);
    expect_ok("zero tensors", "{}", 0);
    expect_ok("metadata only", "{\"__metadata__\":{\"k\":\"v\"}}  ", 0);
    expect_ok("zero-size tensor",
              "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]}}", 0);

    /* bad length */
    expect_fail("empty file", buf, 0, "bad header length");
    expect_fail("5-byte file", (const unsigned char *)"\x01\x02\x03\x04\x05", 5,
                "bad header length");
    size_t n = make(buf, 1, "{", 0);
    expect_fail("length 1", buf, n, "bad header length");
    /* N > file */
    n = make(buf, 4000, good, 8);
    expect_fail("header longer than file", buf, n, "longer than the file");
    /* truncated file: valid header, data cut short */
    n = make(buf, strlen(good), good, 5);
    expect_fail("truncated data", buf, n, "outside the data buffer");
    /* N > 100 MB */
    n = make(buf, (uint64_t)XFER_ST_MAX_HEADER + 1, good, 8);
    expect_fail("huge header", buf, n, "exceeds the 100 MB limit");
    n = make(buf, UINT64_MAX, good, 8);
    expect_fail("2^64-1 header", buf, n, "exceeds the 100 MB limit");

    bad("non-object JSON", "[1,2,3]", 0, "not an object");
    bad("string JSON", "\"abc\"", 0, "not an object");
    bad("not JSON", "{\"a\": nope}", 0, "not valid JSON");
    bad("binary header", "\x01\x02\x03\x04", 0, "not valid JSON");
    bad("JSON then garbage", "{}xyz", 0, "extra bytes");
    bad("entry not object", "{\"a\":3}", 0, "'a': entry is not a JSON object");
    bad("missing dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        "'a': missing key \"dtype\"");
    bad("missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
        "'a': missing key \"shape\"");
    bad("missing offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
        "'a': missing key \"data_offsets\"");
    bad("overlap",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        12, "'b': data_offsets [4, 12] overlap tensor 'a'");
    bad("same offsets",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        8, "overlap");
    bad("gap",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
        20, "'b': gap of 4 bytes");
    bad("gap at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
        "'a': gap of 4 bytes");
    bad("trailing bytes", good, 12, "4 trailing bytes after the last tensor 'a'");
    bad("trailing bytes, no tensors", "{}", 3, "3 trailing bytes");
    bad("unknown dtype", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
        "unknown dtype F8_E4M3 for tensor 'w'");
    bad("dtype not string", "{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        "'w': \"dtype\" is not a string");
    bad("shape/size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
        8, "'w': shape/size mismatch");
    bad("F16 size mismatch", "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
        16, "shape/size mismatch");
    bad("negative dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
        "'w': shape[0] is not a non-negative integer");
    bad("fractional dim", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
        "shape[0] is not a non-negative integer");
    bad("shape not list", "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
        "'w': \"shape\" is not a list");
    bad("too many dims",
        "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
        "9 dimensions");
    bad("numel overflow",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
        "'w': shape overflows");
    bad("numel*size overflow",
        "{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,8]}}", 8,
        "shape overflows");
    bad("offsets not a pair", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
        "'w': \"data_offsets\" is not [begin, end]");
    bad("negative offset", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
        "\"data_offsets\" is not [begin, end]");
    bad("begin > end", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
        "outside the data buffer");
    bad("huge offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1e300,1e300]}}",
        8, "\"data_offsets\" is not [begin, end]");
    bad("metadata not object", "{\"__metadata__\":[1]}", 0, "\"__metadata__\" is not an object");
    bad("metadata value not string", "{\"__metadata__\":{\"epoch\":3}}", 0,
        "__metadata__ value of 'epoch' is not a string");
    bad("duplicate tensor",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
        2, "tensor 'a' appears twice");

    /* torch.save outputs: a zip archive, and the legacy pickle (protocol 2, magic LONG1) */
    const unsigned char zip[] = {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0,   0,   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_fail(".pth zip", zip, sizeof zip,
                "looks like a PyTorch .pth checkpoint; convert it "
                "with scripts/convert_torch.py");
    const unsigned char pkl[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    expect_fail("pickle", pkl, sizeof pkl, "convert it with scripts/convert_torch.py");
    const unsigned char pkl4[] = {0x80, 0x04, 0x95};
    expect_fail("short pickle", pkl4, sizeof pkl4, "looks like a PyTorch .pth");

    /* A real safetensors whose header length happens to start with 0x80 0x02 (N = 640) is not a
     * pickle: its JSON starts with '{' at byte 8. */
    char hdr[641];
    memset(hdr, ' ', 640);
    hdr[640] = '\0';
    memcpy(hdr, "{}", 2);
    n = make(buf, 640, hdr, 0);
    CHECK(buf[0] == 0x80 && buf[1] == 0x02);
    xfer_safetensors st;
    xfer_err err;
    int rc = xfer_st_open_memory(buf, n, "n640.safetensors", &st, &err);
    CHECK_MSG(rc == XFER_OK, "N=640 header: %s", err.msg);
    if (rc == XFER_OK) xfer_st_close(&st);

    /* a directory and a missing file */
    rc = xfer_st_open(".", &st, &err);
    CHECK(rc == XFER_EINPUT && strstr(err.msg, "not a regular file"));
    rc = xfer_st_open("no/such/file.safetensors", &st, &err);
    CHECK(rc == XFER_EINPUT && strstr(err.msg, "no/such/file.safetensors: cannot open"));

    unlink(TMP);
    return test_summary();
}
