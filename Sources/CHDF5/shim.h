#ifndef VOXFS_CHDF5_SHIM_H
#define VOXFS_CHDF5_SHIM_H
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// HDF5's property-list classes, native types and H5S_ALL/H5P_DEFAULT are macros over
// globals that Swift cannot import; these helpers wrap what voxfs needs.

/// Opens an HDF5 file held in memory (copied by the core driver), read-only; < 0 on error.
static inline hid_t voxfs_h5_open_image(const void *bytes, size_t length) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // errors are reported by return codes, not printed
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (access < 0) return -1;
    hid_t file = -1;
    if (H5Pset_fapl_core(access, 1 << 16, 0) >= 0 && H5Pset_file_image(access, (void *)bytes, length) >= 0) {
        file = H5Fopen("voxfs-memory-image", H5F_ACC_RDONLY, access);
    }
    H5Pclose(access);
    return file;
}

/// Whether `path` names a link in `file` (each component checked, so no error is raised).
static inline int voxfs_h5_exists(hid_t file, const char *path) {
    char partial[512];
    size_t length = strlen(path);
    if (length >= sizeof(partial)) return 0;
    for (size_t i = 1; i <= length; i++) {
        if (i == length || path[i] == '/') {
            memcpy(partial, path, i);
            partial[i] = 0;
            if (H5Lexists(file, partial, H5P_DEFAULT) <= 0) return 0;
        }
    }
    return 1;
}

/// Shape and element type of a dataset; returns its handle (< 0 on error).
static inline hid_t voxfs_h5_open_dataset(hid_t file, const char *path, int *rank, unsigned long long dims[8],
                                          int *type_class, size_t *type_size, int *is_signed, int *is_big_endian) {
    hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
    if (dataset < 0) return -1;
    hid_t space = H5Dget_space(dataset);
    hid_t type = H5Dget_type(dataset);
    *rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (*rank > 0 && *rank <= 8) H5Sget_simple_extent_dims(space, (hsize_t *)dims, NULL);
    *type_class = (int)H5Tget_class(type);
    *type_size = H5Tget_size(type);
    *is_signed = H5Tget_class(type) == H5T_INTEGER ? (H5Tget_sign(type) == H5T_SGN_2) : 0;
    *is_big_endian = H5Tget_order(type) == H5T_ORDER_BE;
    H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    return dataset;
}

/// Reads a whole dataset converted to the native type of its own kind; 0 on success.
static inline int voxfs_h5_read_native(hid_t dataset, void *out) {
    hid_t stored = H5Dget_type(dataset);
    hid_t native = H5Tget_native_type(stored, H5T_DIR_ASCEND);
    herr_t status = native < 0 ? -1 : H5Dread(dataset, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    if (native >= 0) H5Tclose(native);
    H5Tclose(stored);
    return status < 0 ? -1 : 0;
}

// MARK: a read-only file driver whose bytes come from the caller

/// Copies `size` bytes at `offset` of the remote file into `buffer`; 0 when they were at
/// hand, nonzero when not (the caller fetches them and retries the whole HDF5 call).
typedef int (*voxfs_h5_read_fn)(void *context, uint64_t offset, size_t size, void *buffer);

typedef struct {
    voxfs_h5_read_fn read;
    void *context;
    uint64_t size;
} voxfs_h5_remote_info;

typedef struct {
    H5FD_t base;  // must come first: libhdf5 casts between the two
    voxfs_h5_remote_info remote;
    haddr_t eoa;
} voxfs_h5_remote_file;

static H5FD_t *voxfs_h5_remote_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)name; (void)maxaddr;
    const voxfs_h5_remote_info *info = (const voxfs_h5_remote_info *)H5Pget_driver_info(fapl);
    if (info == NULL || (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_CREAT))) return NULL;
    voxfs_h5_remote_file *file = (voxfs_h5_remote_file *)calloc(1, sizeof(voxfs_h5_remote_file));
    if (file == NULL) return NULL;
    file->remote = *info;
    return &file->base;
}

static herr_t voxfs_h5_remote_close(H5FD_t *file) {
    free(file);
    return 0;
}

static int voxfs_h5_remote_cmp(const H5FD_t *a, const H5FD_t *b) {
    const void *x = ((const voxfs_h5_remote_file *)a)->remote.context, *y = ((const voxfs_h5_remote_file *)b)->remote.context;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static herr_t voxfs_h5_remote_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    *flags = 0;
    return 0;
}

static haddr_t voxfs_h5_remote_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const voxfs_h5_remote_file *)file)->eoa;
}

static herr_t voxfs_h5_remote_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((voxfs_h5_remote_file *)file)->eoa = addr;
    return 0;
}

static haddr_t voxfs_h5_remote_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return (haddr_t)((const voxfs_h5_remote_file *)file)->remote.size;
}

