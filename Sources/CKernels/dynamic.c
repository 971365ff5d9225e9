// Run-time symbol look-ups for optional library functions (OpenBLAS extensions).
#define _GNU_SOURCE
#include "CKernels.h"
#include <dlfcn.h>
#include <stdio.h>

void *sy_lookup_symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

const char *sy_symbol_library(const char *name) {
    void *p = dlsym(RTLD_DEFAULT, name);
    if (!p) return NULL;
    Dl_info info;
    if (dladdr(p, &info) == 0) return NULL;
    return info.dli_fname;
}

void sy_write_stderr(const char *message) {
    fputs(message, stderr);
    fflush(stderr);
}
