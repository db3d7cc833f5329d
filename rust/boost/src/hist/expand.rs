//! Expansion entries: a node waiting to be split, with the split found for it, and the order
//! in which the driver takes them.

use std::cmp::Ordering;

use super::evaluate::BinSplit;

/// A node waiting to be split.
#[derive(Debug, Clone)]
pub(crate) struct ExpandEntry {
    /// The node's id in the tree.
    pub nid: usize,
    /// Its depth (the root is at 0).
    pub depth: u32,
    /// The best split found for it.
    pub split: BinSplit,
}

impl ExpandEntry {
    /// The entry's loss change.
    pub fn loss_chg(&self) -> f32 {
        self.split.cand.loss_chg
    }
}

impl PartialEq for ExpandEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ExpandEntry {}

impl PartialOrd for ExpandEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ExpandEntry {
    /// Larger loss change first; ties to the smaller node id (XGBoost's driver).
    fn cmp(&self, other: &Self) -> Ordering {
        self.loss_chg()
            .total_cmp(&other.loss_chg())
            .then_with(|| other.nid.cmp(&self.nid))
    }
}
