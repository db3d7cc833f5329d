//! Fallible allocation for sapwood's engines.
//!
//! Rust aborts the process when an allocation fails, which for a Python extension means the
//! interpreter dies. sapwood turns allocation failure into an error (a `MemoryError` in Python)
//! in two layers:
//!
//! 1. **Sized reservations.** Every buffer whose size comes from user data or a model file
//!    (binned matrices, histograms, presorted columns, node arrays, prediction and k-NN outputs,
//!    Boruta matrices) is allocated through [`try_vec`] or [`try_with_capacity`]: the byte size
//!    is computed with overflow checks and reserved with `try_reserve_exact`, and a failure is an
//!    [`AllocError`] naming the buffer and its size.
//! 2. **A reserve** ([`ReserveAllocator`], installed as the global allocator by the extension
//!    module). When a large reservation succeeds but leaves almost nothing, the next small
//!    allocation somewhere inside the engine (a node vector, a thread's scratch) would abort.
//!    The allocator therefore holds an untouched block of address space; when the system refuses
//!    an allocation it gives the block back, retries, and marks memory as low. Small allocations
//!    then succeed, and the next sized reservation or [`checkpoint`] sees the mark and fails with
//!    an [`AllocError`], so the work unwinds, frees what it built, and returns an error. The
//!    binding re-arms the reserve ([`arm`]) after each call.
//!
//! The reserve is address space, not resident memory: it is never written, so it costs no
//! physical pages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// A buffer that could not be allocated: what it was for and how many bytes it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocError {
    what: String,
    bytes: Option<usize>,
    at_checkpoint: bool,
}

impl AllocError {
    /// A failure to allocate `bytes` bytes (None: the size itself overflows) for `what`.
    pub fn new(what: impl Into<String>, bytes: Option<usize>) -> Self {
        Self {
            what: what.into(),
            bytes,
            at_checkpoint: false,
        }
    }

    /// What the buffer was for.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The size that was asked for, when it fits in a `usize`.
    pub fn bytes(&self) -> Option<usize> {
        self.bytes
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes {
            Some(bytes) => write!(f, "{} ({})", self.what, human_bytes(bytes)),
            None if self.at_checkpoint => write!(f, "{}: the system ran out of memory", self.what),
            None => write!(f, "{} (its size overflows the address space)", self.what),
        }
    }
}

impl std::error::Error for AllocError {}

/// `bytes` as a short human-readable size: "512 B", "3.1 MiB", "1.5 GiB".
pub fn human_bytes(bytes: usize) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The byte size of `len` values of `T`, or an error naming `what` when it overflows.
pub fn bytes_of<T>(len: usize, what: &str) -> Result<usize, AllocError> {
    len.checked_mul(size_of::<T>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or_else(|| AllocError::new(what, None))
}

/// `rows × cols` as a length, or an error naming `what` when the product overflows.
pub fn len_of(rows: usize, cols: usize, what: &str) -> Result<usize, AllocError> {
    rows.checked_mul(cols)
        .ok_or_else(|| AllocError::new(what, None))
}

/// A fallible copy of `values`; the fallible `values.to_vec()`.
pub fn try_to_vec<T: Clone>(values: &[T], what: &str) -> Result<Vec<T>, AllocError> {
    let mut v = try_with_capacity(values.len(), what)?;
    v.extend_from_slice(values);
    Ok(v)
}

/// An empty vector with room for exactly `capacity` values, or an [`AllocError`].
///
/// Fails also when memory was marked low since the reserve was last armed (see the module
/// documentation), so that work that has already dipped into the reserve stops here.
pub fn try_with_capacity<T>(capacity: usize, what: &str) -> Result<Vec<T>, AllocError> {
    let bytes = bytes_of::<T>(capacity, what)?;
    checkpoint_sized(what, bytes)?;
    let mut v = Vec::new();
    v.try_reserve_exact(capacity)
        .map_err(|_| AllocError::new(what, Some(bytes)))?;
    if memory_low() {
        return Err(AllocError::new(what, Some(bytes)));
    }
    Ok(v)
}

/// A vector of `len` copies of `value`, or an [`AllocError`]; the fallible `vec![value; len]`.
pub fn try_vec<T: Clone>(len: usize, value: T, what: &str) -> Result<Vec<T>, AllocError> {
    let mut v = try_with_capacity(len, what)?;
    v.resize(len, value);
    Ok(v)
}

/// Makes room for `additional` more values in `v`, or an [`AllocError`].
pub fn try_reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<(), AllocError> {
    let total = v
        .len()
        .checked_add(additional)
        .ok_or_else(|| AllocError::new(what, None))?;
    let bytes = bytes_of::<T>(total, what)?;
    checkpoint_sized(what, bytes)?;
    v.try_reserve(additional)
        .map_err(|_| AllocError::new(what, Some(bytes)))?;
    if memory_low() {
        return Err(AllocError::new(what, Some(bytes)));
    }
    Ok(())
}

/// Fails when memory has run low since the reserve was last armed.
///
/// Long loops call this between steps (a boosting round, a tree level), so that work which
/// drew on the reserve through small allocations stops with an error instead of running on
/// until an allocation fails for good.
pub fn checkpoint(what: &str) -> Result<(), AllocError> {
    if memory_low() {
        Err(AllocError::new(what, None).low())
    } else {
        Ok(())
    }
}

fn checkpoint_sized(what: &str, bytes: usize) -> Result<(), AllocError> {
    if memory_low() {
        Err(AllocError::new(what, Some(bytes)))
    } else {
        Ok(())
    }
}

impl AllocError {
    /// Marks a failure found at a checkpoint rather than at a sized request.
    fn low(mut self) -> Self {
        self.at_checkpoint = true;
        self
    }
}

/// The size of the reserve: enough for the bookkeeping that follows a large allocation
/// (node vectors, per-thread scratch, error messages) until the next checkpoint. It is at least
/// the 64 MiB that glibc maps for a new thread arena, so that a worker thread whose first
/// allocation meets a full address space can still get one once the reserve is given back.
pub const RESERVE_BYTES: usize = 64 << 20;

/// The smallest reserve worth holding, when memory is already short.
pub const MIN_RESERVE_BYTES: usize = 1 << 20;

static RESERVE: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());
static RESERVE_SIZE: AtomicUsize = AtomicUsize::new(RESERVE_BYTES);
static LOW: AtomicBool = AtomicBool::new(false);

