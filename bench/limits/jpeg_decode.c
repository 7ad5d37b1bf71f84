/* Single-core JPEG decode ceiling for bench/run's "limits" workload.
 *
 *   jpeg_decode PASSES FILE...
 *
 * Loads every FILE (a precomputed jpeg chunk: one grayscale or RGB JPEG image; gzip'd
 * files are inflated on load, plain ones read as they are), then decodes all of them
 * PASSES times with libturbojpeg, as voxfs does (tjDecompress2, accurate DCT, no
 * TJFLAG_FASTDCT), into one reused buffer. Loading is not timed. Prints one line:
 *
 *   files=N voxels=V passes=P seconds=S mvoxel_per_s=R
 *
 * where V counts the voxels of one pass (width x height x components of every file).
 * Build: cc -O2 -o jpeg_decode jpeg_decode.c -lturbojpeg -lz
 * Run on one core: taskset -c 0 ./jpeg_decode 5 SCALE_DIR/<every chunk file>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>
#include <zlib.h>

typedef struct { unsigned char *data; size_t size; } blob;

static int load(const char *path, blob *out) {
    gzFile f = gzopen(path, "rb");  /* reads plain files unchanged */
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap && !(buf = realloc(buf, cap *= 2))) { gzclose(f); return -1; }
        int k = gzread(f, buf + n, (unsigned)(cap - n));
        if (k < 0) { free(buf); gzclose(f); return -1; }
        if (k == 0) break;
        n += (size_t)k;
    }
    gzclose(f);
    out->data = buf;
    out->size = n;
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PASSES FILE...\n", argv[0]);
        return 2;
    }
    int passes = atoi(argv[1]), nfiles = argc - 2;
    blob *files = calloc((size_t)nfiles, sizeof *files);
    int *pixfmt = calloc((size_t)nfiles, sizeof *pixfmt);
    tjhandle tj = tjInitDecompress();
    size_t maxbuf = 0;
    long long voxels = 0;
    for (int i = 0; i < nfiles; i++) {
        int w, h, subsamp, colorspace;
        if (load(argv[i + 2], &files[i]) != 0) {
            fprintf(stderr, "%s: cannot read\n", argv[i + 2]);
            return 1;
        }
        if (files[i].size < 2 || files[i].data[0] != 0xFF || files[i].data[1] != 0xD8 ||
            tjDecompressHeader3(tj, files[i].data, files[i].size, &w, &h, &subsamp, &colorspace) != 0) {
            fprintf(stderr, "%s: not a JPEG image (%s)\n", argv[i + 2], tjGetErrorStr2(tj));
            return 1;
        }
        pixfmt[i] = colorspace == TJCS_GRAY ? TJPF_GRAY : TJPF_RGB;
        size_t bytes = (size_t)w * h * tjPixelSize[pixfmt[i]];
        voxels += (long long)bytes;
        if (bytes > maxbuf) maxbuf = bytes;
    }
    unsigned char *dst = malloc(maxbuf);
    double t0 = now();
    for (int p = 0; p < passes; p++) {
        for (int i = 0; i < nfiles; i++) {
            int w, h, subsamp, colorspace;
            tjDecompressHeader3(tj, files[i].data, files[i].size, &w, &h, &subsamp, &colorspace);
            if (tjDecompress2(tj, files[i].data, files[i].size, dst, w, 0, h, pixfmt[i], TJFLAG_ACCURATEDCT) != 0) {
                fprintf(stderr, "%s: decode failed: %s\n", argv[i + 2], tjGetErrorStr2(tj));
                return 1;
            }
        }
    }
    double dt = now() - t0;
    printf("files=%d voxels=%lld passes=%d seconds=%.6f mvoxel_per_s=%.2f\n", nfiles, voxels, passes, dt,
           (double)voxels * passes / dt / 1e6);
    return 0;
}
