//! The memory allocator of the Casebook binaries: jemalloc, returning freed pages to
//! the system a second after they fall idle. Each binary names it with
//! `casebook::jemalloc!()`; the library leaves the choice to what links it (the tests
//! use the system's allocator, and the fuzz targets the address sanitizer's).
//!
//! glibc's malloc kept about twice the live heap resident under concurrent delivery:
//! its per-thread arenas give memory back only from their top, so the freed middle of
//! a busy arena stayed (20,000 messages then 8,000 live deliveries: 113–150 MiB
//! resident, 42 MiB after a `malloc_trim`). jemalloc with a background thread purging
//! dirty pages after one second stays at 60–110 MiB on the same run and delivers
//! faster (BENCHMARKS.md, session 16). `_RJEM_MALLOC_CONF` in the environment still
//! overrides these options.

pub use tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main`: purge freed pages one second after they
/// fall idle, at once for pages already advised away, from a background thread (not
/// on the next allocation of the thread that freed them).
pub const MALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// Makes jemalloc, with [`MALLOC_CONF`], the allocator of the binary that calls it.
#[macro_export]
macro_rules! jemalloc {
    () => {
        #[global_allocator]
        static ALLOC: $crate::allocator::Jemalloc = $crate::allocator::Jemalloc;

        /// jemalloc's options (`casebook::allocator::MALLOC_CONF`).
        #[allow(non_upper_case_globals)]
        #[export_name = "_rjem_malloc_conf"]
        pub static malloc_conf: &[u8] = $crate::allocator::MALLOC_CONF;
    };
}
