//! The driver of tree growth: which nodes are expanded next, and whether the tree's limits
//! (`gamma`, the 1e-6 rule, `max_depth`, `max_leaves`) let a node or its children split.

use std::collections::BinaryHeap;

use super::expand::ExpandEntry;
use crate::gain::RT_EPS;

/// How the tree grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowPolicy {
    /// Split every expandable node of a level before the next level.
    Depthwise,
    /// Split the leaf with the largest loss reduction first.
    Lossguide,
}

/// Shape limits of a histogram-grown tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeShape {
    /// Largest depth (0 = unlimited, only with [`GrowPolicy::Lossguide`]).
    pub max_depth: u32,
    /// Largest number of leaves (0 = unlimited).
    pub max_leaves: u32,
    /// Growth order.
    pub policy: GrowPolicy,
}

/// The queue of nodes waiting to be split, popped in batches by the growth policy.
#[derive(Debug, Clone)]
pub(crate) struct Driver {
    queue: BinaryHeap<ExpandEntry>,
    shape: TreeShape,
    gamma: f32,
}

impl Driver {
    /// An empty queue for a tree of `shape`, splitting only where the loss change reaches
    /// `gamma`.
    pub fn new(shape: TreeShape, gamma: f32) -> Self {
        Self {
            queue: BinaryHeap::new(),
            shape,
            gamma,
        }
    }

    /// Queues nodes with their splits.
    pub fn push(&mut self, entries: impl IntoIterator<Item = ExpandEntry>) {
        self.queue.extend(entries);
    }

    /// Whether no node waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The next nodes to expand, in node order: a whole level when growing depth-wise, the
    /// best node when loss-guided (the tree's ids and `max_leaves` depend on this order).
    pub fn pop_batch(&mut self) -> Vec<ExpandEntry> {
        match self.shape.policy {
            GrowPolicy::Lossguide => self.queue.pop().into_iter().collect(),
            GrowPolicy::Depthwise => {
                let mut level: Vec<ExpandEntry> = self.queue.drain().collect();
                level.sort_by_key(|e| e.nid);
                level
            }
        }
    }

    /// Whether `e` is split, with `n_leaves` leaves in the tree so far.
    pub fn is_expandable(&self, e: &ExpandEntry, n_leaves: u32) -> bool {
        let loss = e.loss_chg();
        !(loss <= RT_EPS
            || loss < self.gamma
            || (self.shape.max_depth > 0 && e.depth >= self.shape.max_depth)
            || (self.shape.max_leaves > 0 && n_leaves >= self.shape.max_leaves))
    }

    /// Whether the children of a node at `depth` may split in turn, with `n_leaves` leaves in
    /// the tree once it is split: if not, they need neither rows nor histograms.
    pub fn children_may_split(&self, depth: u32, n_leaves: u32) -> bool {
        (self.shape.max_depth == 0 || depth + 1 < self.shape.max_depth)
            && (self.shape.max_leaves == 0 || n_leaves < self.shape.max_leaves)
    }
}
