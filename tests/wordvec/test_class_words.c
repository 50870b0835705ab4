/* Class display names → words (the rules of docs/wordvec.md), written out by hand. */
#include <string.h>

#include "test_util.h"
#include "xfer/wordvec.h"

static void expect(const char *name, int n, const char *const *want) {
    char **w;
    int nw;
    xfer_err err = {0};
    CHECK_MSG(xfer_class_name_words(name, &w, &nw, &err) == XFER_OK, "%s: %s", name, err.msg);
    CHECK_MSG(nw == n, "%s: %d words, expected %d", name, nw, n);
    for (int i = 0; i < n && i < nw; i++)
        CHECK_MSG(strcmp(w[i], want[i]) == 0, "%s: word %d is %s, expected %s", name, i, w[i],
                  want[i]);
    xfer_words_free(w, nw);
}

int main(void) {
    expect("T-shirt/top", 3, (const char *[]){"T", "shirt", "top"});
    expect("Ankle boot", 2, (const char *[]){"Ankle", "boot"});
    expect("great white shark, white shark, man-eater", 3,
           (const char *[]){"great", "white", "shark"});
    expect("apartment_building/outdoor", 3, (const char *[]){"apartment", "building", "outdoor"});
    expect("  café  crème ", 2, (const char *[]){"café", "crème"});
    char **w;
    int nw;
    xfer_err err = {0};
    CHECK(xfer_class_name_words(" - / _", &w, &nw, &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "no word") != NULL);
    return test_summary();
}