static herr_t voxfs_h5_remote_read(H5FD_t *base, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buffer) {
    (void)type; (void)dxpl;
    voxfs_h5_remote_file *file = (voxfs_h5_remote_file *)base;
    uint64_t end = file->remote.size;
    size_t present = addr >= end ? 0 : (size_t)((end - addr) < size ? (end - addr) : size);
    // Past the end reads as zeros, as with the POSIX driver.
    if (present < size) memset((char *)buffer + present, 0, size - present);
    if (present == 0) return 0;
    return file->remote.read(file->remote.context, addr, present, buffer) == 0 ? 0 : -1;
}

static herr_t voxfs_h5_remote_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buffer) {
    (void)file; (void)type; (void)dxpl; (void)addr; (void)size; (void)buffer;
    return -1;
}

/// The driver's id, registered on first use (callers hold voxfs's HDF5 lock).
static inline hid_t voxfs_h5_remote_driver(void) {
    static hid_t driver = -1;
    if (driver >= 0) return driver;
    static const H5FD_class_t remote_class = {
        .name = "voxfs-remote",
        .maxaddr = (haddr_t)1 << 62,
        .fc_degree = H5F_CLOSE_WEAK,
        .fapl_size = sizeof(voxfs_h5_remote_info),
        .open = voxfs_h5_remote_open,
        .close = voxfs_h5_remote_close,
        .cmp = voxfs_h5_remote_cmp,
        .query = voxfs_h5_remote_query,
        .get_eoa = voxfs_h5_remote_get_eoa,
        .set_eoa = voxfs_h5_remote_set_eoa,
        .get_eof = voxfs_h5_remote_get_eof,
        .read = voxfs_h5_remote_read,
        .write = voxfs_h5_remote_write,
        .fl_map = H5FD_FLMAP_DICHOTOMY,
    };
    driver = H5FDregister(&remote_class);
    return driver;
}

/// Opens a remote file read-only through `voxfs_h5_remote_driver`; < 0 on error.
static inline hid_t voxfs_h5_open_remote(voxfs_h5_read_fn read, void *context, uint64_t size) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t driver = voxfs_h5_remote_driver();
    if (driver < 0) return -1;
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (access < 0) return -1;
    voxfs_h5_remote_info info = {read, context, size};
    hid_t file = -1;
    if (H5Pset_driver(access, driver, &info) >= 0) file = H5Fopen("voxfs-remote", H5F_ACC_RDONLY, access);
    H5Pclose(access);
    return file;
}

/// How a dataset is stored: 0 contiguous, 1 chunked, 2 compact, -1 other or error. For
/// chunked datasets also the chunk shape and the filter pipeline (ids and first parameter).
static inline int voxfs_h5_storage(hid_t dataset, int *chunk_rank, unsigned long long chunk[8],
                                   int *filter_count, int filters[16], unsigned filter_parameter[16]) {
    hid_t create = H5Dget_create_plist(dataset);
    if (create < 0) return -1;
    int result = -1;
    *chunk_rank = 0;
    *filter_count = 0;
    switch (H5Pget_layout(create)) {
    case H5D_CONTIGUOUS: result = 0; break;
    case H5D_COMPACT: result = 2; break;
    case H5D_CHUNKED: {
        *chunk_rank = H5Pget_chunk(create, 8, (hsize_t *)chunk);
        int count = H5Pget_nfilters(create);
        if (*chunk_rank <= 0 || count < 0 || count > 16) break;
        for (int i = 0; i < count; i++) {
            unsigned flags = 0, config = 0, values[8] = {0};
            size_t value_count = 8;
            char name[64];
            filters[i] = (int)H5Pget_filter2(create, (unsigned)i, &flags, &value_count, values, sizeof(name), name, &config);
            filter_parameter[i] = value_count > 0 ? values[0] : 0;
        }
        *filter_count = count;
        result = 1;
        break;
    }
    default: break;
    }
    H5Pclose(create);
    return result;
}

/// The dataset's fill value in the native type of its kind (zeros when none was set); 0 on success.
static inline int voxfs_h5_fill_value(hid_t dataset, void *out, size_t size) {
    memset(out, 0, size);
    hid_t create = H5Dget_create_plist(dataset);
    if (create < 0) return -1;
    H5D_fill_value_t defined = H5D_FILL_VALUE_UNDEFINED;
    int status = 0;
    if (H5Pfill_value_defined(create, &defined) < 0) status = -1;
    if (status == 0 && defined == H5D_FILL_VALUE_USER_DEFINED) {
        hid_t stored = H5Dget_type(dataset);
        hid_t native = H5Tget_native_type(stored, H5T_DIR_ASCEND);
        if (native < 0 || H5Tget_size(native) != size || H5Pget_fill_value(create, native, out) < 0) status = -1;
        if (native >= 0) H5Tclose(native);
        H5Tclose(stored);
    }
    H5Pclose(create);
    return status;
}

/// Where chunk `offset` (its first element's coordinates) is stored: 1 found, 0 never
/// written, -1 error.
static inline int voxfs_h5_chunk_location(hid_t dataset, const unsigned long long *offset, unsigned *filter_mask,
                                          unsigned long long *address, unsigned long long *size) {
    haddr_t addr = HADDR_UNDEF;
    hsize_t bytes = 0;
    *filter_mask = 0;
    if (H5Dget_chunk_info_by_coord(dataset, (const hsize_t *)offset, filter_mask, &addr, &bytes) < 0) return -1;
    if (addr == HADDR_UNDEF || bytes == 0) return 0;
    *address = addr;
    *size = bytes;
    return 1;
}

