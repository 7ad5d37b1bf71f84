#ifndef VOXFS_CHDF5_SHIM_H
#define VOXFS_CHDF5_SHIM_H
#include <hdf5.h>
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

static inline int voxfs_h5_type_integer(void) { return (int)H5T_INTEGER; }
static inline int voxfs_h5_type_float(void) { return (int)H5T_FLOAT; }
#endif
