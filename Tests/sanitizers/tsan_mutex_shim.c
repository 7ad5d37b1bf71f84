/*
 * tsan_mutex_shim.c: teaches ThreadSanitizer about Swift's Synchronization.Mutex on Linux.
 *
 * Why: Mutex.withLock is @_transparent. Its uncontended path (a compare-exchange on the
 * lock word) is inlined into our TSan-instrumented code, so TSan sees that acquire and
 * release. Its contended path is _MutexHandle._lockSlow / _unlockSlow /
 * _tryLockSlow in libswiftSynchronization.so, which is not instrumented. That path spins
 * with plain cmpxchg and then uses FUTEX_LOCK_PI / FUTEX_UNLOCK_PI, where the kernel hands
 * the lock to the waiter. TSan never sees a release/acquire pair, so every access under a
 * *contended* Mutex shows up as a "data race" or "Swift access race". The lock itself is
 * correct. A 4-thread counter under Mutex ends exactly right but still gets reported.
 *
 * What: this LD_PRELOAD library interposes those three exported Swift symbols. It calls
 * the real implementation (dlsym RTLD_NEXT) and adds __tsan_acquire(lock word) after a
 * slow lock and __tsan_release(lock word) before a slow unlock. That is the same address
 * the inlined fast-path atomics use, so fast- and slow-path lock handoffs are all
 * ordered. Races on data that is really accessed outside the lock are still reported.
 *
 * ABI: x86_64 Linux, Swift 6.x. `self` (the _MutexHandle, whose only field is the
 * Atomic<UInt32> lock word) is passed by address in r13 (swiftself), and _lockSlow takes
 * the thread id in edi. Checked against Swift 6.3.1's libswiftSynchronization.so.
 * __tsan_* are weak, so loading this library into a process without TSan (python,
 * nginx: LD_PRELOAD is inherited by everything the tests start) does nothing.
 *
 * Preferred: link it into the TSan build, which reaches every process, including daemons
 * started through mount(8), which drops LD_PRELOAD:
 *   clang -c -fPIC -O1 -o /tmp/tsan_mutex_shim.o Tests/sanitizers/tsan_mutex_shim.c
 *   swift build --build-path .build-tsan --sanitize=thread --build-tests -Xlinker /tmp/tsan_mutex_shim.o
 * Or preload it:
 *   clang -shared -fPIC -O1 -o /tmp/libtsan_mutex_shim.so Tests/sanitizers/tsan_mutex_shim.c -ldl
 *   LD_PRELOAD=/tmp/libtsan_mutex_shim.so TSAN_OPTIONS=... swift test ... / pytest ...
 * Check: VOXFS_TSAN_SHIM_VERBOSE=1 .build-tsan/debug/voxfs --help prints one line with tsan=yes
 * and three non-null addresses.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"
#define TRYLOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"

/* Read by the trampolines below. Hidden, so the trampolines reach them PC-relative. */
__attribute__((visibility("hidden"))) void *voxfs_real_lock_slow;
__attribute__((visibility("hidden"))) void *voxfs_real_unlock_slow;
__attribute__((visibility("hidden"))) void *voxfs_real_trylock_slow;

__attribute__((visibility("hidden"))) void voxfs_shim_acquire(void *addr) {
    if (__tsan_acquire) __tsan_acquire(addr);
}
__attribute__((visibility("hidden"))) void voxfs_shim_release(void *addr) {
    if (__tsan_release) __tsan_release(addr);
}

__attribute__((visibility("hidden"))) void voxfs_shim_missing(void) {
    fprintf(stderr, "tsan_mutex_shim: libswiftSynchronization.so symbol not found\n");
    abort();
}

__attribute__((constructor)) static void voxfs_shim_init(void) {
    voxfs_real_lock_slow = dlsym(RTLD_NEXT, LOCK_SLOW);
    voxfs_real_unlock_slow = dlsym(RTLD_NEXT, UNLOCK_SLOW);
    voxfs_real_trylock_slow = dlsym(RTLD_NEXT, TRYLOCK_SLOW);
    if (getenv("VOXFS_TSAN_SHIM_VERBOSE"))
        fprintf(stderr, "tsan_mutex_shim: tsan=%s lockSlow=%p unlockSlow=%p tryLockSlow=%p\n",
                __tsan_acquire ? "yes" : "no", voxfs_real_lock_slow, voxfs_real_unlock_slow,
                voxfs_real_trylock_slow);
}

/*
 * Trampolines. On entry rsp = 8 (mod 16); r13 = &lock word; edi = thread id (lockSlow).
 * r13 is callee-saved, and we also keep a copy on the stack.
 */
__asm__(
    ".text\n"

    /* _lockSlow(selfId): real lock, then acquire. */
    ".globl \"" LOCK_SLOW "\"\n"
    ".type \"" LOCK_SLOW "\", @function\n"
    "\"" LOCK_SLOW "\":\n"
    "    pushq %r13\n"                              /* rsp = 0 mod 16 */
    "    movq voxfs_real_lock_slow(%rip), %rax\n"
    "    testq %rax, %rax\n"
    "    jz 9f\n"
    "    callq *%rax\n"                             /* r13, edi passed through */
    "    movq (%rsp), %rdi\n"
    "    callq voxfs_shim_acquire\n"
    "    popq %r13\n"
    "    retq\n"
    "9:  callq voxfs_shim_missing\n"
    ".size \"" LOCK_SLOW "\", .-\"" LOCK_SLOW "\"\n"

    /* _unlockSlow(): release, then real unlock (tail call). */
    ".globl \"" UNLOCK_SLOW "\"\n"
    ".type \"" UNLOCK_SLOW "\", @function\n"
    "\"" UNLOCK_SLOW "\":\n"
    "    pushq %r13\n"                              /* rsp = 0 mod 16 */
    "    movq %r13, %rdi\n"
    "    callq voxfs_shim_release\n"
    "    popq %r13\n"
    "    movq voxfs_real_unlock_slow(%rip), %rax\n"
    "    testq %rax, %rax\n"
    "    jz 9f\n"
    "    jmpq *%rax\n"
    "9:  callq voxfs_shim_missing\n"
    ".size \"" UNLOCK_SLOW "\", .-\"" UNLOCK_SLOW "\"\n"

    /* _tryLockSlow() -> Bool (al): real try, then acquire if it got the lock. */
    ".globl \"" TRYLOCK_SLOW "\"\n"
    ".type \"" TRYLOCK_SLOW "\", @function\n"
    "\"" TRYLOCK_SLOW "\":\n"
    "    pushq %r13\n"                              /* rsp = 0 mod 16 */
    "    movq voxfs_real_trylock_slow(%rip), %rax\n"
    "    testq %rax, %rax\n"
    "    jz 9f\n"
    "    callq *%rax\n"
    "    testb %al, %al\n"
    "    jz 1f\n"
    "    pushq %rax\n"                              /* rsp = 8 mod 16 */
    "    subq $8, %rsp\n"                           /* rsp = 0 mod 16 */
    "    movq 16(%rsp), %rdi\n"
    "    callq voxfs_shim_acquire\n"
    "    addq $8, %rsp\n"
    "    popq %rax\n"
    "1:  popq %r13\n"
    "    retq\n"
    "9:  callq voxfs_shim_missing\n"
    ".size \"" TRYLOCK_SLOW "\", .-\"" TRYLOCK_SLOW "\"\n");
