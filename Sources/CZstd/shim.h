#ifndef VOXFS_CZSTD_SHIM_H
#define VOXFS_CZSTD_SHIM_H
#include <zstd.h>
#endif
