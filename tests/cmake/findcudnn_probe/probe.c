/* Links against the cuDNN FindCUDNN found and prints the version its header and library say. */
#include <stdio.h>

#include <cudnn.h>

int main(void) {
    printf("header %d library %zu\n", CUDNN_VERSION, cudnnGetVersion());
    return 0;
}
