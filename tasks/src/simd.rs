//! CPU-feature detection for every hand-vectorised kernel: the gemm of `linalg` and the learned
//! optimizers' updates in pesto-meta. Detection returns a `Simd` token, which nothing else can
//! create, and each dispatcher picks the code compiled for the token's instruction set; so a
//! kernel compiled for an instruction set can only run on a CPU that has it.

/// An instruction set a kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Whatever the build target allows, without fused multiply-add.
    Portable,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512F with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Proof that this CPU runs an instruction set: only `detect` and `available` create one, so a
/// dispatcher may run the code compiled for `isa()` without checking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Simd {
    isa: Isa,
}

impl Simd {
    /// The widest instruction set this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("fma") && is_x86_feature_detected!("avx2") {
                if is_x86_feature_detected!("avx512f") {
                    return Simd { isa: Isa::Avx512 };
                }
                return Simd { isa: Isa::Avx2 };
            }
        }
        Simd { isa: Isa::Portable }
    }

    /// Every instruction set this CPU runs, narrowest first: those up to the detected one,
    /// since each needs the features of the ones before it.
    pub fn available() -> Vec<Self> {
        let widest = Self::detect().isa;
        let upto = WIDENING.iter().position(|&isa| isa == widest).expect("every isa is listed");
        WIDENING[..=upto].iter().map(|&isa| Simd { isa }).collect()
    }

    /// The instruction set this token vouches for.
    pub fn isa(self) -> Isa {
        self.isa
    }
}

/// Every instruction set, narrowest first.
const WIDENING: &[Isa] = &[
    Isa::Portable,
    #[cfg(target_arch = "x86_64")]
    Isa::Avx2,
    #[cfg(target_arch = "x86_64")]
    Isa::Avx512,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_picks_the_widest_available_and_always_offers_portable() {
        let available = Simd::available();
        assert_eq!(available[0].isa(), Isa::Portable);
        assert_eq!(Some(&Simd::detect()), available.last());
    }
}
