//! Deterministic bucketing, identical to GrowthBook's SDKs.
//!
//! `bucket(seed, id)` is GrowthBook's hash version 2: FNV-1a (32 bit) over the UTF-16 code
//! units of `seed + id`, then FNV-1a again over the decimal digits of that number, modulo
//! 10,000, divided by 10,000. A visitor therefore lands in the same variant here as in any
//! GrowthBook SDK given the same experiment seed and id, and never moves while the seed and
//! the weights stay the same. Variant ranges and namespaces follow GrowthBook's
//! `getBucketRanges`, `chooseVariation` and `inNamespace`.

const FNV_OFFSET: u32 = 0x811c_9dc5;

/// One FNV-1a (32 bit) step per UTF-16 code unit (what JavaScript's `charCodeAt` walks).
fn fnv_extend(hash: u32, text: &str) -> u32 {
    text.encode_utf16().fold(hash, |hash, unit| {
        (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193)
    })
}

/// FNV-1a, 32 bit, over UTF-16 code units.
pub fn fnv1a32(text: &str) -> u32 {
    fnv_extend(FNV_OFFSET, text)
}

/// GrowthBook's hash version 2: a number in [0, 1) with four decimals.
pub fn bucket(seed: &str, id: &str) -> f64 {
    let first = fnv_extend(fnv1a32(seed), id);
    // The second pass hashes the first result's decimal digits.
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = first;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let second = digits[start..].iter().fold(FNV_OFFSET, |hash, &d| {
        (hash ^ u32::from(d)).wrapping_mul(0x0100_0193)
    });
    f64::from(second % 10_000) / 10_000.0
}

/// GrowthBook's hash version 1, which namespaces still use.
pub fn bucket_v1(seed: &str, id: &str) -> f64 {
    f64::from(fnv1a32(&format!("{id}{seed}")) % 1_000) / 1_000.0
}

/// The [start, end) range of each variant: weights (which sum to 1) laid end to end, each
/// shortened to `coverage` of its width.
pub fn bucket_ranges(weights: &[f64], coverage: f64) -> Vec<(f64, f64)> {
    let coverage = coverage.clamp(0.0, 1.0);
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|weight| {
            let start = cumulative;
            cumulative += weight;
            (start, start + coverage * weight)
        })
        .collect()
}

/// The variant whose range holds `n`, if any.
pub fn choose_variant(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges
        .iter()
        .position(|&(start, end)| n >= start && n < end)
}

/// Whether `id` falls in the `[start, end)` share of namespace `name`.
pub fn in_namespace(id: &str, name: &str, start: f64, end: f64) -> bool {
    let n = bucket_v1(&format!("__{name}"), id);
    n >= start && n < end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
    }

    #[test]
    fn ranges_follow_weights_and_coverage() {
        assert_eq!(
            bucket_ranges(&[0.5, 0.5], 1.0),
            vec![(0.0, 0.5), (0.5, 1.0)]
        );
        assert_eq!(
            bucket_ranges(&[0.5, 0.5], 0.5),
            vec![(0.0, 0.25), (0.5, 0.75)]
        );
        assert_eq!(choose_variant(0.3, &bucket_ranges(&[0.5, 0.5], 0.5)), None);
        assert_eq!(
            choose_variant(0.7, &bucket_ranges(&[0.5, 0.5], 0.5)),
            Some(1)
        );
    }
}
