#ifndef VOXFS_DRACO_H
#define VOXFS_DRACO_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A decoded Draco triangle mesh: `vertex_count` xyz float triples and `face_count`
/// triangles of vertex indices. Free with `voxfs_draco_free`.
typedef struct {
    float *positions;
    size_t vertex_count;
    uint32_t *faces;
    size_t face_count;
} voxfs_draco_mesh;

/// Decodes a Draco-compressed triangle mesh. Returns 0 on success; otherwise nonzero with
/// a message in `error` (always NUL-terminated) and nothing to free.
int voxfs_draco_decode(const uint8_t *data, size_t size, voxfs_draco_mesh *out, char *error, size_t error_size);

void voxfs_draco_free(voxfs_draco_mesh *mesh);

#ifdef __cplusplus
}
#endif
#endif
