//! The whole Boruta loop in Rust: shadows, fits, tests, with no caller code between iterations.
//!
//! The importance source is a trait, so this crate stays independent of any learner: the binding
//! crate plugs in sapwood's forest, tests plug in simple sources.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sapwood_mem::{len_of, try_vec};

use crate::error::BorutaError;
use crate::selection::{BorutaParams, BorutaState};
use crate::stats::auto_tree_count;

/// Fewest shadow columns per fit (BorutaPy doubles the shadows until there are five).
pub const MIN_SHADOWS: usize = 5;

/// A row-major feature matrix and its target: what a selection runs over, and what each fit
/// of the importance source sees (there with the shadow columns added).
#[derive(Debug, Clone, Copy)]
pub struct TrainingSet<'a> {
    /// Values, row-major, `n_rows × n_cols`.
    pub x: &'a [f32],
    /// Number of rows (samples).
    pub n_rows: usize,
    /// Number of columns (features).
    pub n_cols: usize,
    /// The target, one value per row.
    pub y: &'a [f32],
}

/// Something that scores the columns of a matrix by importance.
pub trait ImportanceSource {
    /// Importances of the columns of `data.x` for its target. `n_trees` is the tree budget for
    /// ensemble sources (ignored by others); `seed` makes the fit reproducible.
    ///
    /// # Errors
    /// Whatever the source cannot do, as a [`BorutaError`].
    fn importances(
        &mut self,
        data: TrainingSet<'_>,
        n_trees: usize,
        seed: u64,
    ) -> Result<Vec<f64>, BorutaError>;
}

/// How many trees each fit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeBudget {
    /// BorutaPy's `"auto"`: `floor(100 * sqrt(2 * n_active) / max_depth)`.
    Auto {
        /// The source's depth limit (`None` = unlimited, counted as 10).
        max_depth: Option<u32>,
    },
    /// A fixed count.
    Fixed(usize),
}

impl TreeBudget {
    fn trees(self, n_active: usize) -> usize {
        match self {
            Self::Auto { max_depth } => auto_tree_count(n_active, max_depth).max(1),
            Self::Fixed(n) => n.max(1),
        }
    }
}

/// Rows per parallel task when the matrix with shadows is filled.
const SHADOW_ROW_BLOCK: usize = 64;

/// Where a column of the matrix with shadows takes its values from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// Column `j` of the data.
    Column(usize),
    /// Column `j` of the data in the row order of shadow `s`.
    Shadow(usize, usize),
}

/// Builds the fit's matrix, row-major: the active columns and their shuffled shadows (the
/// active columns doubled until there are at least [`MIN_SHADOWS`], each permuted on its own),
/// placed in a random column order. Returns the matrix, its width and `slot[c]`: the matrix
/// column holding logical column `c` (actives first, then shadows).
///
/// The placement is drawn from `rng`, and so is one seed for the shadows: shadow `s` is
/// shuffled by its own stream `s` of that seed, so the shadows are drawn, and the matrix
/// filled (in blocks of rows), in parallel, and the same for any thread count.
///
/// The random placement matters: a learner that breaks exact gain ties by column index would
/// otherwise always favour real features over their shadows.
fn with_shadows(
    data: TrainingSet<'_>,
    active: &[usize],
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, usize, Vec<usize>), BorutaError> {
    let TrainingSet {
        x, n_rows, n_cols, ..
    } = data;
    let mut shadow_sources: Vec<usize> = active.to_vec();
    while shadow_sources.len() < MIN_SHADOWS {
        shadow_sources.extend_from_within(..);
    }
    let width = active.len() + shadow_sources.len();
    let mut slot: Vec<usize> = (0..width).collect();
    slot.shuffle(rng);
    let shadow_seed = rand::Rng::random::<u64>(rng);
    let mut sources = vec![Source::Column(0); width];
    for (k, &j) in active.iter().enumerate() {
        sources[slot[k]] = Source::Column(j);
    }
    for (s, &j) in shadow_sources.iter().enumerate() {
        sources[slot[active.len() + s]] = Source::Shadow(j, s);
    }
    let what = "the row orders of the shadow features";
    let mut orders = try_vec(len_of(shadow_sources.len(), n_rows, what)?, 0_u32, what)?;
    #[allow(clippy::cast_possible_truncation)]
    orders
        .par_chunks_mut(n_rows.max(1))
        .enumerate()
        .for_each(|(s, order)| {
            let mut stream = ChaCha8Rng::seed_from_u64(shadow_seed);
            stream.set_stream(s as u64);
            for (r, o) in order.iter_mut().enumerate() {
                *o = r as u32;
            }
            order.shuffle(&mut stream);
        });
    let what = "the matrix of features and their shadows";
    let mut out = try_vec(len_of(n_rows, width, what)?, 0.0_f32, what)?;
    out.par_chunks_mut(SHADOW_ROW_BLOCK * width.max(1))
        .enumerate()
        .for_each(|(b, block)| {
            let first = b * SHADOW_ROW_BLOCK;
            // Column by column within the block: one source column's values at a time.
            for (c, source) in sources.iter().enumerate() {
                let rows = block.chunks_exact_mut(width).enumerate();
                match *source {
                    Source::Column(j) => {
                        for (i, row) in rows {
                            row[c] = x[(first + i) * n_cols + j];
                        }
                    }
                    Source::Shadow(j, s) => {
                        let order = &orders[s * n_rows + first..];
                        for ((_, row), &src) in rows.zip(order) {
                            row[c] = x[src as usize * n_cols + j];
                        }
                    }
                }
            }
        });
    Ok((out, width, slot))
}

