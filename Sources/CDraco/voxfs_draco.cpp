// A C face for Debian's libdraco: Swift calls C, and Draco is C++.
#include "voxfs_draco.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <draco/compression/decode.h>

// libdraco sizes its tables from counts inside the stream, so a hostile fragment could ask
// for gigabytes. While a fragment decodes, this thread's allocations draw on a budget
// proportional to the fragment's size; past it, operator new throws and the decode fails.
static thread_local bool limited = false;
static thread_local size_t budget = 0;

static void *allocate(size_t size) {
    if (limited) {
        if (size > budget) throw std::bad_alloc();
        budget -= size;
    }
    void *pointer = std::malloc(size == 0 ? 1 : size);
    if (pointer == nullptr) throw std::bad_alloc();
    return pointer;
}

void *operator new(size_t size) { return allocate(size); }
void *operator new[](size_t size) { return allocate(size); }
void operator delete(void *pointer) noexcept { std::free(pointer); }
void operator delete[](void *pointer) noexcept { std::free(pointer); }
void operator delete(void *pointer, size_t) noexcept { std::free(pointer); }
void operator delete[](void *pointer, size_t) noexcept { std::free(pointer); }

struct BudgetScope {
    explicit BudgetScope(size_t bytes) { limited = true; budget = bytes; }
    ~BudgetScope() { limited = false; }
};

static int fail(char *error, size_t size, const char *message) {
    if (size > 0) std::snprintf(error, size, "%s", message);
    return 1;
}

static int decode(const uint8_t *data, size_t size, voxfs_draco_mesh *out, char *error, size_t error_size);

extern "C" int voxfs_draco_decode(const uint8_t *data, size_t size, voxfs_draco_mesh *out, char *error, size_t error_size) {
    std::memset(out, 0, sizeof(*out));
    // Real fragments decode in well under 256 bytes of tables per byte of input.
    const size_t cap = size_t(1) << 30;
    size_t bytes = size > (cap - (16 << 20)) / 256 ? cap : size * 256 + (16 << 20);
    try {
        BudgetScope scope(bytes);
        return decode(data, size, out, error, error_size);
    } catch (const std::bad_alloc &) {
        return fail(error, error_size, "the fragment asks for more memory than its size allows");
    } catch (...) {
        return fail(error, error_size, "libdraco failed");
    }
}

static int decode(const uint8_t *data, size_t size, voxfs_draco_mesh *out, char *error, size_t error_size) {
    draco::DecoderBuffer buffer;
    buffer.Init(reinterpret_cast<const char *>(data), size);
    auto type = draco::Decoder::GetEncodedGeometryType(&buffer);
    if (!type.ok()) return fail(error, error_size, type.status().error_msg());
    if (type.value() != draco::TRIANGULAR_MESH) return fail(error, error_size, "not a Draco triangle mesh");
    draco::Decoder decoder;
    auto decoded = decoder.DecodeMeshFromBuffer(&buffer);
    if (!decoded.ok()) return fail(error, error_size, decoded.status().error_msg());
    std::unique_ptr<draco::Mesh> mesh = std::move(decoded).value();
    const draco::PointAttribute *position = mesh->GetNamedAttribute(draco::GeometryAttribute::POSITION);
    if (position == nullptr || position->num_components() != 3) return fail(error, error_size, "no 3-component POSITION attribute");
    size_t points = mesh->num_points(), faces = mesh->num_faces();
    float *positions = static_cast<float *>(std::malloc(points * 3 * sizeof(float) + 1));
    uint32_t *indices = static_cast<uint32_t *>(std::malloc(faces * 3 * sizeof(uint32_t) + 1));
    if (positions == nullptr || indices == nullptr) {
        std::free(positions);
        std::free(indices);
        return fail(error, error_size, "out of memory");
    }
    for (draco::PointIndex i(0); i < static_cast<uint32_t>(points); ++i) {
        if (!position->ConvertValue<float, 3>(position->mapped_index(i), positions + 3 * i.value())) {
            std::free(positions);
            std::free(indices);
            return fail(error, error_size, "unreadable vertex position");
        }
    }
    for (draco::FaceIndex f(0); f < static_cast<uint32_t>(faces); ++f) {
        const draco::Mesh::Face &face = mesh->face(f);
        for (int corner = 0; corner < 3; ++corner) indices[3 * f.value() + corner] = face[corner].value();
    }
    out->positions = positions;
    out->vertex_count = points;
    out->faces = indices;
    out->face_count = faces;
    return 0;
}

extern "C" void voxfs_draco_free(voxfs_draco_mesh *mesh) {
    std::free(mesh->positions);
    std::free(mesh->faces);
    std::memset(mesh, 0, sizeof(*mesh));
}
