//! A Nagios plugin's output: the status text (`plugin_output`, the check's detail) and the
//! performance data (`probe::script::perfdata::parse`).
//!
//! The first input byte says whether the output was cut at the capture limit; the rest is
//! stdout (lossily decoded, as `judge` does). Invariants: no panic; the detail is one line
//! without the performance data's `|`; at most `MAX_VALUES` values, with distinct non-empty
//! labels of at most `MAX_LABEL` bytes; every number is finite (a value of `inf` would reach
//! the API's JSON as `null` and the metrics as `+Inf`); a range's start is `-inf` or finite;
//! the same text always gives the same values.
#![no_main]

use flowstate_actors::probe::script::perfdata::{parse, MAX_LABEL, MAX_VALUES};
use flowstate_actors::probe::script::plugin_output;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let truncated = flag & 1 == 1;
    let stdout = String::from_utf8_lossy(rest);
    if let Some(detail) = plugin_output(&stdout) {
        assert!(
            !detail.contains('\n') && !detail.contains('\r'),
            "{detail:?}"
        );
        assert!(!detail.contains('|'), "{detail:?}");
    }
    let values = parse(&stdout, truncated);
    assert!(values.len() <= MAX_VALUES);
    for (i, value) in values.iter().enumerate() {
        assert!(!value.label.is_empty() && value.label.len() <= MAX_LABEL);
        assert!(
            values[..i].iter().all(|v| v.label != value.label),
            "{values:?}"
        );
        assert!(value.value.is_finite(), "{value:?}");
        for bound in [value.min, value.max].into_iter().flatten() {
            assert!(bound.is_finite(), "{value:?}");
        }
        for range in [value.warn, value.crit].into_iter().flatten() {
            assert!(
                range.start.is_finite() || range.start == f64::NEG_INFINITY,
                "{value:?}"
            );
            assert!(
                !range.end.is_nan() && range.end != f64::NEG_INFINITY,
                "{value:?}"
            );
            // Written back in the range format, it is what a plugin could have written.
            let _ = range.to_string();
        }
    }
    assert_eq!(parse(&stdout, truncated), values);
});
