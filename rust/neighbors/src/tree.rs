//! The kd-tree: points copied once into leaf order, compact nodes in pre-order.

use rayon::prelude::*;
use sapwood_mem::{try_to_vec, try_with_capacity};

use crate::error::NeighborsError;
use crate::float::Float;

/// Flag bits of [`Node::axis`]: the lower (upper) child is a leaf.
const LOWER_LEAF: u32 = 1 << 31;
const UPPER_LEAF: u32 = 1 << 30;
/// The split axis occupies the bits below the flags.
const AXIS_MASK: u32 = UPPER_LEAF - 1;

/// Nodes at least this large split at the median of a sample of their keys.
const SAMPLED_MEDIAN_MIN: usize = 4096;
/// Keys sampled to estimate a median.
const MEDIAN_SAMPLE: usize = 255;

/// Below this many points a subtree is built on the current thread.
const PARALLEL_BUILD_MIN: usize = 1 << 15;

/// One inner node of the tree: 12 bytes plus two coordinates.
///
/// Only inner nodes are stored, in pre-order; a leaf is the range of leaf-order positions its
/// parent assigns to it, so the tree costs one node per leaf rather than two. The lower child
/// of node `i` (when inner) is `i + 1`, the upper child (when inner) is `i + upper`. The node
/// covers `[start, end)`, which its parent knows; the lower child covers `[start, mid)` and
/// the upper child `[mid, end)`. `lower_max` is the largest coordinate along the split axis in
/// the lower child and `upper_min` the smallest in the upper child, so the gap between them
/// bounds far-child distances tightly.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<F> {
    pub lower_max: F,
    pub upper_min: F,
    pub mid: u32,
    pub upper: u32,
    /// Split axis, with the [`LOWER_LEAF`] and [`UPPER_LEAF`] flags.
    pub axis: u32,
}

impl<F> Node<F> {
    /// The split axis.
    #[inline(always)]
    pub fn dim(&self) -> usize {
        (self.axis & AXIS_MASK) as usize
    }
}

/// A subtree: an inner node or a leaf, and the leaf-order positions it covers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sub {
    /// Index of the inner node (unused for a leaf).
    pub node: usize,
    pub start: usize,
    pub end: usize,
    pub leaf: bool,
}

/// How to build a tree.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildParams {
    /// The largest number of points in a leaf (scipy's default is 16). Points that are all
    /// identical stay in one leaf whatever their number.
    pub leafsize: usize,
    /// Split at the median (balanced, slower build) instead of the sliding midpoint. Nodes of
    /// 4096 points or more split at the median of 255 evenly spaced keys, and fall back to the
    /// exact median when that leaves either side with less than a quarter of the points.
    pub balanced: bool,
    /// Choose each split from the tight bounding box of the node's points (instead of the
    /// cell inherited from the parent).
    pub compact: bool,
    /// Period of each axis (`0` = not periodic); `None` for an open space.
    pub boxsize: Option<Vec<f64>>,
}

impl Default for BuildParams {
    fn default() -> Self {
        Self {
            leafsize: 16,
            balanced: false,
            compact: true,
            boxsize: None,
        }
    }
}

/// An immutable kd-tree over `n` points of `m` coordinates.
#[derive(Clone, Debug)]
pub struct KdTree<F: Float> {
    pub(crate) n: usize,
    pub(crate) m: usize,
    pub(crate) leafsize: usize,
    pub(crate) params: BuildParams,
    /// Coordinates in leaf order, row-major `n × m`.
    pub(crate) points: Vec<F>,
    /// The caller's row index of each point in leaf order.
    pub(crate) indices: Vec<u32>,
    pub(crate) nodes: Vec<Node<F>>,
    pub(crate) mins: Vec<F>,
    pub(crate) maxes: Vec<F>,
    /// Per-axis period and half period, both empty for an open space.
    pub(crate) boxsize: Vec<F>,
    pub(crate) half_box: Vec<F>,
}

