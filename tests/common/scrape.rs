//! `/metrics` of a running daemon, read independently of the code under test.
//!
//! [`Scrape`] parses the Prometheus text format strictly (`# TYPE` lines, label values with
//! their escapes, `+Inf`/`NaN`) and finds a sample by name and exact label set. [`scrape`] is
//! one `GET /metrics` that must be 200 and Prometheus text 0.0.4; [`settled_scrape`] one whose
//! `flowstate_*` samples held still for two scrapes in a row, so its values agree with each
//! other; [`wait_for_scrape`] polls until a condition holds.
//!
//! For a single series there is the plain text too: [`metrics`] is the body of one scrape,
//! [`sample`] and [`find_sample`] the value of a series written exactly as exposed
//! (`name{labels}`), and [`wait_for_sample`] polls until one satisfies a condition.

use std::collections::{BTreeMap, BTreeSet};

use super::daemon::http_get;
use super::wait::wait_for;
use super::{Daemon, DEADLINE};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// One `/metrics` answer, parsed.
pub struct Scrape {
    pub body: String,
    /// `# TYPE` lines: family name to type.
    pub types: BTreeMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(body: &str) -> Result<Scrape, String> {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in body.lines() {
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| format!("bad TYPE line {line:?}"))?;
                if types.insert(name.to_string(), kind.to_string()).is_some() {
                    return Err(format!("two TYPE lines for {name}"));
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            samples.push(parse_sample(line).ok_or_else(|| format!("bad sample line {line:?}"))?);
        }
        Ok(Scrape {
            body: body.to_string(),
            types,
            samples,
        })
    }

    /// The samples named exactly `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the sample named `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.named(name)
            .find(|s| s.labels == wanted)
            .map(|s| s.value)
    }

    /// Like [`Scrape::get`], but fails the test when there is no such sample.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in\n{}", self.body))
    }

    /// The label names of each sample named `name` (sorted), deduplicated.
    pub fn label_sets(&self, name: &str) -> BTreeSet<Vec<String>> {
        self.named(name)
            .map(|s| s.labels.keys().cloned().collect())
            .collect()
    }

    /// Every sample with `host="<host>"`.
    pub fn of_host(&self, host: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.labels.get("host").is_some_and(|h| h == host))
            .collect()
    }

    /// The `flowstate_*` samples: what changes only when the daemon does something.
    pub fn flowstate_samples(&self) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name.starts_with("flowstate_"))
            .collect()
    }

    /// The sample `name` of `notifier` with `labels` besides: a tenant's notifier
    /// (`team-a/hook`) also carries `tenant="team-a"`.
    fn of_notifier(&self, name: &str, notifier: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut all = vec![("notifier", notifier)];
        all.extend_from_slice(labels);
        if let Some((tenant, _)) = notifier.split_once('/') {
            all.push(("tenant", tenant));
        }
        self.get(name, &all)
    }

    /// `flowstate_alerts_total{notifier, result}`.
    pub fn alerts(&self, notifier: &str, result: &str) -> Option<f64> {
        self.of_notifier("flowstate_alerts_total", notifier, &[("result", result)])
    }

    /// `flowstate_outbox_pending{notifier}`.
    pub fn pending(&self, notifier: &str) -> Option<f64> {
        self.of_notifier("flowstate_outbox_pending", notifier, &[])
    }

    /// `flowstate_alerts_dropped_total{notifier, reason}`.
    pub fn dropped(&self, notifier: &str, reason: &str) -> Option<f64> {
        self.of_notifier(
            "flowstate_alerts_dropped_total",
            notifier,
            &[("reason", reason)],
        )
    }
}

/// `name{k="v",...} value` or `name value`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            // A label name, `=`, a quoted value, then `,` or `}`.
            let (start, first) = chars.next()?;
            if first == '}' {
                rest = &inner[start + 1..];
                break;
            }
            let mut key = String::from(first);
            loop {
                let (_, c) = chars.next()?;
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                let (_, c) = chars.next()?;
                match c {
                    '"' => break,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    other => value.push(other),
                }
            }
            if labels.insert(key, value).is_some() {
                return None;
            }
            let (index, after) = chars.next()?;
            match after {
                ',' => continue,
                '}' => {
                    rest = &inner[index + 1..];
                    break;
                }
                _ => return None,
            }
        }
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// `GET /metrics`: 200, Prometheus text 0.0.4, parsed.
#[track_caller]
pub fn scrape(daemon: &mut Daemon) -> Scrape {
    let answer = daemon.get("/metrics");
    assert_eq!(answer.status, 200, "GET /metrics: {answer}\n{daemon}");
    let content_type = answer.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "not the Prometheus text format: {content_type:?}"
    );
    Scrape::parse(&answer.body)
        .unwrap_or_else(|e| panic!("/metrics is not Prometheus text ({e}):\n{}", answer.body))
}

/// A scrape whose `flowstate_*` samples equal the scrape just before it: no check landed
/// while it was rendered, so its values agree with each other.
#[track_caller]
pub fn settled_scrape(daemon: &mut Daemon) -> Scrape {
    let mut previous = scrape(daemon);
    for _ in 0..200 {
        let next = scrape(daemon);
        if next.flowstate_samples() == previous.flowstate_samples() {
            return next;
        }
        previous = next;
    }
    panic!("/metrics never held still for two scrapes in a row\n{daemon}");
}

/// Polls `/metrics` until `condition` holds for a scrape, and returns that scrape.
#[track_caller]
pub fn wait_for_scrape(
    daemon: &mut Daemon,
    what: &str,
    condition: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let api = daemon.api();
    let found = wait_for(DEADLINE, what, || {
        let answer = http_get(api, "/metrics").ok()?;
        let scrape = Scrape::parse(&answer.body).ok()?;
        condition(&scrape).then_some(scrape)
    });
    match found {
        Ok(scrape) => scrape,
        Err(timed_out) => {
            let last = http_get(api, "/metrics").map_or_else(|e| e.to_string(), |a| a.body);
            panic!("{timed_out}\nlast /metrics:\n{last}\n{daemon}")
        }
    }
}

/// `GET /metrics`, which must answer 200: its body.
#[track_caller]
pub fn metrics(daemon: &mut Daemon) -> String {
    let answer = daemon.get("/metrics");
    assert_eq!(answer.status, 200, "GET /metrics: {answer}\n{daemon}");
    answer.body
}

/// The value of one series (`name{labels}` exactly as exposed), if it is there.
pub fn find_sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// [`find_sample`], where a series that is not there counts as 0 (a counter never created).
pub fn sample(metrics: &str, series: &str) -> f64 {
    find_sample(metrics, series).unwrap_or(0.0)
}

/// Polls `/metrics` until the series `series` (exactly as exposed) is there with a value that
/// satisfies `condition`; returns that value and the whole exposition it came in.
#[track_caller]
pub fn wait_for_sample(
    daemon: &mut Daemon,
    series: &str,
    condition: impl Fn(f64) -> bool,
) -> (f64, String) {
    let api = daemon.api();
    wait_for(DEADLINE, &format!("{series} as expected"), || {
        let body = http_get(api, "/metrics").ok()?.body;
        let value = find_sample(&body, series).filter(|v| condition(*v))?;
        Some((value, body))
    })
    .unwrap_or_else(|timed_out| panic!("{timed_out}\n{daemon}"))
}
