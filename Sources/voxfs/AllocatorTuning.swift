import CMalloc
import VoxNamespace

/// glibc settings for a process that allocates and frees buffers of megabytes (decoded chunks,
/// planes, file blocks) many times a second.
enum AllocatorTuning {
    /// By default glibc maps each buffer of this size afresh and unmaps it on free, so every
    /// reuse page-faults its memory in again (a quarter of the CPU of a disk-cache pass of a
    /// segmentation). Served from the heap instead, with up to the budget's allocator slack
    /// of freed memory kept, the next buffer reuses pages already mapped. The price is
    /// fragmentation: 17 MiB more peak RSS at a 128 MiB budget, so small budgets keep glibc's
    /// defaults.
    static func keepLargeBuffers(_ budget: MemoryBudget) {
        guard budget.bytes >= 384 << 20 else { return }
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, Int32(clamping: budget.allocatorSlack))
    }
}
