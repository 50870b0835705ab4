/* Kernel emulator: the builtin variables come with cuda_runtime.h. */
#include "cuda_runtime.h"
