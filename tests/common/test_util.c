#include "test_util.h"

int g_test_failures = 0;
int g_test_checks = 0;

int test_summary(void) {
    printf("%d checks, %d failed\n", g_test_checks, g_test_failures);
    if (g_test_checks == 0) {
        fprintf(stderr, "no checks ran: a test must assert something\n");
        return 1;
    }
    return g_test_failures ? 1 : 0;
}
