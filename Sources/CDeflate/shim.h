#ifndef VOXFS_CDEFLATE_SHIM_H
#define VOXFS_CDEFLATE_SHIM_H
// libdeflate's CRC-32 and Adler-32 use SIMD (PCLMUL, AVX2): several times zlib's speed,
// and every PNG byte voxfs serves passes through both.
#include <libdeflate.h>
#endif
