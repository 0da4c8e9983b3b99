//! The `skillmeat-server` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    skillmeat_server::cli::main()
}
