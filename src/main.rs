//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

/// mimalloc instead of glibc's allocator: its per-thread heaps spare the workers glibc's arena
/// lock, and small vectors (the histograms a run fills: tens of megabytes in many of them) are
/// cheap to grow. `BENCHMARKS.md` ("2026-11-30 morning"): 10,000 draws 0.35 → 0.30 s,
/// 100,000 draws 6 % faster. Its arena is committed as it is used rather than all at once
/// (see [`before_main`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the same in v2 and v3: the
/// enum keeps deprecated entries so that the numbers do not move).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc's `mi_option_arena_eager_commit` (likewise the same place in v2 and v3).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Sets mimalloc's options that must be in place before its first allocation. Its arena is
/// committed as it is used (`arena_eager_commit` 0), not all at once: committed eagerly, the
/// arena is backed by transparent huge pages, and every 2 MB page the heap touches counts in
/// full towards the resident memory, however little of it is in use. Peak RSS at 10,000 draws
/// 113 → 100 MB, at 100,000 123 → 107 MB, and at a million draws 1.15× that at 10,000 instead
/// of 1.17–1.22× (the extra depended on where the 2 MB boundaries fell); the price is about
/// 8,000 more page faults, 0.01 s at 10,000 draws and nothing measurable at 100,000
/// (`BENCHMARKS.md`). Block buffers still ask for huge pages themselves (`stats::huge_vec`).
/// An explicit `MIMALLOC_ARENA_EAGER_COMMIT` in the environment is left to rule.
#[cfg(target_os = "linux")]
extern "C" fn before_main() {
    // `getenv`, not `std::env`, which would allocate before the option is set.
    // SAFETY: `getenv` with a NUL-terminated name, before any thread exists; `mi_option_set`
    // sets one of mimalloc's options, which may be done at any time from any thread.
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
