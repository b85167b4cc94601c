//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

/// mimalloc instead of glibc's allocator. Its heap is backed by transparent huge pages (where
/// the system allows them, as Linux's default `madvise` setting does; mimalloc v3's default),
/// so the histograms a run fills — tens of megabytes in many small vectors — cost few page
/// faults and TLB misses, and its per-thread heaps spare the workers glibc's arena lock.
/// `BENCHMARKS.md` ("2026-11-30 morning"): 10,000 draws 0.35 → 0.30 s, 100,000 draws 6 %
/// faster, for about 40 MB more peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    capsim::cli::main()
}
