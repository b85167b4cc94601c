//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

fn main() -> std::process::ExitCode {
    tune_malloc();
    capsim::cli::main()
}

/// Two glibc allocator settings for the run's memory profile:
/// - one arena instead of one per thread. The workers allocate only when a histogram gains a
///   page — rarely, so they never wait on each other for it — but with an arena each, pages
///   freed by one thread's vector growth are not reused by the other's, and a million-draw run
///   held 13 MB more (101 MB instead of 88 MB peak) for nothing;
/// - a fixed 1 MB threshold for allocating straight from the system (glibc raises it up to
///   32 MB as large blocks are freed): the block buffers (26 MB, advised to use huge pages)
///   are then always mappings of their own, returned whole when freed, rather than heap
///   ranges later reused for small allocations.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}
