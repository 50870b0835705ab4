/* Test accuracy as the mean of per-class recalls (the benchmark's metric for its class-imbalanced
 * datasets; sklearn.metrics.balanced_accuracy_score). */
#include <math.h>
#include <stdlib.h>

#include "xfer/train.h"

double xfer_mean_per_class(const int32_t *pred, const int32_t *label, int n, int k) {
    if (n <= 0 || k <= 0) return NAN;
    long *cnt = calloc(2 * (size_t)k, sizeof *cnt);
    if (!cnt) return NAN;
    long *hit = cnt + k;
    for (int i = 0; i < n; i++) {
        cnt[label[i]]++;
        hit[label[i]] += pred[i] == label[i];
    }
    double sum = 0;
    int present = 0;
    for (int c = 0; c < k; c++)
        if (cnt[c]) {
            sum += (double)hit[c] / (double)cnt[c];
            present++;
        }
    free(cnt);
    return sum / present;
}
