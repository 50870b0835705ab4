/* libFuzzer target for the YAML config: the full load path (libyaml parse, typed fields, defaults,
 * cross-references and validation) of xfer_config_load_string. Seeds: corpus/config/ (valid
 * configs of docs/config.md and a few broken ones). */
#include "xfer/config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536) return 0; /* configs are small; keep each run fast */
    xfer_config cfg;
    xfer_err err;
    if (xfer_config_load_string((const char *)data, size, "fuzz.yaml", &cfg, &err) == XFER_OK)
        xfer_config_free(&cfg);
    return 0;
}
