//! Split enumeration of the exact finder: one depth-6 tree on a 100 000 x 28 dense problem
//! (the whole level-wise scan, partition and routing), and the presort it starts from.

use criterion::{criterion_group, criterion_main, Criterion};
use sapwood_benches::lcg_values;
use sapwood_boost::exact::{ExactGrower, ExactWorkspace};
use sapwood_boost::sampling::ColumnSampler;
use sapwood_boost::{MatrixView, SortedColumns, SplitParams, TreeParams};

fn bench_split(c: &mut Criterion) {
    let (n_rows, n_cols) = (100_000, 28);
    let x = lcg_values(n_rows * n_cols, 1);
    let gpair: Vec<(f32, f32)> = (0..n_rows)
        .map(|i| {
            let r = &x[i * n_cols..(i + 1) * n_cols];
            let g = r[0] * r[1] + r[2] - 0.5 * r[3] * r[3];
            (g, 0.25)
        })
        .collect();
    let view = MatrixView::DenseF32 {
        data: &x,
        n_rows,
        n_cols,
    };
    let tp = TreeParams::default();
    let params = SplitParams::from_tree_params(&tp, None);
    let active = vec![true; n_rows];
    let cols = SortedColumns::build(&view).expect("valid data");

    let mut group = c.benchmark_group("exact");
    group.sample_size(10);
    group.bench_function("presort_100k_x28", |b| {
        b.iter(|| SortedColumns::build(&view).expect("valid data"));
    });
    let mut workspace = ExactWorkspace::default();
    group.bench_function("grow_tree_depth6_100k_x28", |b| {
        b.iter(|| {
            let mut sampler = ColumnSampler::new(n_cols, &tp, 0);
            let grower = ExactGrower {
                cols: &cols,
                rows: &view,
                params: &params,
                max_depth: 6,
                constraints: &sapwood_boost::constraints::Constraints::default(),
            };
            grower.grow(&gpair, &active, &mut sampler, &mut workspace)
        });
    });
    group.finish();
}

criterion_group!(benches, bench_split);
criterion_main!(benches);
