//! Bindings of `sapwood-boost`.

use pyo3::prelude::*;
use sapwood_boost::TreeParams;

use crate::error::SapwoodResult;

/// validate_tree_params(learning_rate, max_depth, max_leaves, min_child_weight, gamma, reg_lambda, reg_alpha, max_delta_step, subsample, colsample_bytree, colsample_bylevel, colsample_bynode, max_bin)
/// --
///
/// Checks tree parameters against the engine's valid ranges; raises ``ValueError`` naming the
/// first one out of range.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn validate_tree_params(
    learning_rate: f64,
    max_depth: u32,
    max_leaves: u32,
    min_child_weight: f64,
    gamma: f64,
    reg_lambda: f64,
    reg_alpha: f64,
    max_delta_step: f64,
    subsample: f64,
    colsample_bytree: f64,
    colsample_bylevel: f64,
    colsample_bynode: f64,
    max_bin: u32,
) -> SapwoodResult<()> {
    let params = TreeParams {
        learning_rate,
        max_depth,
        max_leaves,
        min_child_weight,
        gamma,
        reg_lambda,
        reg_alpha,
        max_delta_step,
        subsample,
        colsample_bytree,
        colsample_bylevel,
        colsample_bynode,
        max_bin,
    };
    params.validate()?;
    Ok(())
}
