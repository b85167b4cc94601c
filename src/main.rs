//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

fn main() -> std::process::ExitCode {
    tune_malloc();
    capsim::cli::main()
}

/// Asks glibc's allocator for one arena instead of one per thread. The workers allocate only
/// when a histogram gains a page — rarely, so they never wait on each other for it — but with
/// an arena each, pages freed by one thread's vector growth are not reused by the other's, and
/// a million-draw run held 13 MB more (101 MB instead of 88 MB peak) for nothing. (A fixed
/// mmap threshold, to keep the block buffers out of the heap, was tried: charts, which
/// allocate many large bitmaps, took 0.4 s longer.)
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
