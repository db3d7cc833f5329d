//! The tree against brute force, on random, duplicated, gridded and periodic data.

use proptest::prelude::*;

use crate::{BuildParams, KdTree, KnnParams, Minkowski, RadiusOrder, Strategy};

fn dist(a: &[f64], b: &[f64], p: f64, boxsize: Option<&[f64]>) -> f64 {
    let diffs = a.iter().zip(b).enumerate().map(|(k, (x, y))| {
        let d = (x - y).abs();
        match boxsize {
            Some(bs) if bs[k] > 0.0 => d.min(bs[k] - d),
            _ => d,
        }
    });
    if p.is_infinite() {
        diffs.fold(0.0, f64::max)
    } else {
        diffs.map(|d| d.powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

fn brute_knn(data: &[f64], m: usize, q: &[f64], k: usize, p: f64) -> Vec<(f64, usize)> {
    let mut all: Vec<(f64, usize)> = data
        .chunks_exact(m)
        .enumerate()
        .map(|(i, row)| (dist(row, q, p, None), i))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.truncate(k);
    all
}

/// A small deterministic generator, so the tests need no extra dependency.
fn lcg(seed: u64, count: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..count)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn params(leafsize: usize, balanced: bool) -> BuildParams {
    BuildParams {
        leafsize,
        balanced,
        ..BuildParams::default()
    }
}

fn knn_all(tree: &KdTree<f64>, q: &[f64], kp: &KnnParams) -> (Vec<f64>, Vec<usize>) {
    let nq = q.len() / tree.m();
    let mut d = vec![0.0; nq * kp.k];
    let mut i = vec![0; nq * kp.k];
    tree.knn(q, kp, &mut d, &mut i).unwrap();
    (d, i)
}

#[test]
fn knn_matches_brute_force_for_every_p() {
    let m = 3;
    let data = lcg(1, 500 * m);
    let queries = lcg(2, 40 * m);
    for balanced in [false, true] {
        let tree = KdTree::build(&data, m, params(4, balanced)).unwrap();
        for p in [1.0, 1.5, 2.0, 3.0, f64::INFINITY] {
            for k in [1, 2, 7] {
                let kp = KnnParams {
                    p: Minkowski::new(p).unwrap(),
                    ..KnnParams::new(k)
                };
                let (d, i) = knn_all(&tree, &queries, &kp);
                for (j, q) in queries.chunks_exact(m).enumerate() {
                    let want = brute_knn(&data, m, q, k, p);
                    for c in 0..k {
                        assert_eq!(i[j * k + c], want[c].1, "p={p} k={k} query {j}");
                        assert!((d[j * k + c] - want[c].0).abs() <= 1e-12 * (1.0 + want[c].0));
                    }
                }
            }
        }
    }
}

#[test]
fn brute_and_tree_give_identical_answers() {
    let m = 12;
    let data = lcg(3, 3000 * m);
    let queries = lcg(4, 300 * m);
    let tree = KdTree::build(&data, m, params(16, true)).unwrap();
    let tree_answer = knn_all(
        &tree,
        &queries,
        &KnnParams {
            strategy: Strategy::Tree,
            ..KnnParams::new(5)
        },
    );
    let brute_answer = knn_all(
        &tree,
        &queries,
        &KnnParams {
            strategy: Strategy::Brute,
            ..KnnParams::new(5)
        },
    );
    let auto_answer = knn_all(&tree, &queries, &KnnParams::new(5));
    assert_eq!(tree_answer, brute_answer);
    assert_eq!(tree_answer, auto_answer);
}

#[test]
fn queries_in_morton_order_come_back_in_the_callers_order() {
    let m = 3;
    let data = lcg(11, 40_000 * m);
    let queries = lcg(12, 5_000 * m);
    let tree = KdTree::build(&data, m, params(8, false)).unwrap();
    let kp = KnnParams::new(3);
    let (d, i) = knn_all(&tree, &queries, &kp);
    // Few queries are answered in the given order; the answers must agree row by row.
    for start in [0, 1234, 4990] {
        let part = &queries[start * m..(start + 10) * m];
        let (d2, i2) = knn_all(&tree, part, &kp);
        assert_eq!(&i[start * 3..(start + 10) * 3], i2.as_slice());
        assert_eq!(&d[start * 3..(start + 10) * 3], d2.as_slice());
    }
}

#[test]
fn missing_neighbours_are_infinite_with_index_n() {
    let data = [0.0, 0.0, 1.0, 1.0];
    let tree = KdTree::build(&data, 2, params(1, false)).unwrap();
    let kp = KnnParams {
        distance_upper_bound: 1.2,
        ..KnnParams::new(3)
    };
    let (d, i) = knn_all(&tree, &[0.1, 0.0], &kp);
    assert_eq!(i, vec![0, 2, 2]);
    assert!((d[0] - 0.1).abs() < 1e-15);
    assert!(d[1].is_infinite() && d[2].is_infinite());
}

#[test]
fn duplicates_share_a_leaf_and_ties_go_to_the_smaller_index() {
    let data = vec![0.5; 10_000 * 2];
    for balanced in [false, true] {
        let tree = KdTree::build(&data, 2, params(1, balanced)).unwrap();
        assert_eq!(tree.node_count(), 1);
        let (d, i) = knn_all(&tree, &[0.0, 0.5], &KnnParams::new(3));
        assert_eq!(i, vec![0, 1, 2]);
        assert_eq!(d, vec![0.5; 3]);
    }
}

#[test]
fn float32_tree_stays_within_one_and_a_half_times_the_data() {
    let data: Vec<f32> = lcg(7, 200_000 * 3).into_iter().map(|v| v as f32).collect();
    for balanced in [false, true] {
        let tree = KdTree::build(&data, 3, params(16, balanced)).unwrap();
        let ratio = tree.memory_bytes() as f64 / size_of_val(data.as_slice()) as f64;
        assert!(
            ratio <= 1.5,
            "balanced={balanced}: tree is {ratio:.3}x the data"
        );
    }
}

#[test]
fn node_ranges_cover_every_point_in_pre_order() {
    let data = lcg(11, 5000 * 2);
    for balanced in [false, true] {
        let tree = KdTree::build(&data, 2, params(4, balanced)).unwrap();
        let ranges = tree.node_ranges();
        assert_eq!(ranges.len(), tree.node_count());
        assert_eq!(ranges[0], (0, 5000));
        // Leaves (ranges not split further) tile 0..n in order.
        let mut next = 0;
        for (j, &(s, e)) in ranges.iter().enumerate() {
            let is_leaf = ranges.get(j + 1).is_none_or(|&(s2, _)| s2 >= e || s2 != s);
            if is_leaf {
                assert_eq!(s, next);
                assert!(e > s && e - s <= 4);
                next = e;
            }
        }
        assert_eq!(next, 5000);
    }
}

#[test]
fn geometric_spacing_keeps_the_tree_shallow() {
    // Sliding midpoint alone would peel off one point per level here.
    let data: Vec<f64> = (0..5000)
        .map(|i| 0.5f64.powi(i % 1000) + f64::from(i / 1000))
        .collect();
    let tree = KdTree::build(&data, 1, params(1, false)).unwrap();
    assert!(tree.depth() < 200, "depth {}", tree.depth());
    let (_, i) = knn_all(&tree, &[2.0], &KnnParams::new(1));
    assert_eq!(i, vec![1000]);
}

#[test]
fn radius_and_counts_agree_with_brute_force() {
    let m = 2;
    // A grid puts many points exactly on the radius.
    let data: Vec<f64> = (0..400)
        .flat_map(|i| [f64::from(i % 20), f64::from(i / 20)])
        .collect();
    let tree = KdTree::build(&data, m, params(3, false)).unwrap();
    let queries: Vec<f64> = vec![5.0, 5.0, 0.0, 0.0, 19.0, 7.5];
    for p in [1.0, 2.0, f64::INFINITY] {
        let radii = [0.0, 1.0, 2.0, 5.0];
        for &r in &radii {
            let got = tree
                .within(
                    &queries,
                    &[r],
                    Minkowski::new(p).unwrap(),
                    0.0,
                    true,
                    RadiusOrder::ByIndex,
                )
                .unwrap();
            for (j, q) in queries.chunks_exact(m).enumerate() {
                let want: Vec<usize> = data
                    .chunks_exact(m)
                    .enumerate()
                    .filter(|(_, x)| dist(x, q, p, None) <= r)
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(
                    &got.indices[got.offsets[j]..got.offsets[j + 1]],
                    want.as_slice()
                );
            }
        }
        let counts = tree
            .count_within(&queries, None, None, &radii, Minkowski::new(p).unwrap())
            .unwrap();
        for (c, &r) in counts.iter().zip(&radii) {
            let want = queries
                .chunks_exact(m)
                .map(|q| {
                    data.chunks_exact(m)
                        .filter(|x| dist(x, q, p, None) <= r)
                        .count()
                })
                .sum::<usize>();
            assert_eq!(*c as usize, want);
        }
    }
}

#[test]
fn periodic_box_uses_the_minimum_image() {
    let m = 2;
    let data = lcg(7, 300 * m);
    let boxsize = [1.0, 0.0];
    let tree = KdTree::build(
        &data,
        m,
        BuildParams {
            boxsize: Some(boxsize.to_vec()),
            leafsize: 4,
            ..BuildParams::default()
        },
    )
    .unwrap();
    let queries = [0.99, 0.5, 0.01, 0.02, 1.7, 0.3, -0.2, 0.9];
    let (d, i) = knn_all(&tree, &queries, &KnnParams::new(4));
    for (j, q) in queries.chunks_exact(m).enumerate() {
        let mut want: Vec<(f64, usize)> = data
            .chunks_exact(m)
            .enumerate()
            .map(|(i, x)| {
                (
                    dist(x, &[q[0].rem_euclid(1.0), q[1]], 2.0, Some(&boxsize)),
                    i,
                )
            })
            .collect();
        want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for c in 0..4 {
            assert_eq!(i[j * 4 + c], want[c].1);
            assert!((d[j * 4 + c] - want[c].0).abs() < 1e-12);
        }
    }
    let bad = KdTree::build(
        &[1.0, 0.0],
        2,
        BuildParams {
            boxsize: Some(vec![1.0]),
            ..BuildParams::default()
        },
    );
    assert!(bad.is_err());
}

#[test]
fn float32_stays_float32() {
    let data: Vec<f32> = lcg(9, 200 * 3).into_iter().map(|v| v as f32).collect();
    let tree = KdTree::<f32>::build(&data, 3, BuildParams::default()).unwrap();
    let mut d = vec![0f32; 2];
    let mut i = vec![0usize; 2];
    tree.knn(&data[..3], &KnnParams::new(2), &mut d, &mut i)
        .unwrap();
    assert_eq!(i[0], 0);
    assert_eq!(d[0], 0.0);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(KdTree::build(&[f64::NAN, 0.0], 2, BuildParams::default()).is_err());
    assert!(KdTree::build(&[0.0, 1.0, 2.0], 2, BuildParams::default()).is_err());
    assert!(KdTree::build(&[0.0], 1, params(0, false)).is_err());
    let tree = KdTree::build(&[0.0, 1.0], 1, BuildParams::default()).unwrap();
    let mut d = vec![0.0; 1];
    let mut i = vec![0; 1];
    assert!(tree
        .knn(&[f64::INFINITY], &KnnParams::new(1), &mut d, &mut i)
        .is_err());
    assert!(tree
        .knn(&[0.0], &KnnParams::new(0), &mut d, &mut i)
        .is_err());
    assert!(Minkowski::new(0.5).is_err());
    assert!(Minkowski::new(f64::NAN).is_err());
}

#[test]
fn empty_tree_answers_nothing() {
    let tree = KdTree::<f64>::build(&[], 3, BuildParams::default()).unwrap();
    let (d, i) = knn_all(&tree, &[0.0, 0.0, 0.0], &KnnParams::new(2));
    assert_eq!(i, vec![0, 0]);
    assert!(d.iter().all(|v| v.is_infinite()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn knn_equals_brute_force(
        n in 1usize..300,
        m in 1usize..6,
        k in 1usize..12,
        leafsize in 1usize..20,
        balanced in any::<bool>(),
        grid in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut data = lcg(seed, n * m);
        if grid {
            for v in &mut data {
                *v = (*v * 4.0).floor();
            }
        }
        let queries = lcg(seed ^ 0xabcdef, 10 * m);
        let tree = KdTree::build(&data, m, params(leafsize, balanced)).unwrap();
        let (d, i) = knn_all(&tree, &queries, &KnnParams::new(k));
        for (j, q) in queries.chunks_exact(m).enumerate() {
            let want = brute_knn(&data, m, q, k, 2.0);
            for c in 0..k {
                if c < want.len() {
                    prop_assert_eq!(i[j * k + c], want[c].1);
                    prop_assert!((d[j * k + c] - want[c].0).abs() <= 1e-12);
                } else {
                    prop_assert_eq!(i[j * k + c], n);
                    prop_assert!(d[j * k + c].is_infinite());
                }
            }
        }
    }
}

/// Brute force (through the inner-product pre-filter for Euclidean distances) and the tree
/// agree exactly, also where the pre-filter's rounding matters most: points far from the
/// origin with a tiny spread, many duplicates, a distance bound, and k above n.
fn brute_matches_tree<F: crate::Float>(data: &[F], m: usize, queries: &[F]) {
    let tree = KdTree::build(data, m, params(8, true)).unwrap();
    let n = data.len() / m;
    for p in [Minkowski::L2, Minkowski::L1] {
        for (k, bound) in [
            (1, f64::INFINITY),
            (7, f64::INFINITY),
            (n + 3, f64::INFINITY),
            (4, 1e-3),
        ] {
            let answer = |strategy| {
                let kp = KnnParams {
                    k,
                    p,
                    distance_upper_bound: bound,
                    strategy,
                    ..KnnParams::new(k)
                };
                let nq = queries.len() / m;
                let mut d = vec![F::ZERO; nq * k];
                let mut i = vec![0; nq * k];
                tree.knn(queries, &kp, &mut d, &mut i).unwrap();
                (d.iter().map(|v| v.to_f64()).collect::<Vec<_>>(), i)
            };
            assert_eq!(
                answer(Strategy::Tree),
                answer(Strategy::Brute),
                "k={k} p={p:?}"
            );
        }
    }
}

#[test]
fn brute_force_is_exact_on_offset_duplicated_and_float32_data() {
    let m = 10;
    let base = lcg(21, 1500 * m);
    let q = lcg(22, 200 * m);
    // Plain, far from the origin with a tiny spread, and with every point repeated.
    brute_matches_tree(&base, m, &q);
    let far = |v: &[f64], s: f64| v.iter().map(|x| 1e6 + x * s).collect::<Vec<_>>();
    brute_matches_tree(&far(&base, 1e-4), m, &far(&q, 1e-4));
    let mut dup = base[..500 * m].to_vec();
    dup.extend_from_within(..);
    dup.extend_from_within(..);
    brute_matches_tree(&dup, m, &q);
    let f32s = |v: &[f64], s: f64, o: f64| v.iter().map(|x| (o + x * s) as f32).collect::<Vec<_>>();
    brute_matches_tree(&f32s(&base, 1.0, 0.0), m, &f32s(&q, 1.0, 0.0));
    brute_matches_tree(&f32s(&base, 1e-2, 1e3), m, &f32s(&q, 1e-2, 1e3));
    // Wide rows: 70 axes leave a tail that is not a whole register tile.
    let wide = lcg(23, 700 * 70);
    brute_matches_tree(&wide, 70, &lcg(24, 50 * 70));
}
