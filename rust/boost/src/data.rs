//! Feature matrices: dense row-major input (NaN = missing), CSR sparse input (absent entry =
//! missing), and the presorted columns the exact split finder scans.

use rayon::prelude::*;
use sapwood_mem::try_vec;

use crate::error::BoostError;

/// Checks a dense buffer's length against its shape, then (lazily) that no value is infinite.
fn check_dense(
    len: usize,
    n_rows: usize,
    n_cols: usize,
    has_infinity: impl FnOnce() -> bool,
) -> Result<(), BoostError> {
    if len != n_rows * n_cols {
        return Err(BoostError::InvalidInput(
            "X buffer has the wrong size".into(),
        ));
    }
    if has_infinity() {
        return Err(BoostError::InvalidInput("X contains infinity".into()));
    }
    Ok(())
}

/// A borrowed feature matrix. Values are compared as `f32`, as XGBoost does.
#[derive(Debug, Clone, Copy)]
pub enum MatrixView<'a> {
    /// Row-major `f32` values.
    DenseF32 {
        data: &'a [f32],
        n_rows: usize,
        n_cols: usize,
    },
    /// Row-major `f64` values (rounded to `f32` on use).
    DenseF64 {
        data: &'a [f64],
        n_rows: usize,
        n_cols: usize,
    },
    /// Compressed sparse rows.
    Csr {
        indptr: &'a [i64],
        indices: &'a [i32],
        data: &'a [f32],
        n_cols: usize,
    },
}

impl MatrixView<'_> {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        match *self {
            Self::DenseF32 { n_rows, .. } | Self::DenseF64 { n_rows, .. } => n_rows,
            Self::Csr { indptr, .. } => indptr.len().saturating_sub(1),
        }
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        match *self {
            Self::DenseF32 { n_cols, .. }
            | Self::DenseF64 { n_cols, .. }
            | Self::Csr { n_cols, .. } => n_cols,
        }
    }

    /// Checks shapes, index ranges and that no value is infinite.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] describing the inconsistency.
    pub fn validate(&self) -> Result<(), BoostError> {
        let bad_inf = || BoostError::InvalidInput("X contains infinity".into());
        match *self {
            Self::DenseF32 {
                data,
                n_rows,
                n_cols,
            } => check_dense(data.len(), n_rows, n_cols, || {
                data.par_iter().any(|v| v.is_infinite())
            })?,
            Self::DenseF64 {
                data,
                n_rows,
                n_cols,
            } => check_dense(data.len(), n_rows, n_cols, || {
                data.par_iter().any(|v| v.is_infinite())
            })?,
            Self::Csr {
                indptr,
                indices,
                data,
                n_cols,
            } => {
                if indptr.is_empty() || indptr[0] != 0 {
                    return Err(BoostError::InvalidInput(
                        "CSR indptr must start at 0".into(),
                    ));
                }
                if indices.len() != data.len()
                    || usize::try_from(*indptr.last().unwrap_or(&0)).ok() != Some(data.len())
                {
                    return Err(BoostError::InvalidInput(
                        "CSR indptr, indices and data disagree".into(),
                    ));
                }
                if indptr.windows(2).any(|w| w[1] < w[0]) {
                    return Err(BoostError::InvalidInput(
                        "CSR indptr must not decrease".into(),
                    ));
                }
                if indices
                    .iter()
                    .any(|&j| j < 0 || usize::try_from(j).unwrap_or(usize::MAX) >= n_cols)
                {
                    return Err(BoostError::InvalidInput(
                        "CSR column index out of range".into(),
                    ));
                }
                if data.iter().any(|v| v.is_infinite()) {
                    return Err(bad_inf());
                }
            }
        }
        Ok(())
    }

    /// Writes row `i` into `out` (length `n_cols`), NaN where missing.
    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn fill_row(&self, i: usize, out: &mut [f32]) {
        match *self {
            Self::DenseF32 { data, n_cols, .. } => {
                out.copy_from_slice(&data[i * n_cols..(i + 1) * n_cols]);
            }
            Self::DenseF64 { data, n_cols, .. } => {
                for (o, &v) in out.iter_mut().zip(&data[i * n_cols..(i + 1) * n_cols]) {
                    *o = v as f32;
                }
            }
            Self::Csr {
                indptr,
                indices,
                data,
                ..
            } => {
                out.fill(f32::NAN);
                let (a, b) = (indptr[i] as usize, indptr[i + 1] as usize);
                for k in a..b {
                    out[indices[k] as usize] = data[k];
                }
            }
        }
    }

    /// A row as a slice without copying, when the matrix is dense `f32`.
    #[inline]
    pub fn row_slice(&self, i: usize) -> Option<&[f32]> {
        match *self {
            Self::DenseF32 { data, n_cols, .. } => Some(&data[i * n_cols..(i + 1) * n_cols]),
            _ => None,
        }
    }

    /// Row `i` as `f32` values: the matrix's own slice when it is dense `f32`, otherwise
    /// written into `buf` (length `n_cols`) by [`MatrixView::fill_row`].
    #[inline]
    pub fn row<'b>(&'b self, i: usize, buf: &'b mut [f32]) -> &'b [f32] {
        match self.row_slice(i) {
            Some(r) => r,
            None => {
                self.fill_row(i, buf);
                buf
            }
        }
    }
}

/// Value `(i, j)` of a dense matrix as `f32` (NaN for sparse input, which has no dense form).
#[inline]
#[allow(clippy::cast_possible_truncation)]
fn dense_value(view: &MatrixView<'_>, i: usize, j: usize) -> f32 {
    match *view {
        MatrixView::DenseF32 { data, n_cols, .. } => data[i * n_cols + j],
        MatrixView::DenseF64 { data, n_cols, .. } => data[i * n_cols + j] as f32,
        MatrixView::Csr { .. } => f32::NAN,
    }
}

