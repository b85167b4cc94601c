//! The `capsim` binary: parse arguments, call the library, map errors to exit codes.

fn main() -> std::process::ExitCode {
    capsim::cli::main()
}
