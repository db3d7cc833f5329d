//! Per-phase timers of a fit, for profiling from the outside in one command.
//!
//! Set `SAPWOOD_PROFILE=1` in the environment (read once, at the first timed phase) and each
//! phase of tree growth adds its elapsed time to a process-wide counter; [`report`] reads the
//! counters and [`reset`] clears them. Phases that run on several threads at once add each
//! thread's time, so the totals are thread-seconds, comparable between phases and runs but
//! not with the wall-clock time of a fit. Off (the default), a phase costs one relaxed load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// A phase of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Quantile sketch and binning (once for `hist`, per tree for `approx`), and the exact
    /// finder's presorted columns.
    Setup,
    /// Gradient histograms built from rows (the sibling's subtraction included).
    Histogram,
    /// The rows of a tree's root and their sums, and each split's partition of its rows.
    Partition,
    /// Split search: scans of summed histograms (or, for `exact`, of presorted columns).
    Evaluate,
}

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Phase; 4] = [
        Phase::Setup,
        Phase::Histogram,
        Phase::Partition,
        Phase::Evaluate,
    ];

    /// The phase's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Histogram => "histogram",
            Phase::Partition => "partition",
            Phase::Evaluate => "evaluate",
        }
    }
}

static NANOS: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

/// Whether timers are on (`SAPWOOD_PROFILE` set to anything but empty or `0`).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("SAPWOOD_PROFILE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Runs `work`, adding its elapsed time to `phase` when timers are on.
#[inline]
pub fn time<T>(phase: Phase, work: impl FnOnce() -> T) -> T {
    if !enabled() {
        return work();
    }
    let start = Instant::now();
    let out = work();
    add(phase, start.elapsed());
    out
}

/// Adds `elapsed` to `phase` (for phases timed across a loop rather than around a call).
pub fn add(phase: Phase, elapsed: std::time::Duration) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    NANOS[phase as usize].fetch_add(nanos, Ordering::Relaxed);
}

/// The seconds (summed over threads) spent in each phase since the last [`reset`].
pub fn report() -> Vec<(&'static str, f64)> {
    Phase::ALL
        .iter()
        .map(|&p| {
            #[allow(clippy::cast_precision_loss)]
            let secs = NANOS[p as usize].load(Ordering::Relaxed) as f64 * 1e-9;
            (p.name(), secs)
        })
        .collect()
}

/// Sets every phase's time back to zero.
pub fn reset() {
    for n in &NANOS {
        n.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_named_in_report_order() {
        let names: Vec<&str> = report().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["setup", "histogram", "partition", "evaluate"]);
        assert_eq!(time(Phase::Evaluate, || 7), 7);
    }
}
