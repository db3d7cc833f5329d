//! Criterion benches of the kd-tree, one per query kind: build, k-NN (k = 1 and 10), radius
//! search and pair counting, on 200,000 uniform 3-D points with 20,000 distinct queries; and
//! the exact brute-force k-NN (tree against scan) on 50,000 uniform 16-D points.

use criterion::{criterion_group, criterion_main, Criterion};
use sapwood_neighbors::{BuildParams, KdTree, KnnParams, Minkowski, RadiusOrder, Strategy};
use std::hint::black_box;

const N: usize = 200_000;
const QUERIES: usize = 20_000;
const M: usize = 3;

/// Uniform numbers in [0, 1) from a fixed linear congruential stream.
fn uniform(seed: u64, count: usize) -> Vec<f64> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn params(balanced: bool) -> BuildParams {
    BuildParams {
        balanced,
        ..BuildParams::default()
    }
}

fn build(c: &mut Criterion) {
    let data = uniform(1, N * M);
    let data32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("sliding_midpoint_f64", |b| {
        b.iter(|| KdTree::build(black_box(&data), M, params(false)).unwrap())
    });
    group.bench_function("median_f64", |b| {
        b.iter(|| KdTree::build(black_box(&data), M, params(true)).unwrap())
    });
    group.bench_function("sliding_midpoint_f32", |b| {
        b.iter(|| KdTree::build(black_box(&data32), M, params(false)).unwrap())
    });
    group.finish();
}

fn knn(c: &mut Criterion) {
    let data = uniform(1, N * M);
    let queries = uniform(2, QUERIES * M);
    let tree = KdTree::build(&data, M, params(false)).unwrap();
    let mut group = c.benchmark_group("knn");
    group.sample_size(10);
    for k in [1usize, 10] {
        let mut d = vec![0.0; QUERIES * k];
        let mut i = vec![0usize; QUERIES * k];
        group.bench_function(format!("k{k}"), |b| {
            b.iter(|| {
                tree.knn(black_box(&queries), &KnnParams::new(k), &mut d, &mut i)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn knn_high_dimensional(c: &mut Criterion) {
    const M16: usize = 16;
    const N16: usize = 50_000;
    const Q16: usize = 2_000;
    let data = uniform(3, N16 * M16);
    let queries = uniform(4, Q16 * M16);
    let tree = KdTree::build(&data, M16, params(true)).unwrap();
    let mut group = c.benchmark_group("knn_16d");
    group.sample_size(10);
    for (name, strategy) in [("tree", Strategy::Tree), ("brute", Strategy::Brute)] {
        let k = 10;
        let mut d = vec![0.0; Q16 * k];
        let mut i = vec![0usize; Q16 * k];
        let kp = KnnParams {
            strategy,
            ..KnnParams::new(k)
        };
        group.bench_function(format!("k{k}_{name}"), |b| {
            b.iter(|| tree.knn(black_box(&queries), &kp, &mut d, &mut i).unwrap())
        });
    }
    group.finish();
}

fn radius(c: &mut Criterion) {
    let data = uniform(1, N * M);
    let queries = uniform(2, QUERIES * M);
    let tree = KdTree::build(&data, M, params(false)).unwrap();
    let mut group = c.benchmark_group("radius");
    group.sample_size(10);
    group.bench_function("r0.02_with_distances", |b| {
        b.iter(|| {
            tree.within(
                black_box(&queries),
                &[0.02],
                Minkowski::L2,
                0.0,
                true,
                RadiusOrder::Unsorted,
            )
            .unwrap()
        })
    });
    group.finish();
}

fn count(c: &mut Criterion) {
    let data = uniform(1, N * M);
    let queries = uniform(2, QUERIES * M);
    let tree = KdTree::build(&data, M, params(false)).unwrap();
    let radii = [0.01, 0.02, 0.05, 0.1];
    let mut group = c.benchmark_group("count");
    group.sample_size(10);
    group.bench_function("four_radii", |b| {
        b.iter(|| {
            tree.count_within(black_box(&queries), None, None, &radii, Minkowski::L2)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, build, knn, knn_high_dimensional, radius, count);
criterion_main!(benches);