struct Builder {
    leafsize: usize,
    balanced: bool,
    compact: bool,
    depth_limit: usize,
}

impl<F: Float> KdTree<F> {
    /// Builds a tree over row-major `data` with `m` columns.
    ///
    /// # Errors
    /// `InvalidParameter` for `leafsize < 1`, `m == 0` or a bad `boxsize`; `InvalidInput` for
    /// a length that is not a multiple of `m`, non-finite coordinates, data outside a periodic
    /// box, or more than 2³² − 2 points.
    pub fn build(data: &[F], m: usize, params: BuildParams) -> Result<Self, NeighborsError> {
        if params.leafsize < 1 {
            return Err(NeighborsError::InvalidParameter(format!(
                "leafsize must be >= 1, got {}",
                params.leafsize
            )));
        }
        if m == 0 {
            return Err(NeighborsError::InvalidInput(
                "data must have at least one column".into(),
            ));
        }
        if m > AXIS_MASK as usize {
            return Err(NeighborsError::InvalidInput(format!(
                "a tree holds at most {AXIS_MASK} columns, got {m}"
            )));
        }
        if !data.len().is_multiple_of(m) {
            return Err(NeighborsError::InvalidInput(format!(
                "data has {} values, not a multiple of its {m} columns",
                data.len()
            )));
        }
        let n = data.len() / m;
        if n >= u32::MAX as usize {
            return Err(NeighborsError::InvalidInput(format!(
                "a tree holds at most {} points, got {n}",
                u32::MAX - 1
            )));
        }
        if data.par_iter().any(|v| !v.is_finite()) {
            return Err(NeighborsError::InvalidInput(
                "data must be finite, check for nan or inf values".into(),
            ));
        }
        let (boxsize, half_box) = match &params.boxsize {
            None => (Vec::new(), Vec::new()),
            Some(b) => {
                let b = check_boxsize(b, m)?;
                for row in data.chunks_exact(m) {
                    for (k, (&x, &l)) in row.iter().zip(&b).enumerate() {
                        if l > 0.0 && x.to_f64() < 0.0 {
                            return Err(NeighborsError::InvalidInput(format!(
                                "negative input data are outside of the periodic box (axis {k})"
                            )));
                        }
                        if l > 0.0 && x.to_f64() >= l {
                            return Err(NeighborsError::InvalidInput(format!(
                                "some input data are greater than the size of the periodic box (axis {k})"
                            )));
                        }
                    }
                }
                let size: Vec<F> = b.iter().map(|&v| F::from_f64(v)).collect();
                let half = b.iter().map(|&v| F::from_f64(0.5 * v)).collect();
                (size, half)
            }
        };
        let (mins, maxes) = bounding_box(data, m, n);
        let mut idx: Vec<u32> = try_with_capacity(n, "the tree's point indices")?;
        idx.extend(0..n as u32);
        // The build partitions a copy of the rows in place: at the end they are in leaf order.
        let mut points = try_to_vec(data, "the tree's copy of the points")?;
        let nodes = if n == 0 {
            Vec::new()
        } else {
            let levels = (usize::BITS - (n / params.leafsize + 1).leading_zeros()) as usize;
            let builder = Builder {
                leafsize: params.leafsize,
                balanced: params.balanced,
                compact: params.compact,
                depth_limit: 2 * levels + 16,
            };
            let mut lo = mins.clone();
            let mut hi = maxes.clone();
            let mut nodes = try_with_capacity(2 * n / params.leafsize + 1, "the tree's nodes")?;
            let whole = SubtreeRows {
                rows: Rows {
                    pts: &mut points,
                    ids: &mut idx,
                    m,
                },
                start: 0,
                depth: 0,
                tight: Some((mins.clone(), maxes.clone())),
            };
            builder.build(whole, &mut lo, &mut hi, &mut nodes);
            nodes.shrink_to_fit();
            nodes
        };
        // The build's recursion allocates as it goes; stop if that drew on the reserve.
        sapwood_mem::checkpoint("the kd-tree")?;
        Ok(Self {
            n,
            m,
            leafsize: params.leafsize,
            params,
            points,
            indices: idx,
            nodes,
            mins,
            maxes,
            boxsize,
            half_box,
        })
    }