/// One present value of a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// Row index.
    pub row: u32,
    /// Value.
    pub value: f32,
}

/// Every column's present values, sorted ascending (XGBoost's "column block").
#[derive(Debug, Clone)]
pub struct SortedColumns {
    /// Start of each column in `entries`; `n_cols + 1` offsets.
    pub offsets: Vec<usize>,
    /// The entries, column after column.
    pub entries: Vec<Entry>,
    /// XGBoost's column density `1 - n_missing / n_rows`, in `f32`.
    pub density: Vec<f32>,
    /// Number of rows.
    pub n_rows: usize,
}

impl SortedColumns {
    /// Builds the sorted columns of a matrix; NaN and absent entries are left out.
    ///
    /// # Errors
    /// [`BoostError::InvalidInput`] when there are more than `u32::MAX` rows.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    pub fn build(view: &MatrixView<'_>) -> Result<Self, BoostError> {
        let n_rows = view.n_rows();
        let n_cols = view.n_cols();
        if u32::try_from(n_rows).is_err() {
            return Err(BoostError::InvalidInput(format!(
                "at most {} rows are supported, got {n_rows}",
                u32::MAX
            )));
        }
        // Count the present values of each column, then fill every column's slice of one
        // buffer in place (no second copy), then sort each slice.
        let counts: Vec<usize> = match *view {
            MatrixView::Csr { indices, data, .. } => {
                let mut counts = vec![0usize; n_cols];
                for (&j, v) in indices.iter().zip(data) {
                    if !v.is_nan() {
                        counts[j as usize] += 1;
                    }
                }
                counts
            }
            _ => (0..n_cols)
                .into_par_iter()
                .map(|j| {
                    (0..n_rows)
                        .filter(|&i| !dense_value(view, i, j).is_nan())
                        .count()
                })
                .collect(),
        };
        let mut offsets = Vec::with_capacity(n_cols + 1);
        offsets.push(0);
        for &c in &counts {
            offsets.push(offsets.last().copied().unwrap_or(0) + c);
        }
        let total = offsets[n_cols];
        let mut entries = try_vec(total, Entry { row: 0, value: 0.0 }, "the presorted columns")?;
        let mut slices: Vec<&mut [Entry]> = Vec::with_capacity(n_cols);
        let mut rest: &mut [Entry] = &mut entries;
        for &c in &counts {
            let (head, tail) = rest.split_at_mut(c);
            slices.push(head);
            rest = tail;
        }
        match *view {
            MatrixView::Csr {
                indptr,
                indices,
                data,
                ..
            } => {
                let mut fill = vec![0usize; n_cols];
                for i in 0..n_rows {
                    for k in indptr[i] as usize..indptr[i + 1] as usize {
                        let v = data[k];
                        if !v.is_nan() {
                            let j = indices[k] as usize;
                            slices[j][fill[j]] = Entry {
                                row: i as u32,
                                value: v,
                            };
                            fill[j] += 1;
                        }
                    }
                }
            }
            _ => slices.par_iter_mut().enumerate().for_each(|(j, col)| {
                let mut k = 0;
                for i in 0..n_rows {
                    let v = dense_value(view, i, j);
                    if !v.is_nan() {
                        col[k] = Entry {
                            row: i as u32,
                            value: v,
                        };
                        k += 1;
                    }
                }
            }),
        }
        slices.par_iter_mut().for_each(|c| {
            c.sort_by(|a, b| a.value.total_cmp(&b.value).then(a.row.cmp(&b.row)));
        });
        drop(slices);
        let density = counts
            .iter()
            .map(|&c| {
                let missing = (n_rows - c) as f32;
                if n_rows == 0 {
                    1.0
                } else {
                    1.0 - missing / n_rows as f32
                }
            })
            .collect();
        Ok(Self {
            offsets,
            entries,
            density,
            n_rows,
        })
    }

    /// The sorted entries of column `j`.
    #[inline]
    pub fn column(&self, j: usize) -> &[Entry] {
        &self.entries[self.offsets[j]..self.offsets[j + 1]]
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.offsets.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_csr_give_the_same_columns_when_missing_matches() {
        let dense = [1.0, f32::NAN, 3.0, 0.5, f32::NAN, 2.0];
        let v = MatrixView::DenseF32 {
            data: &dense,
            n_rows: 3,
            n_cols: 2,
        };
        let cols = SortedColumns::build(&v).unwrap();
        assert_eq!(cols.column(0).len(), 2);
        assert_eq!(cols.column(0)[0].value, 1.0);
        assert_eq!(cols.column(1)[0].value, 0.5);
        let csr = MatrixView::Csr {
            indptr: &[0, 1, 3, 4],
            indices: &[0, 0, 1, 1],
            data: &[1.0, 3.0, 0.5, 2.0],
            n_cols: 2,
        };
        let cols2 = SortedColumns::build(&csr).unwrap();
        assert_eq!(cols.entries, cols2.entries);
        assert_eq!(cols.density, cols2.density);
        let mut row = [0.0; 2];
        csr.fill_row(0, &mut row);
        assert!(row[1].is_nan() && row[0] == 1.0);
    }

    #[test]
    fn bad_csr_is_rejected() {
        let csr = MatrixView::Csr {
            indptr: &[0, 2],
            indices: &[0, 5],
            data: &[1.0, 2.0],
            n_cols: 2,
        };
        assert!(csr.validate().is_err());
    }
}
