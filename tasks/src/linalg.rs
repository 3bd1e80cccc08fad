//! Matrix products over flat column-major `f32` slices, allocation-free.
//!
//! `gemm` packs an `MR x KC` panel of `alpha * op(A)` and a `KC x NR` panel of `op(B)` into
//! fixed-size stack arrays (zero-padded at the edges), so one register-blocked micro-kernel serves
//! every transpose and stride, and nothing touches the heap. The kernel runs over constant bounds
//! and is compiled once per instruction set; the widest one the CPU supports (`Simd::detect`) is
//! picked at runtime. The summation order depends only on the shapes and the instruction set,
//! so a product is bit-identical on one machine whatever thread runs it.
//!
//! Tile sizes are the fastest measured with `cargo bench -p pesto-tasks --bench gemm` on the
//! products of the benchmark task (batch 128, widths 64, 32, 10).

use crate::simd::{Isa, Simd};

/// A column-major `rows x cols` matrix stored in a slice, used as is or transposed.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// The `rows x cols` column-major matrix stored in `data`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix slice has the wrong length");
        Self { data, rows, cols, transposed: false }
    }

    /// The transpose of this matrix, without copying.
    pub fn t(self) -> Self {
        Self { transposed: !self.transposed, ..self }
    }

    /// The logical matrix as a strided view.
    fn view(&self) -> View<'a> {
        if self.transposed {
            View { data: self.data, rows: self.cols, cols: self.rows, rs: self.rows, cs: 1 }
        } else {
            View { data: self.data, rows: self.rows, cols: self.cols, rs: 1, cs: self.rows }
        }
    }
}