    /// Number of points.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of coordinates per point.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The leaf size the tree was built with.
    pub fn leafsize(&self) -> usize {
        self.leafsize
    }

    /// The parameters the tree was built with.
    pub fn params(&self) -> &BuildParams {
        &self.params
    }

    /// Number of nodes, leaves included (a tree of `i` inner nodes has `i + 1` leaves).
    pub fn node_count(&self) -> usize {
        if self.n == 0 {
            0
        } else {
            2 * self.nodes.len() + 1
        }
    }

    /// The whole tree as a subtree, `None` when it holds no points.
    #[inline(always)]
    pub(crate) fn root(&self) -> Option<Sub> {
        (self.n > 0).then_some(Sub {
            node: 0,
            start: 0,
            end: self.n,
            leaf: self.nodes.is_empty(),
        })
    }

    /// The lower and upper children of an inner subtree.
    #[inline(always)]
    pub(crate) fn children(&self, sub: Sub) -> (Sub, Sub) {
        let nd = &self.nodes[sub.node];
        let mid = nd.mid as usize;
        (
            Sub {
                node: sub.node + 1,
                start: sub.start,
                end: mid,
                leaf: nd.axis & LOWER_LEAF != 0,
            },
            Sub {
                node: sub.node + nd.upper as usize,
                start: mid,
                end: sub.end,
                leaf: nd.axis & UPPER_LEAF != 0,
            },
        )
    }

    /// Smallest coordinate along each axis.
    pub fn mins(&self) -> &[F] {
        &self.mins
    }

    /// Largest coordinate along each axis.
    pub fn maxes(&self) -> &[F] {
        &self.maxes
    }

    /// The caller's row index of each stored point, in leaf order.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Period of each axis (`0` = open) or `None` for an open space.
    pub fn boxsize(&self) -> Option<Vec<F>> {
        (!self.boxsize.is_empty()).then(|| self.boxsize.clone())
    }

    /// The points back in the caller's row order.
    pub fn data_in_input_order(&self) -> Vec<F> {
        let m = self.m;
        let mut out = vec![F::ZERO; self.n * m];
        for (pos, &i) in self.indices.iter().enumerate() {
            let i = i as usize;
            out[i * m..(i + 1) * m].copy_from_slice(&self.points[pos * m..(pos + 1) * m]);
        }
        out
    }

    /// Bytes held by the tree (points, indices, nodes, bounds).
    pub fn memory_bytes(&self) -> usize {
        size_of_val(self.points.as_slice())
            + size_of_val(self.indices.as_slice())
            + size_of_val(self.nodes.as_slice())
            + size_of::<F>() * 4 * self.m
    }

    /// The `[start, end)` range of leaf-order positions of every node, leaves included, in
    /// pre-order (a node, then its lower subtree, then its upper subtree).
    pub fn node_ranges(&self) -> Vec<(usize, usize)> {
        fn walk<F: Float>(tree: &KdTree<F>, sub: Sub, out: &mut Vec<(usize, usize)>) {
            out.push((sub.start, sub.end));
            if !sub.leaf {
                let (lower, upper) = tree.children(sub);
                walk(tree, lower, out);
                walk(tree, upper, out);
            }
        }
        let mut out = Vec::with_capacity(self.node_count());
        if let Some(root) = self.root() {
            walk(self, root, &mut out);
        }
        out
    }

    /// Depth of the deepest leaf (the root is depth 0).
    pub fn depth(&self) -> usize {
        fn walk<F: Float>(tree: &KdTree<F>, sub: Sub) -> usize {
            if sub.leaf {
                0
            } else {
                let (lower, upper) = tree.children(sub);
                1 + walk(tree, lower).max(walk(tree, upper))
            }
        }
        self.root().map_or(0, |root| walk(self, root))
    }

