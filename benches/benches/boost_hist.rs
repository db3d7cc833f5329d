//! The histogram method's hot loops on a 250 000 x 28 dense problem at 256 bins: building a
//! histogram over every row, over rows close together (every other one) and over scattered
//! rows (one in 64), and growing one depth-8 tree.

use criterion::{criterion_group, criterion_main, Criterion};
use sapwood_benches::lcg_values;
use sapwood_boost::hist::{
    BinnedMatrix, GrowPolicy, HistGrower, Histogram, QuantileCuts, TreeShape,
};
use sapwood_boost::sampling::ColumnSampler;
use sapwood_boost::{SplitParams, TreeParams};

#[allow(clippy::cast_possible_truncation)]
fn bench_hist(c: &mut Criterion) {
    let (n_rows, n_cols) = (250_000, 28);
    let x = lcg_values(n_rows * n_cols, 7);
    let gpair: Vec<(f32, f32)> = (0..n_rows)
        .map(|i| {
            let r = &x[i * n_cols..(i + 1) * n_cols];
            (r[0] * r[1] + r[2] - 0.5 * r[3] * r[3], 0.25)
        })
        .collect();
    let cuts = QuantileCuts::from_dense(&x, n_rows, n_cols, None, 256).expect("valid data");
    let matrix = BinnedMatrix::from_dense(&x, n_rows, n_cols, &cuts).expect("valid data");
    let every_other: Vec<u32> = (0..n_rows as u32).step_by(2).collect();
    let scattered: Vec<u32> = (0..n_rows as u32).step_by(64).collect();

    let mut group = c.benchmark_group("hist");
    group.sample_size(10);
    group.bench_function("histogram_all_250k_x28", |b| {
        b.iter(|| Histogram::build_all(&matrix, &cuts, &gpair));
    });
    group.bench_function("histogram_every_other_row", |b| {
        b.iter(|| Histogram::build(&matrix, &cuts, &every_other, &gpair));
    });
    group.bench_function("histogram_one_row_in_64", |b| {
        b.iter(|| Histogram::build(&matrix, &cuts, &scattered, &gpair));
    });
    let tp = TreeParams::default();
    let params = SplitParams::from_tree_params(&tp, None);
    let shape = TreeShape {
        max_depth: 8,
        max_leaves: 0,
        policy: GrowPolicy::Depthwise,
    };
    let grower = HistGrower::new(&matrix, &cuts, &params, shape);
    let active = vec![true; n_rows];
    group.bench_function("grow_tree_depth8_250k_x28", |b| {
        b.iter(|| {
            let mut sampler = ColumnSampler::new(n_cols, &tp, 0);
            grower.grow(&gpair, &active, &mut sampler)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_hist);
criterion_main!(benches);
