//! Whether a run's particles fit in memory: the bytes the estimator will hold, estimated from one
//! inner run and checked against what the machine has available before anything is allocated.

/// Bytes the machine can still give a process (`MemAvailable` in /proc/meminfo), where known.
pub fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Bytes held by `particles` particles, each with `state_floats` floats of inner state and
/// three vectors of `theta_dim` floats (perturbation, perturbed theta, PES accumulator).
pub fn particle_bytes(particles: usize, state_floats: usize, theta_dim: usize) -> u64 {
    let floats = (state_floats as u64).saturating_add(3 * theta_dim as u64);
    (particles as u64).saturating_mul(floats).saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particle_bytes_count_state_and_theta_vectors_without_overflow() {
        assert_eq!(particle_bytes(4, 100, 10), 4 * 130 * 4);
        assert_eq!(particle_bytes(usize::MAX, usize::MAX, 1), u64::MAX);
        assert!(available_bytes().is_none_or(|b| b > 0));
    }
}
