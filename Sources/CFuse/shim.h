#ifndef VOXFS_CFUSE_SHIM_H
#define VOXFS_CFUSE_SHIM_H
// The Swift importer must see the API version before the header. 3.12 or later: below
// that, fuse_session_loop_mt reads our loop config as the older struct (clone_fd and
// max_idle_threads taken from the wrong fields: a new thread, with its own /dev/fuse fd,
// for every request).
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>

// Clone_fd off: one /dev/fuse fd for all threads. Idle threads stay up to `max_idle_threads`.
static inline int voxfs_fuse_session_loop_mt(struct fuse_session *se, unsigned int max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_max_threads(config, 16);
    fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
    int rc = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return rc;
}

// Passes the size of the ops table, which Swift would otherwise have to compute.
static inline struct fuse_session *voxfs_fuse_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *ops, void *userdata) {
    return fuse_session_new(args, ops, sizeof(*ops), userdata);
}

static inline void voxfs_fi_set_keep_cache(struct fuse_file_info *fi) { fi->keep_cache = 1; fi->direct_io = 0; }
static inline void voxfs_fi_set_direct_io(struct fuse_file_info *fi) { fi->direct_io = 1; fi->keep_cache = 0; }
static inline void voxfs_fi_set_cache_readdir(struct fuse_file_info *fi) { fi->cache_readdir = 1; fi->keep_cache = 1; }
static inline int voxfs_fi_flags(const struct fuse_file_info *fi) { return fi->flags; }
static inline uint64_t voxfs_fi_fh(const struct fuse_file_info *fi) { return fi->fh; }
static inline void voxfs_fi_set_fh(struct fuse_file_info *fi, uint64_t fh) { fi->fh = fh; }
#endif
