//! Elementary functions written so that loops over slices of them vectorise.

/// e^x to about 2 ulp for x in [-87, 88] (clamped outside; NaN stays NaN), branch-free so that
/// it vectorises: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by the Cephes `expf` polynomial, 2^n
/// from the bits.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding and subtracting it rounds to integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let er = (p * r + 0.5) * r * r + r + 1.0;
    // The low bits of `shifted` hold ROUND's bits plus n, so 2^n comes without a float-to-int
    // conversion (which would not vectorise).
    er * f32::from_bits((shifted.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127)) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_to_a_few_ulp() {
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            let (got, want) = (exp(x), x.exp());
            assert!(((got - want) / want).abs() < 4.0 * f32::EPSILON, "exp({x}) = {got} vs {want}");
        }
        assert!(exp(1e30).is_finite() && exp(-1e30) >= 0.0 && exp(f32::NAN).is_nan());
    }
}
