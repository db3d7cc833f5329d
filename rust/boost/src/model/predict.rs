//! Prediction: the trees of a [`Booster`] walked for margins, responses and leaf indices, rows
//! in parallel blocks. [`add_forest`] is also how training adds a round's trees to the
//! evaluation sets' margins, so training and prediction sum the same way. Reads the model and
//! the input matrix; writes only the output it returns.

use rayon::prelude::*;
use sapwood_mem::{len_of, try_vec, try_with_capacity};

use crate::data::MatrixView;
use crate::error::BoostError;
use crate::forest::FlatForest;
use crate::model::Booster;
use crate::objective::Objective;

const ROW_CHUNK: usize = 512;

impl Booster {
    pub(super) fn check_width(&self, x: &MatrixView<'_>) -> Result<(), BoostError> {
        x.validate()?;
        if x.n_cols() != self.num_feature {
            return Err(BoostError::InvalidInput(format!(
                "X has {} features, but the model was fitted with {}",
                x.n_cols(),
                self.num_feature
            )));
        }
        Ok(())
    }

    pub(super) fn tree_range(
        &self,
        begin: usize,
        end: usize,
    ) -> Result<std::ops::Range<usize>, BoostError> {
        let n_it = self.n_iterations();
        let end = if end == 0 { n_it } else { end };
        if begin > end || end > n_it {
            return Err(BoostError::InvalidInput(format!(
                "iteration_range ({begin}, {end}) is outside the model's {n_it} iterations"
            )));
        }
        let k = self.trees_per_iteration();
        Ok(begin * k..end * k)
    }

    /// Raw margins (`n_rows * n_groups`, row-major) using iterations `[begin, end)`;
    /// `end == 0` means all of them.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for a width mismatch or an invalid range.
    pub fn predict_margin(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        let forest = self.pack(begin, end)?;
        self.predict_margin_packed(x, &forest, begin, end)
    }

    /// The trees of iterations `[begin, end)` packed for prediction: what each call of
    /// [`Self::predict_margin`] builds, for callers that keep it across calls (packing costs
    /// about as much as predicting a few rows).
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] for an invalid range.
    pub fn pack(&self, begin: usize, end: usize) -> Result<FlatForest, BoostError> {
        let range = self.tree_range(begin, end)?;
        Ok(FlatForest::new(&self.trees[range]))
    }

    /// [`Self::predict_margin`] through `forest`, which [`Self::pack`] built for the same
    /// iterations.
    ///
    /// # Errors
    /// As [`Self::predict_margin`], and when `forest` holds a different number of trees.
    pub fn predict_margin_packed(
        &self,
        x: &MatrixView<'_>,
        forest: &FlatForest,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        self.predict_margin_packed_from(x, forest, begin, end, None)
    }

    /// [`Self::predict_margin`] starting from `start` (`n_rows * n_groups` margins given per
    /// row, XGBoost's `base_margin`) instead of the intercept.
    ///
    /// # Errors
    /// As [`Self::predict_margin`], and [`BoostError::InvalidInput`] for `start` of the wrong
    /// length or not finite.
    pub fn predict_margin_from(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
        start: Option<&[f32]>,
    ) -> Result<Vec<f32>, BoostError> {
        let forest = self.pack(begin, end)?;
        self.predict_margin_packed_from(x, &forest, begin, end, start)
    }

    /// [`Self::predict_margin_packed`] starting from `start` where given.
    ///
    /// # Errors
    /// As [`Self::predict_margin_from`].
    pub fn predict_margin_packed_from(
        &self,
        x: &MatrixView<'_>,
        forest: &FlatForest,
        begin: usize,
        end: usize,
        start: Option<&[f32]>,
    ) -> Result<Vec<f32>, BoostError> {
        self.check_width(x)?;
        let range = self.tree_range(begin, end)?;
        if forest.n_trees() != range.len() {
            return Err(BoostError::InvalidInput(format!(
                "the packed forest holds {} trees, iterations ({begin}, {end}) have {}",
                forest.n_trees(),
                range.len()
            )));
        }
        let k = self.n_groups();
        let what = "the prediction output";
        let mut out = try_vec(len_of(x.n_rows(), k, what)?, 0.0_f32, what)?;
        match start {
            Some(s) => {
                if s.len() != out.len() {
                    return Err(BoostError::InvalidInput(format!(
                        "base_margin has {} values, expected {} rows x {k} output groups",
                        s.len(),
                        x.n_rows()
                    )));
                }
                if s.iter().any(|v| !v.is_finite()) {
                    return Err(BoostError::InvalidInput(
                        "base_margin contains NaN or infinity".into(),
                    ));
                }
                out.copy_from_slice(s);
            }
            None => {
                let base = self.base_margin();
                for o in out.chunks_mut(k) {
                    o.copy_from_slice(&base);
                }
            }
        }
        reserve_row_buffers(x, predict_block_rows(x))?;
        add_forest(&mut out, x, forest, &self.tree_info[range], k);
        Ok(out)
    }

    /// Predictions in response space (probabilities for classification).
    ///
    /// # Errors
    /// As [`Self::predict_margin`].
    pub fn predict(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<f32>, BoostError> {
        let mut m = self.predict_margin(x, begin, end)?;
        self.transform(&mut m);
        Ok(m)
    }

    /// Applies the objective's output transform to margins in place.
    pub fn transform(&self, margins: &mut [f32]) {
        let k = self.n_groups();
        let obj = self.objective;
        let per_row = matches!(obj, Objective::MultiSoftprob | Objective::MultiSoftmax);
        margins
            .par_chunks_mut(k * TRANSFORM_BLOCK)
            .for_each(|block| {
                if per_row {
                    block.chunks_mut(k).for_each(|r| obj.transform(r));
                } else {
                    // Element by element: one call for the whole block.
                    obj.transform(block);
                }
            });
    }

    /// The leaf index of every row in every tree of iterations `[begin, end)`
    /// (`n_rows * n_trees`, row-major).
    ///
    /// # Errors
    /// As [`Self::predict_margin`].
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    pub fn predict_leaf(
        &self,
        x: &MatrixView<'_>,
        begin: usize,
        end: usize,
    ) -> Result<Vec<i32>, BoostError> {
        self.check_width(x)?;
        let range = self.tree_range(begin, end)?;
        let forest = FlatForest::new(&self.trees[range]);
        let nt = forest.n_trees().max(1);
        let what = "the leaf index output";
        let mut out = try_vec(len_of(x.n_rows(), forest.n_trees(), what)?, 0_i32, what)?;
        // Each thread densifies one row at a time into a buffer of `num_feature` values.
        drop(try_with_capacity::<f32>(self.num_feature, "a row buffer")?);
        out.par_chunks_mut(ROW_CHUNK * nt)
            .enumerate()
            .for_each_init(
                || vec![0.0_f32; self.num_feature],
                |buf, (c, block)| {
                    for (j, o) in block.chunks_mut(nt).enumerate() {
                        let i = c * ROW_CHUNK + j;
                        let row = x.row(i, buf);
                        for (t, o) in o.iter_mut().enumerate() {
                            *o = forest.leaf_id(t, row) as i32;
                        }
                    }
                },
            );
        Ok(out)
    }
}

