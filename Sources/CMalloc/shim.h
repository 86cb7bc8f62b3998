#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H

// glibc's allocator tuning (mallopt, mallinfo2), which Swift's Glibc module leaves out.
#include <malloc.h>

#endif
