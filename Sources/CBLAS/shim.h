#ifndef SWITCHYARD_CBLAS_SHIM_H
#define SWITCHYARD_CBLAS_SHIM_H
#if __has_include(<cblas.h>)
#include <cblas.h>
#elif __has_include(<x86_64-linux-gnu/cblas.h>)
#include <x86_64-linux-gnu/cblas.h>
#else
#error "cblas.h not found: install libblas-dev"
#endif
#endif
