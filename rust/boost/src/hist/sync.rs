//! The seam where a grower's local sums become global.
//!
//! A grower sees some rows: every training row on one machine, or one partition's rows in a
//! distributed fit. Its root sums, its histograms and the sizes of its children's row sets
//! are local; split evaluation needs them summed over every partition. [`HistSync`] is that
//! step. [`LocalSync`], the single-machine implementation, returns its input: the grower is
//! generic over it, so it compiles away. A distributed implementation adds the partitions'
//! values in partition order, so that the model does not depend on where rows lie.

use super::feature_histogram::FeatureHistogram;
use super::histogram::Histogram;
use crate::gain::GradStats;

/// Makes local sums global.
pub trait HistSync: Sync {
    /// The root's gradient sums over every partition, from this grower's.
    fn root_sums(&self, local: GradStats) -> GradStats;

    /// A node's histogram over every partition, from this grower's.
    fn histogram(&self, local: Histogram) -> Histogram;

    /// A node's histograms of a few features over every partition, from this grower's.
    fn feature_histogram(&self, local: FeatureHistogram) -> FeatureHistogram;

    /// The row counts of a split's children over every partition, from this grower's: the
    /// histogram of the smaller child is built and its sibling's derived, and every partition
    /// must make the same choice.
    fn child_rows(&self, left: usize, right: usize) -> (usize, usize);
}

/// One machine: local sums are the global ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSync;

impl HistSync for LocalSync {
    #[inline(always)]
    fn root_sums(&self, local: GradStats) -> GradStats {
        local
    }

    #[inline(always)]
    fn histogram(&self, local: Histogram) -> Histogram {
        local
    }

    #[inline(always)]
    fn feature_histogram(&self, local: FeatureHistogram) -> FeatureHistogram {
        local
    }

    #[inline(always)]
    fn child_rows(&self, left: usize, right: usize) -> (usize, usize) {
        (left, right)
    }
}
