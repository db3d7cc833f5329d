//! XGBoost's tree constraints: monotone constraints per feature (see
//! [`crate::gain::Bounds`] for what they do to weights and gains) and interaction constraints,
//! sets of features that may be used together on one path.
//!
//! Interaction constraints, as XGBoost's `FeatureInteractionConstraintHost`: the root may split
//! on any feature; a child may split on the features used on its path (its ancestors' splits,
//! its parent's included) and on every feature of each set that holds all of those. A feature
//! in no set may therefore be used only with itself below it. Column sampling draws as it
//! would without constraints, and the drawn features a node may not use are left out.

use crate::param::TreeParams;

/// The constraints of one fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Monotone constraint per feature, -1, 0 or +1 (empty: none).
    pub monotone: Vec<i8>,
    /// Sets of features that may interact (empty: no interaction constraint).
    pub interaction: Vec<Vec<usize>>,
}

impl Constraints {
    /// The constraints `params` give.
    pub fn of(params: &TreeParams) -> Self {
        Self {
            monotone: params.monotone_constraints.clone(),
            interaction: params
                .interaction_constraints
                .iter()
                .map(|set| set.iter().map(|&f| f as usize).collect())
                .collect(),
        }
    }

    /// The monotone constraint of feature `f` (0 where none is given).
    #[inline]
    pub fn monotone_of(&self, f: usize) -> i8 {
        self.monotone.get(f).copied().unwrap_or(0)
    }

    /// The features a node whose path used the (sorted, distinct) features `path` may split
    /// on, as a mask over `n_features`; `None` where every feature may be used (no
    /// interaction constraints, or the root).
    pub fn allowed(&self, path: &[usize], n_features: usize) -> Option<Vec<bool>> {
        if self.interaction.is_empty() || path.is_empty() {
            return None;
        }
        let mut mask = vec![false; n_features];
        for &f in path {
            if f < n_features {
                mask[f] = true;
            }
        }
        for set in &self.interaction {
            if path.iter().all(|f| set.contains(f)) {
                for &f in set {
                    if f < n_features {
                        mask[f] = true;
                    }
                }
            }
        }
        Some(mask)
    }

    /// `path` with feature `f` added (sorted, distinct).
    pub fn extend_path(path: &[usize], f: usize) -> Vec<usize> {
        let mut out = path.to_vec();
        if let Err(at) = out.binary_search(&f) {
            out.insert(at, f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(interaction: Vec<Vec<usize>>) -> Constraints {
        Constraints {
            monotone: Vec::new(),
            interaction,
        }
    }

    #[test]
    fn the_root_may_use_everything_and_children_their_sets() {
        let c = sets(vec![vec![0, 2], vec![1, 3, 4]]);
        assert_eq!(c.allowed(&[], 6), None);
        let a = c.allowed(&[2], 6).unwrap();
        assert_eq!(a, vec![true, false, true, false, false, false]);
        let b = c.allowed(&[1, 4], 6).unwrap();
        assert_eq!(b, vec![false, true, false, true, true, false]);
    }

    #[test]
    fn a_feature_in_no_set_goes_only_with_itself() {
        let c = sets(vec![vec![0, 1]]);
        assert_eq!(
            c.allowed(&[5], 6).unwrap(),
            vec![false, false, false, false, false, true]
        );
        // A path across two sets leaves only its own features.
        let c = sets(vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(
            c.allowed(&[1, 2], 4).unwrap(),
            vec![false, true, true, false]
        );
    }

    #[test]
    fn overlapping_sets_all_count() {
        let c = sets(vec![vec![0, 1], vec![0, 2], vec![3]]);
        assert_eq!(c.allowed(&[0], 4).unwrap(), vec![true, true, true, false]);
        assert_eq!(Constraints::extend_path(&[0, 3], 2), vec![0, 2, 3]);
        assert_eq!(Constraints::extend_path(&[0, 3], 3), vec![0, 3]);
        assert!(sets(Vec::new()).allowed(&[1], 3).is_none());
    }
}
