//! The candidates of a k-NN query: the best points seen so far and the bound a new point must
//! meet.
//!
//! The tree's leaf scan, the plain blocked scan and the pre-filtered Euclidean scan all offer
//! points to the same [`Candidates`], so every search path keeps the same answer. Ties between
//! equally distant points go to the smaller input index, which makes the answer unique.

use crate::float::Float;

/// The k best candidates seen so far.
pub(crate) trait Candidates<F: Float> {
    /// A point must have a rank `<=` this to be offered.
    fn bound(&self) -> F;
    /// Offers a point of rank `r` and input index `i`.
    fn offer(&mut self, r: F, i: u32);
}

#[inline(always)]
fn before<F: Float>(a: (F, u32), b: (F, u32)) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The single nearest point (k = 1).
pub(crate) struct Nearest<F> {
    best: (F, u32),
    found: bool,
}

impl<F: Float> Nearest<F> {
    /// Nothing found yet; only points ranked below `upper` count.
    pub(crate) fn new(upper: F) -> Self {
        Self {
            best: (upper, u32::MAX),
            found: false,
        }
    }

    /// The nearest point's `(rank, index)`, if any was offered within the bound.
    pub(crate) fn found(&self) -> Option<(F, u32)> {
        self.found.then_some(self.best)
    }
}

impl<F: Float> Candidates<F> for Nearest<F> {
    #[inline(always)]
    fn bound(&self) -> F {
        self.best.0
    }
    #[inline(always)]
    fn offer(&mut self, r: F, i: u32) {
        if (self.found && before((r, i), self.best)) || (!self.found && r < self.best.0) {
            self.best = (r, i);
            self.found = true;
        }
    }
}

/// A bounded max-heap of `(rank, index)`, reused across queries.
pub(crate) struct KBest<F> {
    k: usize,
    upper: F,
    heap: Vec<(F, u32)>,
}

impl<F: Float> KBest<F> {
    /// An empty heap of the `k` best points ranked below `upper`, with room for `capacity`.
    pub(crate) fn new(k: usize, upper: F, capacity: usize) -> Self {
        Self {
            k,
            upper,
            heap: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn reset(&mut self, upper: F) {
        self.upper = upper;
        self.heap.clear();
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && before(self.heap[l], self.heap[r]) {
                r
            } else {
                l
            };
            if before(self.heap[i], self.heap[c]) {
                self.heap.swap(i, c);
                i = c;
            } else {
                break;
            }
        }
    }

    /// The candidates, nearest first (ties by index).
    pub(crate) fn sorted(&mut self) -> &[(F, u32)] {
        self.heap
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        &self.heap
    }
}

impl<F: Float> Candidates<F> for KBest<F> {
    #[inline(always)]
    fn bound(&self) -> F {
        if self.heap.len() < self.k {
            self.upper
        } else {
            self.heap[0].0
        }
    }

    #[inline(always)]
    fn offer(&mut self, r: F, i: u32) {
        if self.heap.len() < self.k {
            if r < self.upper {
                self.heap.push((r, i));
                let mut c = self.heap.len() - 1;
                while c > 0 {
                    let parent = (c - 1) / 2;
                    if before(self.heap[parent], self.heap[c]) {
                        self.heap.swap(parent, c);
                        c = parent;
                    } else {
                        break;
                    }
                }
            }
        } else if before((r, i), self.heap[0]) {
            self.heap[0] = (r, i);
            self.sift_down(0);
        }
    }
}
