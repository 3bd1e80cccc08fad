//! Matrix products over flat column-major `f32` slices, through nalgebra's gemm
//! (which hands dynamic `f32` products to matrixmultiply's sgemm).

use nalgebra::{DMatrixViewMut, Dyn, MatrixView};

type StridedView<'a> = MatrixView<'a, f32, Dyn, Dyn, Dyn, Dyn>;

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

    fn view(&self) -> StridedView<'a> {
        let (rows, cols, rstride, cstride) = if self.transposed {
            (self.cols, self.rows, self.rows, 1)
        } else {
            (self.rows, self.cols, 1, self.rows)
        };
        StridedView::from_slice_with_strides_generic(
            self.data,
            Dyn(rows),
            Dyn(cols),
            Dyn(rstride),
            Dyn(cstride),
        )
    }
}

/// `c <- alpha * a * b + beta * c` where `c` is the column-major `a.rows x b.cols` matrix in `out`.
pub fn gemm(alpha: f32, a: Mat<'_>, b: Mat<'_>, beta: f32, out: &mut [f32]) {
    let (a, b) = (a.view(), b.view());
    let mut c = DMatrixViewMut::from_slice(out, a.nrows(), b.ncols());
    c.gemm(alpha, &a, &b, beta);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element (i, j) of the logical matrix stored column-major as `rows x _`, maybe transposed.
    fn at(data: &[f32], rows: usize, transposed: bool, i: usize, j: usize) -> f32 {
        if transposed { data[j + i * rows] } else { data[i + j * rows] }
    }

    #[test]
    fn matches_naive_product_for_every_transpose() {
        let a: Vec<f32> = (0..7 * 9).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..9 * 8).map(|i| (i as f32 * 0.11).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (ar, ac) = if ta { (9, 7) } else { (7, 9) };
            let (br, bc) = if tb { (8, 9) } else { (9, 8) };
            let am = Mat::new(&a, ar, ac);
            let bm = Mat::new(&b, br, bc);
            let mut out = vec![0.0; 7 * 8];
            gemm(1.0, if ta { am.t() } else { am }, if tb { bm.t() } else { bm }, 0.0, &mut out);
            for i in 0..7 {
                for j in 0..8 {
                    let want: f32 =
                        (0..9).map(|l| at(&a, ar, ta, i, l) * at(&b, br, tb, l, j)).sum();
                    let got = out[i + j * 7];
                    assert!((got - want).abs() < 1e-4, "{got} vs {want} for transposes {ta} {tb}");
                }
            }
        }
    }
}
