#ifndef VOXFS_CTURBOJPEG_SHIM_H
#define VOXFS_CTURBOJPEG_SHIM_H
#include <turbojpeg.h>
#endif
