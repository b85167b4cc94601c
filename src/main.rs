//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

/// mimalloc instead of glibc's allocator: its per-thread heaps spare the workers glibc's arena
/// lock, and small vectors (the histograms a run fills: tens of megabytes in many of them) are
/// cheap to grow. `BENCHMARKS.md` ("2026-11-30 morning"): 10,000 draws 0.35 → 0.30 s,
/// 100,000 draws 6 % faster. Its arena is committed as it is used rather than all at once
/// (see `before_main`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the same in v2 and v3: the
/// enum keeps deprecated entries so that the numbers do not move).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's `mi_option_arena_eager_commit` (likewise the same place in v2 and v3).
#[cfg(target_os = "linux")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Sets mimalloc's options that must be in place before its first allocation. Its arena is
/// committed as it is used (`arena_eager_commit` 0), not all at once: committed eagerly, the
/// arena is backed by transparent huge pages, and every 2 MB page the heap touches counts in
/// full towards the resident memory however little of it is in use, so the peak depended on
/// where the 2 MB boundaries fell (a million draws took 1.17–1.22× the memory of 10,000).
/// Block buffers still ask for huge pages themselves (`stats::huge_vec`). An explicit
/// `MIMALLOC_ARENA_EAGER_COMMIT` in the environment is left to rule. Measured together with
/// the purge delay in [`main`] (`BENCHMARKS.md`, "Memory").
#[cfg(target_os = "linux")]
extern "C" fn before_main() {
    // `getenv`, not `std::env`, which would allocate before the option is set.
    // SAFETY: `getenv` with a NUL-terminated name and `mi_option_set` (a plain store into
    // mimalloc's option table), both before any other thread exists.
    unsafe {
        if libc::getenv(c"MIMALLOC_ARENA_EAGER_COMMIT".as_ptr()).is_null() {
            libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        }
    }
}

/// Runs [`before_main`] as an ELF constructor: before Rust's runtime starts, and so before
/// the first allocation reserves mimalloc's arena (which reads the option then).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

fn main() -> std::process::ExitCode {
    // Memory freed is given back to the system after 10 ms instead of mimalloc's default
    // second: a run's charts, a plan's chunks of draws and a sweep's variants free large blocks
    // that were otherwise held on top of what came next (with huge pages, the charts run took
    // 240 MB, plan 313 MB). Not at once: with the arena committed as used (see `before_main`),
    // a block freed and soon allocated again would be faulted in anew, 4 KB at a time. Against
    // huge pages and no delay, on 2026-11-30: 10,000 draws 0.32 s / 110 MB → 0.32 s / 98–103
    // MB, a million 133 → 115 MB (1.12–1.17× instead of 1.21×), the charts run 1.06 → 1.01 s,
    // plan 1.5 → 1.1 s (210 → 233 MB), sensitivity 7.9 → 7.6 s (396 → 367 MB). An explicit
    // MIMALLOC_PURGE_DELAY in the environment is left to rule.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options (a plain store into its option table) before
        // capsim starts any other thread.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    }
    capsim::cli::main()
}
