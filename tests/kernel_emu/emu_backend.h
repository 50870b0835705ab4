/* The emulated CUDA backend (tests/kernel_emu/emu_backend.c). */
#ifndef XEMU_BACKEND_H
#define XEMU_BACKEND_H

#include "xfer/backend.h"

/* CPU: the CPU backend; CUDA: the emulated CUDA backend. */
xfer_backend *xemu_backend_get(xfer_device_kind kind, xfer_err *err);

#endif