fn reserve_layout(size: usize) -> Layout {
    // A power of two between 1 and 64 MiB, aligned to a page: valid by construction.
    Layout::from_size_align(size, 4096).unwrap_or_else(|_| Layout::new::<u8>())
}

/// Whether an allocation has failed (and the reserve was spent) since [`arm`] last succeeded.
pub fn memory_low() -> bool {
    LOW.load(Ordering::Relaxed)
}

/// Takes the reserve if it is not held, and clears the low-memory mark once it is.
///
/// When the full [`RESERVE_BYTES`] cannot be had, a smaller block is better than none: the
/// size halves down to [`MIN_RESERVE_BYTES`]. Returns whether a reserve is held. Does nothing
/// useful unless [`ReserveAllocator`] is the global allocator.
pub fn arm() -> bool {
    if !RESERVE.load(Ordering::Acquire).is_null() {
        LOW.store(false, Ordering::Release);
        return true;
    }
    let mut size = RESERVE_BYTES;
    while size >= MIN_RESERVE_BYTES {
        let layout = reserve_layout(size);
        // SAFETY: the layout has a non-zero size.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            RESERVE_SIZE.store(size, Ordering::Release);
            if RESERVE
                .compare_exchange(ptr::null_mut(), block, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Another thread armed it first: give this block back.
                // SAFETY: `block` came from `System.alloc` with this layout and was never
                // shared.
                unsafe { System.dealloc(block, layout) };
            }
            LOW.store(false, Ordering::Release);
            return true;
        }
        size /= 2;
    }
    false
}

/// Gives the reserve back to the system and marks memory as low. Returns whether a reserve
/// was held (so that retrying an allocation may now succeed).
fn spend_reserve() -> bool {
    LOW.store(true, Ordering::Release);
    let block = RESERVE.swap(ptr::null_mut(), Ordering::AcqRel);
    if block.is_null() {
        return false;
    }
    // SAFETY: a non-null RESERVE was allocated by `arm` with the layout of RESERVE_SIZE (stored
    // before the block was published), and the swap above made this thread its only owner.
    unsafe { System.dealloc(block, reserve_layout(RESERVE_SIZE.load(Ordering::Acquire))) };
    true
}

/// The system allocator, plus the reserve described in the module documentation.
///
/// Allocations go straight to [`System`]; only when the system refuses one does this allocator
/// give its reserve back and retry once.
pub struct ReserveAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the retry
// after spending the reserve is a second, independent call with the same arguments.
unsafe impl GlobalAlloc for ReserveAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller, who upholds `GlobalAlloc::alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() && spend_reserve() {
            // SAFETY: as above.
            return unsafe { System.alloc(layout) };
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller, who upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() && spend_reserve() {
            // SAFETY: as above.
            return unsafe { System.alloc_zeroed(layout) };
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: `p` was allocated by this allocator, that is by `System`, with `layout`.
        unsafe { System.dealloc(p, layout) }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller; on failure `p` is left untouched by `System`, so
        // retrying with the same arguments is valid.
        let q = unsafe { System.realloc(p, layout, new_size) };
        if q.is_null() && spend_reserve() {
            // SAFETY: as above.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_overflow_are_errors() {
        let err = try_with_capacity::<u64>(usize::MAX / 4, "the histograms").unwrap_err();
        assert_eq!(err.bytes(), None);
        assert!(err.to_string().starts_with("the histograms"));
        assert!(bytes_of::<u32>(usize::MAX / 2, "x").is_err());
        assert_eq!(bytes_of::<u32>(10, "x").unwrap(), 40);
    }

    #[test]
    fn sizes_the_system_refuses_are_errors() {
        // Half the address space: a valid size that no allocator grants.
        let err = try_vec(isize::MAX as usize / 2, 0u8, "the binned matrix").unwrap_err();
        assert_eq!(err.bytes(), Some(isize::MAX as usize / 2));
        assert!(err.to_string().contains("the binned matrix ("), "{err}");
        assert!(err.to_string().contains("EiB"), "{err}");
        let mut v = vec![1u8];
        assert!(try_reserve(&mut v, usize::MAX, "rows").is_err());
        assert_eq!(v, [1]);
    }

    #[test]
    fn small_requests_succeed() {
        let v = try_vec(5, 7u32, "x").unwrap();
        assert_eq!(v, [7; 5]);
        let v: Vec<f64> = try_with_capacity(3, "x").unwrap();
        assert!(v.capacity() >= 3 && v.is_empty());
        assert!(checkpoint("round").is_ok());
        assert_eq!(try_to_vec(&[1, 2], "x").unwrap(), [1, 2]);
        assert_eq!(len_of(3, 4, "x").unwrap(), 12);
        assert!(len_of(usize::MAX, 2, "x").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_bytes(1536 << 20), "1.5 GiB");
    }
}
