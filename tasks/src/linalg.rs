//! Matrix products over flat column-major `f32` slices, through matrixmultiply's sgemm (the
//! kernel nalgebra's gemm uses for large products; nalgebra's own small-product path reads out of
//! bounds on strided views such as a transpose, so it is bypassed).

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

    /// Logical (rows, cols, row stride, column stride).
    fn shape(&self) -> (usize, usize, isize, isize) {
        if self.transposed {
            (self.cols, self.rows, self.rows as isize, 1)
        } else {
            (self.rows, self.cols, 1, self.rows as isize)
        }
    }
}

/// `c <- alpha * a * b + beta * c` where `c` is the column-major `a.rows x b.cols` matrix in `out`.
pub fn gemm(alpha: f32, a: Mat<'_>, b: Mat<'_>, beta: f32, out: &mut [f32]) {
    let (m, k, rsa, csa) = a.shape();
    let (kb, n, rsb, csb) = b.shape();
    assert_eq!(k, kb, "gemm: inner dimensions differ");
    assert_eq!(out.len(), m * n, "gemm: output slice has the wrong length");
    // SAFETY: `Mat::new` checked that each slice holds rows * cols elements, and the strides
    // above address exactly those elements; `out` holds the m x n column-major result.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            rsa,
            csa,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            out.as_mut_ptr(),
            1,
            m as isize,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element (i, j) of the logical matrix stored column-major as `rows x _`, maybe transposed.
    fn at(data: &[f32], rows: usize, transposed: bool, i: usize, j: usize) -> f32 {
        if transposed { data[j + i * rows] } else { data[i + j * rows] }
    }

    /// Checks an `m x k` by `k x n` product for every combination of transposes.
    fn check_product(m: usize, k: usize, n: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (ar, ac) = if ta { (k, m) } else { (m, k) };
            let (br, bc) = if tb { (n, k) } else { (k, n) };
            let am = Mat::new(&a, ar, ac);
            let bm = Mat::new(&b, br, bc);
            let mut out = vec![1.0; m * n];
            gemm(1.0, if ta { am.t() } else { am }, if tb { bm.t() } else { bm }, 0.5, &mut out);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = 0.5
                        + (0..k).map(|l| at(&a, ar, ta, i, l) * at(&b, br, tb, l, j)).sum::<f32>();
                    let got = out[i + j * m];
                    assert!((got - want).abs() < 1e-4, "{got} vs {want} for transposes {ta} {tb}");
                }
            }
        }
    }

    #[test]
    fn matches_naive_product_for_every_transpose() {
        check_product(7, 9, 8);
    }

    #[test]
    fn matches_naive_product_for_small_and_vector_shapes() {
        for (m, k, n) in [(12, 12, 1), (1, 12, 12), (3, 2, 4), (2, 40, 3), (40, 1, 40)] {
            check_product(m, k, n);
        }
    }
}