/// A logical `rows x cols` matrix whose element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl View<'_> {
    /// The transpose, without copying.
    fn t(self) -> Self {
        View { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
}

/// Packs `scale` times the `rows x dst.len()` block of `src` at (r0, c0) into `dst`, one array
/// per column, zero-padding each array after `rows`.
#[inline(always)]
fn pack<const W: usize>(
    src: View<'_>,
    r0: usize,
    rows: usize,
    c0: usize,
    dst: &mut [[f32; W]],
    scale: f32,
) {
    if rows < W {
        dst.iter_mut().for_each(|d| d[rows..].fill(0.0));
    }
    if src.rs == 1 {
        for (c, d) in dst.iter_mut().enumerate() {
            let column = &src.data[(c0 + c) * src.cs + r0..][..rows];
            d.iter_mut().zip(column).for_each(|(d, s)| *d = scale * s);
        }
    } else {
        let cols = dst.len();
        for r in 0..rows {
            let row = src.data[(r0 + r) * src.rs + c0 * src.cs..].iter().step_by(src.cs);
            dst.iter_mut().zip(row.take(cols)).for_each(|(d, s)| d[r] = scale * s);
        }
    }
}

/// Depth of the packed panels: the inner dimension is summed in chunks of at most KC.
const KC: usize = 128;

/// `c <- alpha * a * b + beta * c` where `c` is the column-major `a.rows x b.cols` matrix in `out`.
/// With `beta == 0` the old contents of `out` are ignored (even NaN), as in BLAS.
pub fn gemm(alpha: f32, a: Mat<'_>, b: Mat<'_>, beta: f32, out: &mut [f32]) {
    let (a, b) = (a.view(), b.view());
    assert_eq!(a.cols, b.rows, "gemm: inner dimensions differ");
    assert_eq!(out.len(), a.rows * b.cols, "gemm: output slice has the wrong length");
    if beta == 0.0 {
        out.fill(0.0);
    } else if beta != 1.0 {
        out.iter_mut().for_each(|c| *c *= beta);
    }
    if out.is_empty() || a.cols == 0 {
        return;
    }
    match Simd::detect().isa() {
        Isa::Portable => product::<Quad, 8, 2, 4>(alpha, a, b, out),
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { product_avx2(alpha, a, b, out) },
        // SAFETY: a `Simd` token of this isa exists only on a CPU with avx512f, avx2 and fma.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { product_avx512(alpha, a, b, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn product_avx512(alpha: f32, a: View<'_>, b: View<'_>, out: &mut [f32]) {
    if a.rows <= 16 {
        product::<x86::Avx512, 16, 1, 12>(alpha, a, b, out);
    } else {
        product::<x86::Avx512, 32, 2, 8>(alpha, a, b, out);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn product_avx2(alpha: f32, a: View<'_>, b: View<'_>, out: &mut [f32]) {
    if a.rows <= 8 {
        product::<x86::Avx2, 8, 1, 8>(alpha, a, b, out);
    } else {
        product::<x86::Avx2, 16, 2, 6>(alpha, a, b, out);
    }
}

/// `out += alpha * a * b` in `MR x NR` tiles of the output, where a tile column is `MV`
/// registers of `V` (so `MR = MV * V::LANES`).
#[inline(always)]
fn product<V: Vector, const MR: usize, const MV: usize, const NR: usize>(
    alpha: f32,
    a: View<'_>,
    b: View<'_>,
    out: &mut [f32],
) {
    const { assert!(MR == MV * V::LANES) };
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut a_panel = [[0.0f32; MR]; KC];
    let mut b_panel = [[0.0f32; NR]; KC];
    for i0 in (0..m).step_by(MR) {
        let rows = MR.min(m - i0);
        for l0 in (0..k).step_by(KC) {
            let depth = KC.min(k - l0);
            pack(a, i0, rows, l0, &mut a_panel[..depth], alpha);
            for j0 in (0..n).step_by(NR) {
                let cols = NR.min(n - j0);
                pack(b.t(), j0, cols, l0, &mut b_panel[..depth], 1.0);
                let tile = tile::<V, MR, MV, NR>(&a_panel[..depth], &b_panel[..depth]);
                for (j, acc) in tile.iter().enumerate().take(cols) {
                    let col = &mut out[(j0 + j) * m + i0..][..rows];
                    match <&mut [f32; MR]>::try_from(&mut *col) {
                        Ok(full) => (0..MR).for_each(|i| full[i] += acc[i]),
                        Err(_) => col.iter_mut().zip(acc).for_each(|(c, t)| *c += t),
                    }
                }
            }
        }
    }
}

/// The `MR x NR` product of a packed `MR x depth` panel and a packed `depth x NR` panel, with
/// the accumulators in registers: one column of A times one row of B per step.
#[inline(always)]
fn tile<V: Vector, const MR: usize, const MV: usize, const NR: usize>(
    a_panel: &[[f32; MR]],
    b_panel: &[[f32; NR]],
) -> [[f32; MR]; NR] {
    let mut acc = [[V::zero(); MV]; NR];
    for (a, b) in a_panel.iter().zip(b_panel) {
        let a: [V; MV] = std::array::from_fn(|v| V::load(&a[v * V::LANES..]));
        for (acc, &b) in acc.iter_mut().zip(b) {
            let b = V::splat(b);
            for (acc, &a) in acc.iter_mut().zip(&a) {
                *acc = acc.mul_add(a, b);
            }
        }
    }
    let mut tile = [[0.0f32; MR]; NR];
    for (col, acc) in tile.iter_mut().zip(&acc) {
        for (v, acc) in acc.iter().enumerate() {
            acc.store(&mut col[v * V::LANES..]);
        }
    }
    tile
}

/// A vector register of `f32` lanes, as the micro-kernel uses it.
trait Vector: Copy {
    /// Number of lanes.
    const LANES: usize;
    /// All lanes zero.
    fn zero() -> Self;
    /// All lanes `x`.
    fn splat(x: f32) -> Self;
    /// The first `LANES` values of `src`.
    fn load(src: &[f32]) -> Self;
    /// `self + a * b`, lane by lane.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Writes the lanes to the front of `dst`.
    fn store(self, dst: &mut [f32]);
}

/// Four lanes in plain arrays, for targets without a dedicated kernel.
#[derive(Clone, Copy)]
struct Quad([f32; 4]);

impl Vector for Quad {
    const LANES: usize = 4;

    fn zero() -> Self {
        Quad([0.0; 4])
    }

    fn splat(x: f32) -> Self {
        Quad([x; 4])
    }

    fn load(src: &[f32]) -> Self {
        Quad(src[..4].try_into().expect("four lanes"))
    }

    fn mul_add(self, a: Self, b: Self) -> Self {
        Quad(std::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
    }

    fn store(self, dst: &mut [f32]) {
        dst[..4].copy_from_slice(&self.0);
    }
}

/// AVX2 and AVX-512 registers. Their methods are inlined into `product_avx2`/`product_avx512`
/// only, which run only on CPUs with those features.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// Eight lanes of AVX2 with FMA.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(__m256);

    /// Sixteen lanes of AVX-512F.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512(__m512);

    // SAFETY (every `unsafe` block below): the methods are `inline(always)` and called only from
    // `product_avx2` (Avx2) or `product_avx512` (Avx512), which `gemm` calls only under a
    // `Simd` token of that isa, so the CPU has the features; loads and stores first slice
    // exactly LANES elements.
    impl Vector for Avx2 {
        const LANES: usize = 8;

        #[inline(always)]
        fn zero() -> Self {
            Avx2(unsafe { _mm256_setzero_ps() })
        }

        #[inline(always)]
        fn splat(x: f32) -> Self {
            Avx2(unsafe { _mm256_set1_ps(x) })
        }

        #[inline(always)]
        fn load(src: &[f32]) -> Self {
            Avx2(unsafe { _mm256_loadu_ps(src[..8].as_ptr()) })
        }

        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            Avx2(unsafe { _mm256_fmadd_ps(a.0, b.0, self.0) })
        }

        #[inline(always)]
        fn store(self, dst: &mut [f32]) {
            unsafe { _mm256_storeu_ps(dst[..8].as_mut_ptr(), self.0) }
        }
    }

    impl Vector for Avx512 {
        const LANES: usize = 16;

        #[inline(always)]
        fn zero() -> Self {
            Avx512(unsafe { _mm512_setzero_ps() })
        }

        #[inline(always)]
        fn splat(x: f32) -> Self {
            Avx512(unsafe { _mm512_set1_ps(x) })
        }

        #[inline(always)]
        fn load(src: &[f32]) -> Self {
            Avx512(unsafe { _mm512_loadu_ps(src[..16].as_ptr()) })
        }

        #[inline(always)]
        fn mul_add(self, a: Self, b: Self) -> Self {
            Avx512(unsafe { _mm512_fmadd_ps(a.0, b.0, self.0) })
        }

        #[inline(always)]
        fn store(self, dst: &mut [f32]) {
            unsafe { _mm512_storeu_ps(dst[..16].as_mut_ptr(), self.0) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc_count::allocations;

    /// Element (i, j) of the logical matrix stored column-major as `rows x _`, maybe transposed.
    fn at(data: &[f32], rows: usize, transposed: bool, i: usize, j: usize) -> f32 {
        if transposed { data[j + i * rows] } else { data[i + j * rows] }
    }

    /// Checks `0.5 * op(A) op(B) + beta * C` for an `m x k` by `k x n` product against a naive
    /// f64 sum, for every combination of transposes, with a tolerance of a few f32 roundings
    /// of the sum of absolute terms.
    fn check_product(m: usize, k: usize, n: usize, beta: f32) {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (ar, ac) = if ta { (k, m) } else { (m, k) };
            let (br, bc) = if tb { (n, k) } else { (k, n) };
            let am = Mat::new(&a, ar, ac);
            let bm = Mat::new(&b, br, bc);
            let init = if beta == 0.0 { f32::NAN } else { 1.0 };
            let mut out = vec![init; m * n];
            gemm(0.5, if ta { am.t() } else { am }, if tb { bm.t() } else { bm }, beta, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let terms = (0..k).map(|l| {
                        0.5 * f64::from(at(&a, ar, ta, i, l)) * f64::from(at(&b, br, tb, l, j))
                    });
                    let (sum, abs) = terms.fold((0.0, 0.0), |(s, a), t| (s + t, a + t.abs()));
                    let want = sum + if beta == 0.0 { 0.0 } else { f64::from(beta) };
                    let tol = 4.0 * f64::from(f32::EPSILON) * (abs + 1.0) * (k as f64).sqrt();
                    let got = f64::from(out[i + j * m]);
                    assert!(
                        (got - want).abs() <= tol,
                        "{m}x{k}x{n} transposes {ta} {tb}: ({i}, {j}) is {got}, want {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn matches_naive_product_for_every_transpose_over_a_grid_of_shapes() {
        let dims = [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 64];
        for &m in &dims {
            for &k in &dims {
                for &n in &dims {
                    check_product(m, k, n, 0.0);
                }
            }
        }
    }

    #[test]
    fn matches_naive_product_for_vectors_large_shapes_and_any_beta() {
        for (m, k, n) in [(12, 12, 1), (1, 12, 12), (1, 300, 1), (40, 1, 40), (300, 257, 3)] {
            check_product(m, k, n, 0.0);
        }
        for (m, k, n) in [(32, 64, 128), (10, 130, 32), (70, 10, 129), (4, 5, 3)] {
            check_product(m, k, n, 1.0);
            check_product(m, k, n, -0.25);
        }
    }

    #[test]
    fn empty_inner_dimension_scales_the_output() {
        let mut out = vec![2.0; 6];
        gemm(1.0, Mat::new(&[], 2, 0), Mat::new(&[], 0, 3), 0.5, &mut out);
        assert_eq!(out, vec![1.0; 6]);
    }

    #[test]
    fn a_product_allocates_nothing() {
        let a = vec![0.5; 300 * 200];
        let b = vec![0.25; 200 * 150];
        let mut out = vec![0.0; 300 * 150];
        let before = allocations();
        gemm(1.0, Mat::new(&a, 300, 200), Mat::new(&b, 200, 150), 0.0, &mut out);
        gemm(1.0, Mat::new(&a, 200, 300).t(), Mat::new(&b, 150, 200).t(), 1.0, &mut out);
        assert_eq!(allocations(), before);
        assert_eq!(out[0], 2.0 * 200.0 * 0.125);
    }
}
