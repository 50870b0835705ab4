/* Minimal assertions for C tests: every failed check prints file:line and the test exits 1 at the
 * end (tests never pass by saying nothing). XFER_SKIP() exits 77, which ctest reports as skipped. */
#ifndef XFER_TEST_UTIL_H
#define XFER_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int g_test_failures;
extern int g_test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        g_test_checks++;                                                                           \
        if (!(cond)) {                                                                             \
            g_test_failures++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        g_test_checks++;                                                                           \
        if (!(cond)) {                                                                             \
            g_test_failures++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, rtol, atol)                                                              \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        CHECK_MSG(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_), "%s = %.10g, %s = %.10g", #a, a_, #b, \
                  b_);                                                                             \
    } while (0)

#define XFER_SKIP(...)                                                                             \
    do {                                                                                           \
        printf("skipped: " __VA_ARGS__);                                                           \
        printf("\n");                                                                              \
        exit(77);                                                                                  \
    } while (0)

/* Prints "N checks, M failed" and returns the exit status for main(). Zero checks is a failure. */
int test_summary(void);

#endif
