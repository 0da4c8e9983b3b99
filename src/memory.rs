//! How the process holds memory: glibc's allocator keeps freed memory in per-thread arenas
//! (up to eight per core) and returns little of it to the system. The server's threads (the
//! runtime, the refresh's own runtime, one per SQLite connection) would each grow an arena
//! that stays at its peak. Two arenas (one measured slower under load) and a trim after
//! start-up and after each large refresh keep the resident size near what is in use
//! (docs/benchmarks.md: "Side by side").

/// Caps the allocator's arenas at two, unless `MALLOC_ARENA_MAX` says otherwise. Call before
/// any thread starts.
pub fn limit_allocator_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's tuning; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives memory the allocator holds free back to the system (after start-up and after each
/// large refresh, the process's largest transient uses).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
