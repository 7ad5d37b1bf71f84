import CMalloc
import VoxNamespace

/// glibc settings for the serving process, which runs many threads and allocates and frees
/// buffers of megabytes (decoded chunks, planes, file blocks) many times a second. Applied
/// before its threads start.
enum AllocatorTuning {
    static func apply(_ budget: MemoryBudget) {
        // With an arena per thread, memory freed on one thread is not reused by another and
        // RSS drifts far above what is live.
        _ = mallopt(M_ARENA_MAX, 2)
        // By default each large buffer is mapped afresh and unmapped on free, so every reuse
        // page-faults its memory in again (a quarter of the CPU of a disk-cache pass of a
        // segmentation). Served from the heap, with up to the budget's allocator slack of
        // freed memory kept, the next buffer reuses pages already mapped. The price is
        // fragmentation, 17 MiB more peak RSS at a 128 MiB budget, so small budgets keep
        // glibc's defaults.
        guard budget.bytes >= 384 << 20 else { return }
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, Int32(clamping: budget.allocatorSlack))
    }
}