/// Rows per parallel task of [`Booster::transform`].
const TRANSFORM_BLOCK: usize = 4096;

/// Rows per block of [`add_forest`]: small enough for the rows to stay in L1, large enough
/// for independent traversals to overlap.
const PREDICT_BLOCK: usize = 64;

/// The most values a thread's buffer of densified rows holds when predicting from sparse or
/// float64 input (4 MiB): very wide matrices go fewer rows to a block, down to one.
const PREDICT_BUFFER_VALUES: usize = 1 << 20;

/// Rows per block of [`add_forest`] for `x`.
fn predict_block_rows(x: &MatrixView<'_>) -> usize {
    match x {
        MatrixView::DenseF32 { .. } => PREDICT_BLOCK,
        _ => (PREDICT_BUFFER_VALUES / x.n_cols().max(1)).clamp(1, PREDICT_BLOCK),
    }
}

/// Checks that a buffer of densified rows can be had before a prediction starts, so that a
/// model of very many features fails with an error rather than inside a worker thread.
fn reserve_row_buffers(x: &MatrixView<'_>, rows: usize) -> Result<(), BoostError> {
    if !matches!(x, MatrixView::DenseF32 { .. }) {
        let what = "a buffer of densified rows";
        drop(try_with_capacity::<f32>(
            len_of(rows, x.n_cols(), what)?,
            what,
        )?);
    }
    Ok(())
}

/// Adds each tree's leaf value to its output group (`out` is `n_rows * k`, row-major). Rows
/// go in parallel blocks; within a block, tree after tree, so each row still sums its trees
/// in model order (the result does not depend on blocking or threads).
pub(crate) fn add_forest(
    out: &mut [f32],
    x: &MatrixView<'_>,
    forest: &FlatForest,
    groups: &[u32],
    k: usize,
) {
    let n_cols = x.n_cols();
    let dense = matches!(x, MatrixView::DenseF32 { .. });
    let block_rows = predict_block_rows(x);
    out.par_chunks_mut(block_rows * k)
        .enumerate()
        .for_each_init(
            || {
                let buf = vec![0.0_f32; if dense { 0 } else { block_rows * n_cols }];
                (buf, Vec::new())
            },
            |(buf, scratch), (c, block)| {
                let first = c * block_rows;
                let n_rows = block.len() / k;
                if !dense {
                    for j in 0..n_rows {
                        x.fill_row(first + j, &mut buf[j * n_cols..(j + 1) * n_cols]);
                    }
                }
                let rows: &[f32] = match x {
                    MatrixView::DenseF32 { data, .. } => {
                        &data[first * n_cols..(first + n_rows) * n_cols]
                    }
                    _ => &buf[..n_rows * n_cols],
                };
                forest.add_block(groups, rows, (n_rows, n_cols), block, k, scratch);
            },
        );
}
