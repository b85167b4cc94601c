//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

/// mimalloc instead of glibc's allocator. Its heap is backed by transparent huge pages (where
/// the system allows them, as Linux's default `madvise` setting does; mimalloc v3's default),
/// so the histograms a run fills — tens of megabytes in many small vectors — cost few page
/// faults and TLB misses, and its per-thread heaps spare the workers glibc's arena lock.
/// `BENCHMARKS.md` ("2026-11-30 morning"): 10,000 draws 0.35 → 0.30 s, 100,000 draws 6 %
/// faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the same in v2 and v3: the
/// enum keeps deprecated entries so that the numbers do not move).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Memory freed is given back to the system at once instead of after mimalloc's default
    // second: a run's charts, a plan's chunks of draws and a sweep's variants free large blocks
    // that were otherwise held on top of what came next (peak RSS: charts run 240 → 155 MB,
    // plan 313 → 210 MB, 10,000 draws 142 → 113 MB), and no slower. An explicit
    // MIMALLOC_PURGE_DELAY in the environment is left to rule.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, which may be done at any time from any thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    capsim::cli::main()
}