/// Runs Boruta to the end over `data`.
///
/// Calls `on_fit` after every fit with the state, so a caller can show progress. The same
/// inputs and `seed` give the same result.
///
/// # Errors
/// Invalid parameters or shapes, or an error of the importance source.
pub fn run_selection<S: ImportanceSource>(
    data: TrainingSet<'_>,
    params: BorutaParams,
    budget: TreeBudget,
    seed: u64,
    source: &mut S,
    mut on_fit: impl FnMut(&BorutaState),
) -> Result<BorutaState, BorutaError> {
    let TrainingSet {
        x,
        n_rows,
        n_cols,
        y,
    } = data;
    if x.len() != n_rows * n_cols || y.len() != n_rows {
        return Err(BorutaError::InvalidInput(format!(
            "X has {} values for {n_rows} x {n_cols}, y has {} for {n_rows} rows",
            x.len(),
            y.len()
        )));
    }
    if n_rows < 2 {
        return Err(BorutaError::InvalidInput(format!(
            "Boruta needs at least 2 rows, got {n_rows}"
        )));
    }
    let mut state = BorutaState::new(n_cols, params)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while !state.is_finished() {
        let active = state.active();
        let (matrix, width, slot) = with_shadows(data, &active, &mut rng)?;
        let fit_seed = rand::Rng::random::<u64>(&mut rng);
        let fit = TrainingSet {
            x: &matrix,
            n_rows,
            n_cols: width,
            y,
        };
        let imp = source.importances(fit, budget.trees(active.len()), fit_seed)?;
        if imp.len() != width {
            return Err(BorutaError::InvalidInput(format!(
                "the importance source returned {} importances for {width} columns",
                imp.len()
            )));
        }
        // The fit allocates tree by tree; stop if that drew on the allocator's reserve.
        sapwood_mem::checkpoint("a Boruta round")?;
        let logical: Vec<f64> = slot.iter().map(|&c| imp[c]).collect();
        state.record(&logical[..active.len()], &logical[active.len()..])?;
        on_fit(&state);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selection::Decision;

    /// Importance = |correlation with y| on a seeded bootstrap sample of the rows, so that it
    /// varies from fit to fit as a forest's importances do.
    struct Correlation;

    impl ImportanceSource for Correlation {
        fn importances(
            &mut self,
            data: TrainingSet<'_>,
            _n_trees: usize,
            seed: u64,
        ) -> Result<Vec<f64>, BorutaError> {
            let TrainingSet {
                x,
                n_rows,
                n_cols,
                y,
            } = data;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let rows: Vec<usize> = (0..n_rows)
                .map(|_| rand::Rng::random_range(&mut rng, 0..n_rows))
                .collect();
            let n = n_rows as f64;
            let my = rows.iter().map(|&r| f64::from(y[r])).sum::<f64>() / n;
            Ok((0..n_cols)
                .map(|j| {
                    let col: Vec<f64> =
                        rows.iter().map(|&r| f64::from(x[r * n_cols + j])).collect();
                    let mx = col.iter().sum::<f64>() / n;
                    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
                    for (&v, &r) in col.iter().zip(&rows) {
                        let dy = f64::from(y[r]) - my;
                        sxy += (v - mx) * dy;
                        sxx += (v - mx) * (v - mx);
                        syy += dy * dy;
                    }
                    (sxy / (sxx * syy).sqrt().max(1e-12)).abs()
                })
                .collect())
        }
    }

    fn data(n_rows: usize, n_cols: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f32> = (0..n_rows * n_cols)
            .map(|_| rand::Rng::random::<f32>(&mut rng))
            .collect();
        // y depends on the first two columns only.
        let y: Vec<f32> = (0..n_rows)
            .map(|r| x[r * n_cols] + 2.0 * x[r * n_cols + 1])
            .collect();
        (x, y)
    }

    #[test]
    fn relevant_columns_are_confirmed_and_noise_rejected() {
        let (x, y) = data(1000, 8, 1);
        let params = BorutaParams {
            max_iter: 60,
            ..BorutaParams::default()
        };
        let mut fits = 0;
        let state = run_selection(
            TrainingSet {
                x: &x,
                n_rows: 1000,
                n_cols: 8,
                y: &y,
            },
            params,
            TreeBudget::Fixed(10),
            7,
            &mut Correlation,
            |_| fits += 1,
        )
        .unwrap();
        assert_eq!(fits, state.iterations());
        assert_eq!(state.decisions()[0], Decision::Confirmed);
        assert_eq!(state.decisions()[1], Decision::Confirmed);
        let rejected = state.decisions()[2..]
            .iter()
            .filter(|&&d| d == Decision::Rejected)
            .count();
        // A correlation on one sample is a crude importance: a noise column with a chance
        // correlation can beat the shadows, so only most of the noise must be rejected.
        assert!(rejected >= 3, "{:?}", state.decisions());
    }

    #[test]
    fn same_seed_same_history() {
        let (x, y) = data(120, 5, 2);
        let run = |seed| {
            run_selection(
                TrainingSet {
                    x: &x,
                    n_rows: 120,
                    n_cols: 5,
                    y: &y,
                },
                BorutaParams {
                    max_iter: 12,
                    ..BorutaParams::default()
                },
                TreeBudget::Auto { max_depth: Some(5) },
                seed,
                &mut Correlation,
                |_| {},
            )
            .unwrap()
        };
        let bits = |s: &BorutaState| -> Vec<Vec<u64>> {
            s.importance_history()
                .iter()
                .map(|row| row.iter().map(|v| v.to_bits()).collect())
                .collect()
        };
        let (a, b, c) = (run(3), run(3), run(4));
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
    }

    #[test]
    fn shadows_are_permutations_of_their_columns() {
        let (x, _) = data(50, 2, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let data = TrainingSet {
            x: &x,
            n_rows: 50,
            n_cols: 2,
            y: &[],
        };
        let (m, width, slot) = with_shadows(data, &[0, 1], &mut rng).unwrap();
        assert_eq!(width, 2 + 8); // two shadows doubled to 4, then to 8
        let mut seen = slot.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..width).collect::<Vec<_>>());
        for c in 0..2 {
            let col: Vec<f32> = (0..50).map(|r| m[r * width + slot[c]]).collect();
            let orig: Vec<f32> = (0..50).map(|r| x[r * 2 + c]).collect();
            assert_eq!(col, orig);
        }
        for s in 2..width {
            let source = (s - 2) % 2;
            let mut a: Vec<f32> = (0..50).map(|r| m[r * width + slot[s]]).collect();
            let mut b: Vec<f32> = (0..50).map(|r| x[r * 2 + source]).collect();
            a.sort_by(f32::total_cmp);
            b.sort_by(f32::total_cmp);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let r = run_selection(
            TrainingSet {
                x: &[1.0, 2.0, 3.0],
                n_rows: 2,
                n_cols: 2,
                y: &[1.0, 2.0],
            },
            BorutaParams::default(),
            TreeBudget::Fixed(1),
            0,
            &mut Correlation,
            |_| {},
        );
        assert!(r.is_err());
    }
}