/// Where a contiguous dataset's data starts; 0 when it was never written, -1 error.
static inline int voxfs_h5_contiguous_location(hid_t dataset, unsigned long long *address) {
    haddr_t addr = H5Dget_offset(dataset);
    if (addr == HADDR_UNDEF) return 0;
    *address = addr;
    return 1;
}

static inline int voxfs_h5_filter_deflate(void) { return H5Z_FILTER_DEFLATE; }
static inline int voxfs_h5_filter_shuffle(void) { return H5Z_FILTER_SHUFFLE; }
static inline int voxfs_h5_filter_fletcher32(void) { return H5Z_FILTER_FLETCHER32; }

// MARK: writing the header of a cutout file

/// Writes `path`: one contiguous dataset `/data` of little-endian `kind` (0 unsigned,
/// 1 signed, 2 float) samples of `type_size` bytes, shaped `dims`, its space allocated but
/// never written (a sparse hole), with attributes `resolution` (3 doubles), `offset`
/// (3 int64) and `source` (a UTF-8 string). Returns the data's offset in the file, or -1.
static inline long long voxfs_h5_write_cutout(const char *path, int rank, const unsigned long long *dims, int kind, size_t type_size,
                                              const double resolution[3], const long long offset[3], const char *source) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t type = -1;
    switch (kind * 16 + (int)type_size) {
    case 0 * 16 + 1: type = H5T_STD_U8LE; break;
    case 0 * 16 + 2: type = H5T_STD_U16LE; break;
    case 0 * 16 + 4: type = H5T_STD_U32LE; break;
    case 0 * 16 + 8: type = H5T_STD_U64LE; break;
    case 1 * 16 + 1: type = H5T_STD_I8LE; break;
    case 1 * 16 + 2: type = H5T_STD_I16LE; break;
    case 1 * 16 + 4: type = H5T_STD_I32LE; break;
    case 1 * 16 + 8: type = H5T_STD_I64LE; break;
    case 2 * 16 + 4: type = H5T_IEEE_F32LE; break;
    case 2 * 16 + 8: type = H5T_IEEE_F64LE; break;
    default: return -1;
    }
    long long result = -1;
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return -1;
    hid_t space = H5Screate_simple(rank, (const hsize_t *)dims, NULL);
    hid_t create = H5Pcreate(H5P_DATASET_CREATE);
    hid_t vector = H5Screate_simple(1, (const hsize_t[]){3}, NULL);
    hid_t text = H5Tcopy(H5T_C_S1);
    hid_t scalar = H5Screate(H5S_SCALAR);
    if (space >= 0 && create >= 0 && vector >= 0 && text >= 0 && scalar >= 0
        && H5Pset_layout(create, H5D_CONTIGUOUS) >= 0 && H5Pset_alloc_time(create, H5D_ALLOC_TIME_EARLY) >= 0
        && H5Pset_fill_time(create, H5D_FILL_TIME_NEVER) >= 0 && H5Tset_size(text, H5T_VARIABLE) >= 0
        && H5Tset_cset(text, H5T_CSET_UTF8) >= 0) {
        hid_t dataset = H5Dcreate2(file, "data", type, space, H5P_DEFAULT, create, H5P_DEFAULT);
        if (dataset >= 0) {
            hid_t a = H5Acreate2(dataset, "resolution", H5T_IEEE_F64LE, vector, H5P_DEFAULT, H5P_DEFAULT);
            hid_t b = H5Acreate2(dataset, "offset", H5T_STD_I64LE, vector, H5P_DEFAULT, H5P_DEFAULT);
            hid_t c = H5Acreate2(dataset, "source", text, scalar, H5P_DEFAULT, H5P_DEFAULT);
            int written = a >= 0 && b >= 0 && c >= 0
                && H5Awrite(a, H5T_NATIVE_DOUBLE, resolution) >= 0
                && H5Awrite(b, H5T_NATIVE_LLONG, offset) >= 0
                && H5Awrite(c, text, &source) >= 0;
            if (a >= 0) H5Aclose(a);
            if (b >= 0) H5Aclose(b);
            if (c >= 0) H5Aclose(c);
            haddr_t at = H5Dget_offset(dataset);
            if (written && at != HADDR_UNDEF) result = (long long)at;
            H5Dclose(dataset);
        }
    }
    if (scalar >= 0) H5Sclose(scalar);
    if (text >= 0) H5Tclose(text);
    if (vector >= 0) H5Sclose(vector);
    if (create >= 0) H5Pclose(create);
    if (space >= 0) H5Sclose(space);
    if (H5Fclose(file) < 0) return -1;
    return result;
}

static inline int voxfs_h5_type_integer(void) { return (int)H5T_INTEGER; }
static inline int voxfs_h5_type_float(void) { return (int)H5T_FLOAT; }
#endif
