//! Bucketing against GrowthBook's published test vectors (tests/vectors/bucket.json).

use rapport_rules::bucket::{bucket, bucket_v1};

#[test]
fn growthbook_hash_vectors() {
    let text = include_str!("vectors/bucket.json");
    let vectors: serde_json::Value = serde_json::from_str(text).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let seed = case[0].as_str().unwrap();
        let id = case[1].as_str().unwrap();
        let expected = case[3].as_f64().unwrap();
        let got = match case[2].as_u64().unwrap() {
            1 => bucket_v1(seed, id),
            2 => bucket(seed, id),
            other => panic!("no hash version {other}"),
        };
        assert!((got - expected).abs() < 1e-9, "{case}: got {got}");
    }
}

#[test]
fn buckets_spread_evenly() {
    let mut counts = [0u32; 10];
    for i in 0..20_000 {
        let b = bucket("spread", &format!("visitor-{i}"));
        assert!((0.0..1.0).contains(&b));
        counts[(b * 10.0) as usize] += 1;
    }
    for count in counts {
        assert!((1_800..2_200).contains(&count), "{counts:?}");
    }
}