    /// Wraps a query row into the periodic box (no-op for an open space).
    pub(crate) fn wrap(&self, q: &[F], out: &mut [F]) {
        out.copy_from_slice(q);
        for (k, &l) in self.boxsize.iter().enumerate() {
            if l > F::ZERO {
                let mut v = out[k] - (out[k] / l).floor() * l;
                if v >= l || v < F::ZERO {
                    v = F::ZERO;
                }
                out[k] = v;
            }
        }
    }
}

fn check_boxsize(b: &[f64], m: usize) -> Result<Vec<f64>, NeighborsError> {
    let b = if b.len() == 1 {
        vec![b[0]; m]
    } else {
        b.to_vec()
    };
    if b.len() != m {
        return Err(NeighborsError::InvalidParameter(format!(
            "boxsize has {} entries but the data has {m} columns",
            b.len()
        )));
    }
    if b.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(NeighborsError::InvalidParameter(
            "boxsize must be finite and >= 0 (0 marks an axis that is not periodic)".into(),
        ));
    }
    Ok(b)
}

fn bounding_box<F: Float>(data: &[F], m: usize, n: usize) -> (Vec<F>, Vec<F>) {
    if n == 0 {
        return (vec![F::ZERO; m], vec![F::ZERO; m]);
    }
    let init = || (vec![F::INFINITY; m], vec![F::ZERO - F::INFINITY; m]);
    data.par_chunks(m * 4096)
        .map(|block| {
            let (mut lo, mut hi) = init();
            for row in block.chunks_exact(m) {
                for k in 0..m {
                    lo[k] = lo[k].min(row[k]);
                    hi[k] = hi[k].max(row[k]);
                }
            }
            (lo, hi)
        })
        .reduce(init, |(mut lo, mut hi), (l2, h2)| {
            for k in 0..m {
                lo[k] = lo[k].min(l2[k]);
                hi[k] = hi[k].max(h2[k]);
            }
            (lo, hi)
        })
}

/// The lowest and highest coordinate along each axis.
type BoxPair<F> = (Vec<F>, Vec<F>);

fn empty_box<F: Float>(m: usize) -> BoxPair<F> {
    (vec![F::INFINITY; m], vec![F::ZERO - F::INFINITY; m])
}

/// Widens the box `lo`, `hi` to hold one (finite) row.
#[inline(always)]
fn grow<F: Float>(lo: &mut [F], hi: &mut [F], row: &[F]) {
    for ((lo, hi), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
        if v < *lo {
            *lo = v;
        }
        if v > *hi {
            *hi = v;
        }
    }
}

/// A block of rows (coordinates and input indices) that moves together.
struct Rows<'a, F> {
    pts: &'a mut [F],
    ids: &'a mut [u32],
    m: usize,
}

