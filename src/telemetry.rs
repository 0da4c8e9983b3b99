//! Logging: `tracing` with an env filter (`RUST_LOG`, default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once, writing to standard output; later calls (tests) are
/// no-ops.
pub fn init() {
    init_to(false);
}

/// [`init`], writing to standard error when `to_stderr` (a command whose own output goes to
/// standard output, such as `import-skillmeat --json`).
pub fn init_to(to_stderr: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let _ = if to_stderr {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.try_init()
    };
}
