/* xfer_config_load_string on random bytes, on YAML token soup and on mutations of a valid config:
 * it must return XFER_OK or XFER_EINPUT, never crash or leak (CI runs this under ASan/UBSan with
 * LeakSanitizer), and an error must name the input and a LINE:COL on every line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "xfer/config.h"

static const char k_valid[] =
    "experiment: g\n"
    "seed: 1\n"
    "datasets:\n"
    "  d:\n"
    "    kind: image_folder\n"
    "    root: data/d\n"
    "    exclude: [BACKGROUND_Google]\n"
    "    split: {train_fraction: 0.8, seed: 3}\n"
    "  e: {kind: synthetic, synthetic: {classes: 3, per_class: 2}}\n"
    "sources:\n"
    "  - &src {name: a, arch: resnet18, weights: random}\n"
    "  - name: b\n"
    "    arch: resnet18\n"
    "    train: {from: a, dataset: e, epochs: 2, optimizer: {sgd: {lr: 0.1}}}\n"
    "target:\n"
    "  dataset: d\n"
    "  finetune: {epochs: 3, schedule: {step: {step_size: 1, gamma: 0.5}}}\n"
    "scores: [softmax_max, {emd: {k: 1}}, leep]\n"
    "word_vectors: {path: v.vec, synonyms: {a: b}}\n";

static const char *const k_tokens[] = {"\n",
                                       "  ",
                                       "- ",
                                       ": ",
                                       "[",
                                       "]",
                                       "{",
                                       "}",
                                       ",",
                                       "&a ",
                                       "*a",
                                       "!!str ",
                                       "!t ",
                                       "'",
                                       "\"",
                                       "#",
                                       "? ",
                                       "---\n",
                                       "...\n",
                                       "|\n",
                                       ">\n",
                                       "%YAML 1.2\n",
                                       "null",
                                       "~",
                                       "-1",
                                       "0",
                                       "1e999",
                                       "99999999999999999999",
                                       "\t",
                                       "\\",
                                       "\xff",
                                       "\x00",
                                       "experiment",
                                       "datasets",
                                       "sources",
                                       "target",
                                       "kind",
                                       "synthetic",
                                       "train",
                                       "from",
                                       "scores",
                                       "emd",
                                       "word_vectors",
                                       "name",
                                       "arch",
                                       "alexnet",
                                       "weights",
                                       "random",
                                       "true",
                                       ".nan"};
enum { N_TOKENS = sizeof k_tokens / sizeof k_tokens[0] };

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) { /* xorshift64*: any fixed stream will do */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return (uint32_t)((g_rng * 2685821657736338717ull) >> 32);
}

static int g_ok, g_bad;

static void try_load(const char *buf, size_t len) {
    xfer_config cfg;
    xfer_err err;
    int rc = xfer_config_load_string(buf, len, "fuzz.yaml", &cfg, &err);
    CHECK_MSG(rc == XFER_OK || rc == XFER_EINPUT, "rc %d: %s", rc, err.msg);
    if (rc == XFER_OK) {
        g_ok++;
        CHECK(cfg.experiment && cfg.n_datasets > 0 && cfg.n_sources > 0 && cfg.target.dataset);
        xfer_config_free(&cfg);
    } else {
        g_bad++;
        CHECK(cfg.datasets == NULL && cfg.text == NULL); /* left freed */
        CHECK_MSG(strncmp(err.msg, "fuzz.yaml:", 10) == 0, "%s", err.msg);
        /* every line names the file and a position (or is the closing count) */
        const char *line = err.msg;
        while (line && *line) {
            int l = 0, c = 0;
            CHECK_MSG(sscanf(line, "fuzz.yaml:%d:%d:", &l, &c) == 2 ||
                          strstr(line, "more problems not shown"),
                      "%s", line);
            const char *nl = strchr(line, '\n');
            line = nl ? nl + 1 : NULL;
        }
    }
}

int main(void) {
    static char buf[8192];
    try_load("", 0);
    try_load(k_valid, strlen(k_valid));
    CHECK(g_ok == 1);
    /* random bytes */
    for (int i = 0; i < 1500; i++) {
        size_t len = next_u32() % 200;
        for (size_t k = 0; k < len; k++)
            buf[k] = (char)(next_u32() & 0xff);
        try_load(buf, len);
    }
    /* token soup */
    for (int i = 0; i < 1500; i++) {
        size_t len = 0;
        int n = (int)(next_u32() % 60);
        for (int k = 0; k < n; k++) {
            const char *t = k_tokens[next_u32() % N_TOKENS];
            size_t tl = strlen(t) ? strlen(t) : 1; /* "\x00" is one NUL byte */
            if (len + tl >= sizeof buf) break;
            memcpy(buf + len, t, tl);
            len += tl;
        }
        try_load(buf, len);
    }
    /* mutations of a valid config */
    size_t vlen = strlen(k_valid);
    for (int i = 0; i < 3000; i++) {
        memcpy(buf, k_valid, vlen);
        size_t len = vlen;
        int n = 1 + (int)(next_u32() % 3);
        for (int k = 0; k < n && len > 0; k++) {
            size_t pos = next_u32() % len;
            switch (next_u32() % 4) {
            case 0: /* replace a byte */
                buf[pos] = (char)(next_u32() & 0xff);
                break;
            case 1: { /* delete a span */
                size_t span = 1 + next_u32() % 20;
                if (pos + span > len) span = len - pos;
                memmove(buf + pos, buf + pos + span, len - pos - span);
                len -= span;
                break;
            }
            case 2: { /* insert a token */
                const char *t = k_tokens[next_u32() % N_TOKENS];
                size_t tl = strlen(t) ? strlen(t) : 1;
                if (len + tl >= sizeof buf) break;
                memmove(buf + pos + tl, buf + pos, len - pos);
                memcpy(buf + pos, t, tl);
                len += tl;
                break;
            }
            default: /* truncate */
                len = pos;
            }
        }
        try_load(buf, len);
    }
    /* deep nesting and alias cycles */
    size_t len = 0;
    len += (size_t)snprintf(buf, sizeof buf, "experiment: ");
    while (len < 4000)
        buf[len++] = '[';
    while (len < 7988)
        buf[len++] = ']';
    try_load(buf, len);
    const char *cyc = "experiment: t\ndatasets: &a {d: *a}\nsources: &s [*s]\n"
                      "target: &t {dataset: *t}\nscores: &q [*q]\n";
    try_load(cyc, strlen(cyc));
    printf("%d valid, %d rejected\n", g_ok, g_bad);
    CHECK(g_ok > 1 && g_bad > 1000);
    return test_summary();
}