impl<'a, F: Float> Rows<'a, F> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.ids.len()
    }

    #[inline(always)]
    fn key(&self, i: usize, k: usize) -> F {
        self.pts[i * self.m + k]
    }

    #[inline(always)]
    fn swap(&mut self, a: usize, b: usize) {
        if a != b {
            let m = self.m;
            for d in 0..m {
                self.pts.swap(a * m + d, b * m + d);
            }
            self.ids.swap(a, b);
        }
    }

    fn split_at(self, mid: usize) -> (Rows<'a, F>, Rows<'a, F>) {
        let m = self.m;
        let (p1, p2) = self.pts.split_at_mut(mid * m);
        let (i1, i2) = self.ids.split_at_mut(mid);
        (
            Rows {
                pts: p1,
                ids: i1,
                m,
            },
            Rows {
                pts: p2,
                ids: i2,
                m,
            },
        )
    }

    fn tight_box(&self) -> BoxPair<F> {
        self.range_box(0, self.len())
    }

    /// The key of rank `len / 2` along axis `k`, selected among a copy of the keys.
    fn key_median(&self, k: usize) -> F {
        let len = self.len();
        let mut keys: Vec<F> = (0..len).map(|i| self.key(i, k)).collect();
        *keys.select_nth_unstable_by(len / 2, F::total_cmp).1
    }

    /// Three-way partition of `[lo, hi)` around `pivot` along axis `k`: returns `(lt, gt)`
    /// with keys `< pivot` in `[lo, lt)`, `== pivot` in `[lt, gt)`, `> pivot` in `[gt, hi)`.
    fn partition3(&mut self, lo: usize, hi: usize, k: usize, pivot: F) -> (usize, usize) {
        let (mut lt, mut i, mut gt) = (lo, lo, hi);
        while i < gt {
            let v = self.key(i, k);
            if v < pivot {
                self.swap(lt, i);
                lt += 1;
                i += 1;
            } else if v > pivot {
                gt -= 1;
                self.swap(i, gt);
            } else {
                i += 1;
            }
        }
        (lt, gt)
    }

    /// Puts the row of rank `nth` along axis `k` at `nth`, smaller keys before, larger after
    /// (quickselect with a median-of-three pivot and three-way partitions, so duplicates and
    /// sorted input stay linear; a sort takes over if the pivots keep failing).
    fn select(&mut self, nth: usize, k: usize) {
        let (mut lo, mut hi) = (0, self.len());
        let mut budget = 2 * (usize::BITS - self.len().leading_zeros()) as usize + 8;
        while hi - lo > 8 {
            if budget == 0 {
                self.sort_range(lo, hi, k);
                return;
            }
            budget -= 1;
            let mid = lo + (hi - lo) / 2;
            let (a, b, c) = (self.key(lo, k), self.key(mid, k), self.key(hi - 1, k));
            let pivot = if (a <= b) == (b <= c) {
                b
            } else if (b <= a) == (a <= c) {
                a
            } else {
                c
            };
            let (lt, gt) = self.partition3(lo, hi, k, pivot);
            if nth < lt {
                hi = lt;
            } else if nth >= gt {
                lo = gt;
            } else {
                return;
            }
        }
        self.sort_range(lo, hi, k);
    }

    /// Sorts rows `[lo, hi)` by axis `k`.
    fn sort_range(&mut self, lo: usize, hi: usize, k: usize) {
        let m = self.m;
        let mut order: Vec<usize> = (lo..hi).collect();
        order.sort_unstable_by(|&a, &b| self.key(a, k).total_cmp(&self.key(b, k)));
        let pts: Vec<F> = order
            .iter()
            .flat_map(|&r| self.pts[r * m..(r + 1) * m].iter().copied())
            .collect();
        let ids: Vec<u32> = order.iter().map(|&r| self.ids[r]).collect();
        self.pts[lo * m..hi * m].copy_from_slice(&pts);
        self.ids[lo..hi].copy_from_slice(&ids);
    }

    /// Rows with key `< cut` along `k` first; returns how many, and the tight boxes of the two
    /// sides.
    fn partition_below(&mut self, k: usize, cut: F) -> (usize, BoxPair<F>, BoxPair<F>) {
        let c = match self.m {
            2 => self.lomuto::<2>(k, cut),
            3 => self.lomuto::<3>(k, cut),
            4 => self.lomuto::<4>(k, cut),
            _ => self.hoare(k, cut),
        };
        let (lower, upper) = (self.range_box(0, c), self.range_box(c, self.len()));
        (c, lower, upper)
    }

    /// Lomuto's partition without a branch per row, for rows of `D` coordinates: the row at
    /// `i` is swapped with the first row not below `cut` whatever its key (a swap of two
    /// such rows keeps the invariant), and the boundary moves when the key is below.
    fn lomuto<const D: usize>(&mut self, k: usize, cut: F) -> usize {
        let pts = &mut self.pts[..];
        let ids = &mut self.ids[..];
        let mut j = 0;
        for i in 0..ids.len() {
            let mut a = [F::ZERO; D];
            let mut b = [F::ZERO; D];
            a.copy_from_slice(&pts[i * D..(i + 1) * D]);
            b.copy_from_slice(&pts[j * D..(j + 1) * D]);
            pts[j * D..(j + 1) * D].copy_from_slice(&a);
            pts[i * D..(i + 1) * D].copy_from_slice(&b);
            ids.swap(i, j);
            j += usize::from(a[k] < cut);
        }
        j
    }

    /// Hoare's two-pointer partition, for rows of any width.
    fn hoare(&mut self, k: usize, cut: F) -> usize {
        let (mut a, mut b) = (0usize, self.len());
        loop {
            while a < b && self.key(a, k) < cut {
                a += 1;
            }
            while a < b && self.key(b - 1, k) >= cut {
                b -= 1;
            }
            if a >= b {
                break;
            }
            self.swap(a, b - 1);
            a += 1;
            b -= 1;
        }
        a
    }

    /// The tight box of rows `[lo, hi)`.
    fn range_box(&self, lo: usize, hi: usize) -> BoxPair<F> {
        match self.m {
            2 => self.range_box_of::<2>(lo, hi),
            3 => self.range_box_of::<3>(lo, hi),
            4 => self.range_box_of::<4>(lo, hi),
            m => {
                let (mut low, mut high) = empty_box(m);
                for row in self.pts[lo * m..hi * m].chunks_exact(m) {
                    grow(&mut low, &mut high, row);
                }
                (low, high)
            }
        }
    }

    /// [`Self::range_box`] for rows of `D` coordinates, the box held in registers.
    fn range_box_of<const D: usize>(&self, lo: usize, hi: usize) -> BoxPair<F> {
        let (mut low, mut high) = ([F::INFINITY; D], [F::ZERO - F::INFINITY; D]);
        for row in self.pts[lo * D..hi * D].chunks_exact(D) {
            grow(&mut low, &mut high, row);
        }
        (low.to_vec(), high.to_vec())
    }
}

