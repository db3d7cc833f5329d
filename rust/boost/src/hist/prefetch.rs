//! A cache prefetch hint for the loops that visit a node's rows, which lie scattered through
//! the binned matrix: asking for a row some iterations ahead overlaps its cache miss with
//! the work on the rows before it.

/// How many rows ahead of the current one to prefetch when building a histogram (about 28
/// bin updates a row on typical data).
pub(crate) const PREFETCH_DISTANCE: usize = 32;

/// How many rows ahead to prefetch when partitioning, where a row costs only a few
/// instructions, so the miss must be asked for much earlier. Measured on 1M × 28 (50 trees of
/// depth 8): 16 rows ahead 4.39 s, 64 ahead 4.26 s, 128 ahead 4.10 s, 256 ahead 4.07 s.
pub(crate) const PARTITION_PREFETCH_DISTANCE: usize = 128;

/// Hints the processor to bring the cache line holding `data[index]` into L1. Out-of-range
/// indices are ignored; the hint never changes a result.
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if index < data.len() {
        let p = data[index..].as_ptr().cast::<i8>();
        // SAFETY: `_mm_prefetch` only needs SSE, which every x86_64 processor has; it reads
        // nothing and cannot fault, and `p` points inside `data` anyway.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, index);
}
