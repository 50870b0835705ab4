/* The results writer API: lock refusal, error paths (named files and objects), summaries derived
 * from the curve by their documented definitions, truncation, transactions that leave the file
 * untouched on failure, and the reader. Memory-clean under ASan/LSan. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "xfer/results.h"

static const char *PATH = "api_test.h5";

static void test_create_lock_and_errors(void) {
    xfer_err e;
    xfer_err_clear(&e);
    unlink(PATH);
    xfer_results_meta meta = {NULL, "cfg: 1\n", NULL, "cpu", "fp32", 7};
    xfer_results *r = NULL, *r2 = NULL;
    CHECK(xfer_results_create(PATH, &meta, 0, &r, &e) == XFER_OK);
    /* a second writer (flock is per open file description, so this conflicts in-process too) */
    CHECK(xfer_results_open(PATH, &r2, &e) == XFER_EINPUT);
    CHECK(r2 == NULL);
    CHECK_MSG(strstr(e.msg, "another xfer process") && strstr(e.msg, PATH), "%s", e.msg);
    xfer_err_clear(&e);
    CHECK(xfer_results_create(PATH, &meta, 1, &r2, &e) == XFER_EINPUT);

    xfer_results_source_info a = {"src_a", "resnet18", "w.safetensors", "imagenet"};
    CHECK(xfer_results_add_source(r, &a, &e) == XFER_OK);
    CHECK(xfer_results_add_source(r, &a, &e) == XFER_OK); /* resume: same identity */
    xfer_results_source_info a2 = {"src_a", "alexnet", "w.safetensors", "imagenet"};
    CHECK(xfer_results_add_source(r, &a2, &e) == XFER_EINPUT);
    CHECK_MSG(strstr(e.msg, "src_a") && strstr(e.msg, PATH), "%s", e.msg);
    xfer_results_source_info bad = {"a/b", "alexnet", "", ""};
    CHECK(xfer_results_add_source(r, &bad, &e) == XFER_EINPUT);
    xfer_results_source_info bad_arch = {"src_b", "res/net", "", ""};
    CHECK(xfer_results_add_source(r, &bad_arch, &e) == XFER_EINPUT);
    CHECK_MSG(strstr(e.msg, "res/net"), "%s", e.msg);
    CHECK(xfer_results_write_score(r, "nosuch", "leep", 1, 1.0, 0.1, NULL, &e) == XFER_EINPUT);
    CHECK_MSG(strstr(e.msg, "nosuch"), "%s", e.msg);
    CHECK(xfer_results_write_score(r, "src_a", "leep", 0, 1.0, 0.1, NULL, &e) != XFER_OK);

    /* curve: test_acc 0.5, 0.8, 0.78, 0.9, 0.86 -> best 0.9 at epoch 4; 95% of 0.9 = 0.855:
     * first reached at epoch 4; auc = mean = 0.768 */
    const double acc[] = {0.5, 0.8, 0.78, 0.9, 0.86};
    for (int k = 0; k < 5; k++) {
        xfer_results_epoch row = {k + 1, 1e-3, 1.0, 0.5, 1.1, acc[k], 2.0};
        CHECK(xfer_results_append_epoch(r, "src_a", &row, &e) == XFER_OK);
    }
    CHECK(xfer_results_set_status(r, "src_a", XFER_SRC_DONE, NULL, &e) == XFER_OK);

    /* a failing operation inside an explicit transaction: nothing of it is published */
    struct stat before, after;
    CHECK(stat(PATH, &before) == 0);
    CHECK(xfer_results_begin(r, &e) == XFER_OK);
    CHECK(xfer_results_write_score(r, "src_a", "emd", -1, 5.0, 0.2, NULL, &e) == XFER_OK);
    CHECK(xfer_results_write_score(r, "missing", "emd", -1, 5.0, 0.2, NULL, &e) == XFER_EINPUT);
    CHECK(xfer_results_commit(r, &e) != XFER_OK);
    CHECK(stat(PATH, &after) == 0);
    CHECK(before.st_ino == after.st_ino); /* not replaced */
    CHECK(access("api_test.h5.tmp", F_OK) != 0);
    CHECK(xfer_results_close(r, &e) == XFER_OK);

    xfer_results_data *d = NULL;
    CHECK(xfer_results_read(PATH, &d, &e) == XFER_OK);
    if (d) {
        CHECK(d->n_sources == 1);
        const xfer_results_source *s = xfer_results_find_source(d, "src_a");
        CHECK(s && s->status == XFER_SRC_DONE);
        if (s) {
            CHECK_CLOSE(s->best_test_acc, 0.9, 0, 0);
            CHECK(s->best_epoch == 4);
            CHECK(s->epochs_to_95pct == 4);
            CHECK_CLOSE(s->curve_auc, (0.5 + 0.8 + 0.78 + 0.9 + 0.86) / 5, 1e-15, 0);
            CHECK(s->n_epochs == 5);
            CHECK(s->n_scores == 0); /* the aborted transaction's score is not there */
        }
        CHECK(d->complete == 0 && d->seed == 7 && !strcmp(d->config, "cfg: 1\n"));
        CHECK(strlen(d->created) == 20 && d->created[10] == 'T');
    }
    xfer_results_data_free(d);

    /* resume: reopen, truncate the curve to 2 epochs, summaries recomputed */
    CHECK(xfer_results_open(PATH, &r, &e) == XFER_OK);
    CHECK(xfer_results_truncate_curve(r, "src_a", 2, &e) == XFER_OK);
    CHECK(xfer_results_set_status(r, "src_a", XFER_SRC_SCORED, NULL, &e) == XFER_OK);
    CHECK(xfer_results_close(r, &e) == XFER_OK);
    CHECK(xfer_results_read(PATH, &d, &e) == XFER_OK);
    if (d && d->n_sources == 1) {
        CHECK(d->sources[0].n_epochs == 2);
        CHECK(d->sources[0].best_epoch == 2);
        CHECK_CLOSE(d->sources[0].best_test_acc, 0.8, 0, 0);
    }
    xfer_results_data_free(d);

    /* unreadable inputs name the file */
    FILE *f = fopen("garbage.h5", "w");
    if (f) {
        fputs("this is not HDF5\n", f);
        fclose(f);
    }
    d = NULL;
    CHECK(xfer_results_read("garbage.h5", &d, &e) == XFER_EINPUT && d == NULL);
    CHECK_MSG(strstr(e.msg, "garbage.h5"), "%s", e.msg);
    CHECK(xfer_results_read("does_not_exist.h5", &d, &e) == XFER_EINPUT);
    CHECK(xfer_results_open("garbage.h5", &r, &e) == XFER_EINPUT && r == NULL);
    unlink("garbage.h5");
    unlink("garbage.h5.lock");
    unlink("does_not_exist.h5.lock");
    unlink(PATH);
    unlink("api_test.h5.lock");
}

int main(void) {
    test_create_lock_and_errors();
    return test_summary();
}
