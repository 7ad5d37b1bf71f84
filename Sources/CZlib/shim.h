#ifndef VOXFS_CZLIB_SHIM_H
#define VOXFS_CZLIB_SHIM_H
#include <zlib.h>
// inflateInit2 is a macro over inflateInit2_ with version and struct size.
static inline int voxfs_inflate_init(z_stream *s, int window_bits) {
    return inflateInit2(s, window_bits);
}
static inline int voxfs_deflate_init(z_stream *s, int level) {
    return deflateInit(s, level);
}
#endif