/// The rows of one subtree still to be built: where they start in leaf order, how deep the
/// subtree sits, and the rows' tight box when the parent's partition already measured it.
struct SubtreeRows<'a, F> {
    rows: Rows<'a, F>,
    start: usize,
    depth: usize,
    tight: Option<BoxPair<F>>,
}

impl Builder {
    fn widest<F: Float>(lo: &[F], hi: &[F]) -> (usize, F) {
        let mut best = (0, F::ZERO - F::INFINITY);
        for (k, (&a, &b)) in lo.iter().zip(hi).enumerate() {
            let spread = b - a;
            if spread > best.1 {
                best = (k, spread);
            }
        }
        best
    }

    /// Builds the subtree over `sub.rows` inside the cell `[lo, hi]`; appends its inner nodes
    /// in pre-order and returns whether the subtree is a single leaf (no node appended).
    fn build<F: Float>(
        &self,
        sub: SubtreeRows<'_, F>,
        lo: &mut [F],
        hi: &mut [F],
        out: &mut Vec<Node<F>>,
    ) -> bool {
        let SubtreeRows {
            mut rows,
            start,
            depth,
            tight,
        } = sub;
        let len = rows.len();
        if len <= self.leafsize {
            return true;
        }
        let (tight_lo, tight_hi) = tight.unwrap_or_else(|| rows.tight_box());
        let (tight_k, tight_spread) = Self::widest(&tight_lo, &tight_hi);
        if tight_spread <= F::ZERO {
            // Every point is identical: no split can separate them.
            return true;
        }
        let mut k = if self.compact {
            tight_k
        } else {
            Self::widest(lo, hi).0
        };
        if tight_hi[k] - tight_lo[k] <= F::ZERO {
            k = tight_k;
        }
        let mut cut = 0;
        let mut boxes: Option<(BoxPair<F>, BoxPair<F>)> = None;
        if !self.balanced && depth < self.depth_limit {
            let (a, b) = if self.compact {
                (tight_lo[k], tight_hi[k])
            } else {
                (lo[k], hi[k])
            };
            let (c, lower_box, upper_box) = rows.partition_below(k, a + (b - a) * F::from_f64(0.5));
            cut = c;
            boxes = Some((lower_box, upper_box));
        } else if self.balanced {
            // A large node takes the median of an evenly spaced sample of its keys and must
            // split within its middle half; a smaller one the exact median among a copy of its
            // keys (cheaper than moving whole rows around) and must split exactly at `len / 2`.
            // Either way one partition pass also yields both children's boxes, and an exact
            // selection takes over when the split misses (many ties, or an unlucky sample).
            let sampled = len >= SAMPLED_MEDIAN_MIN;
            let pivot = if sampled {
                let step = len / MEDIAN_SAMPLE;
                let mut keys: Vec<F> = (0..MEDIAN_SAMPLE)
                    .map(|i| rows.key(i * step + step / 2, k))
                    .collect();
                keys.sort_unstable_by(F::total_cmp);
                keys[MEDIAN_SAMPLE / 2]
            } else {
                rows.key_median(k)
            };
            let (c, lower_box, upper_box) = rows.partition_below(k, pivot);
            let balanced = if sampled {
                c >= len / 4 && c <= len - len / 4
            } else {
                c == len / 2
            };
            if balanced {
                cut = c;
                boxes = Some((lower_box, upper_box));
            }
        }
        if cut == 0 || cut == len {
            cut = len / 2;
            rows.select(cut, k);
            boxes = None;
        }
        let (lower, upper) = rows.split_at(cut);
        let (lower_box, upper_box) = match boxes {
            Some(pair) => pair,
            None => (lower.tight_box(), upper.tight_box()),
        };
        let (lower_max, upper_min) = (lower_box.1[k], upper_box.0[k]);
        let lower = SubtreeRows {
            rows: lower,
            start,
            depth: depth + 1,
            tight: Some(lower_box),
        };
        let upper = SubtreeRows {
            rows: upper,
            start: start + cut,
            depth: depth + 1,
            tight: Some(upper_box),
        };

        let me = out.len();
        out.push(Node {
            lower_max,
            upper_min,
            mid: (start + cut) as u32,
            upper: 0,
            axis: k as u32,
        });
        let (saved_lo, saved_hi) = (lo[k], hi[k]);
        if len >= PARALLEL_BUILD_MIN {
            let mut lo2 = lo.to_vec();
            let mut hi2 = hi.to_vec();
            hi[k] = lower_max;
            lo2[k] = upper_min;
            let ((left, lower_leaf), (right, upper_leaf)) = rayon::join(
                || {
                    let mut nodes = Vec::new();
                    let leaf = self.build(lower, lo, hi, &mut nodes);
                    (nodes, leaf)
                },
                || {
                    let mut nodes = Vec::new();
                    let leaf = self.build(upper, &mut lo2, &mut hi2, &mut nodes);
                    (nodes, leaf)
                },
            );
            out[me].upper = (1 + left.len()) as u32;
            out[me].axis |= leaf_flags(lower_leaf, upper_leaf);
            out.extend(left);
            out.extend(right);
        } else {
            hi[k] = lower_max;
            let lower_leaf = self.build(lower, lo, hi, out);
            out[me].upper = (out.len() - me) as u32;
            hi[k] = saved_hi;
            lo[k] = upper_min;
            let upper_leaf = self.build(upper, lo, hi, out);
            out[me].axis |= leaf_flags(lower_leaf, upper_leaf);
        }
        lo[k] = saved_lo;
        hi[k] = saved_hi;
        false
    }
}

/// The leaf flags of a node whose children are (or are not) leaves.
fn leaf_flags(lower_leaf: bool, upper_leaf: bool) -> u32 {
    (if lower_leaf { LOWER_LEAF } else { 0 }) | (if upper_leaf { UPPER_LEAF } else { 0 })
}
