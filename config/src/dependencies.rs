//! `depends_on`: which hosts a host needs to be reachable (SPEC §9). A failing host whose
//! parent is down will be `unreachable` rather than `down`, so the router's outage pages once,
//! not once per host behind it.
//!
//! Each entry is a label, or a redundancy group `{any: [isp-a, isp-b]}` (Icinga's
//! `redundancy_group`): the child is cut off only when every member is down. Unknown labels,
//! a host depending on itself and cycles are configuration errors; this file finds them, and
//! `validate.rs` says where.

use std::collections::HashMap;
use std::sync::Arc;

use crate::reader::{Node, Reader};

/// One entry of `depends_on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    /// A parent: down means the child is cut off.
    Host(Arc<str>),
    /// Redundant parents: the child is cut off only when all of them are down.
    AnyOf(Vec<Arc<str>>),
}

impl Dependency {
    /// Every label the entry names.
    pub fn labels(&self) -> &[Arc<str>] {
        match self {
            Dependency::Host(label) => std::slice::from_ref(label),
            Dependency::AnyOf(labels) => labels,
        }
    }
}

impl std::fmt::Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dependency::Host(label) => f.write_str(label),
            Dependency::AnyOf(labels) => {
                let names: Vec<&str> = labels.iter().map(|l| &**l).collect();
                write!(f, "any of [{}]", names.join(", "))
            }
        }
    }
}

const EXAMPLE: &str =
    "write `depends_on: [router]`, or `depends_on: [{ any: [isp-a, isp-b] }]` for redundant parents";

/// Reads `depends_on`: a label, or a list of labels and `{any: [...]}` groups.
pub(crate) fn read_depends_on(reader: &mut Reader, node: &Node) -> Option<Vec<Dependency>> {
    let mut found = Vec::new();
    for entry in reader.one_or_many(node) {
        match entry.value {
            serde_yaml::Value::Mapping(_) => {
                let fields = reader.fields(&entry, &["any"])?;
                let Some(any) = fields.get("any") else {
                    reader.semantic_error(&entry, format!("missing `any`; {EXAMPLE}"));
                    return None;
                };
                let labels = reader.strings(&any)?;
                if labels.len() < 2 {
                    reader.semantic_error(
                        &any,
                        format!("a redundancy group needs two or more hosts; for one, name it alone: {EXAMPLE}"),
                    );
                    return None;
                }
                found.push(Dependency::AnyOf(
                    labels.iter().map(|l| Arc::from(l.as_str())).collect(),
                ));
            }
            _ => {
                let label = reader.string(&entry)?;
                found.push(Dependency::Host(Arc::from(label.as_str())));
            }
        }
    }
    Some(found)
}

/// A cycle of dependencies, as the labels along it, the first repeated at the end
/// (`a → b → a`), if there is one; `parents` maps each host to the labels it depends on.
/// The smallest label of each strongly connected part is where the search starts, so the
/// same configuration always reports the same cycle.
pub(crate) fn find_cycle(parents: &HashMap<Arc<str>, Vec<Arc<str>>>) -> Option<Vec<Arc<str>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unseen,
        OnPath,
        Done,
    }
    let mut labels: Vec<&Arc<str>> = parents.keys().collect();
    labels.sort();
    let mut marks: HashMap<&Arc<str>, Mark> = labels.iter().map(|l| (*l, Mark::Unseen)).collect();
    for start in labels {
        if marks.get(start) != Some(&Mark::Unseen) {
            continue;
        }
        // An explicit stack: a long chain of dependencies must not overflow the thread's.
        let mut path: Vec<&Arc<str>> = vec![start];
        let mut next_child: Vec<usize> = vec![0];
        marks.insert(start, Mark::OnPath);
        while let Some(&node) = path.last() {
            let index = next_child.last().copied().unwrap_or(0);
            let edges = parents.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(parent) = edges.get(index) {
                if let Some(slot) = next_child.last_mut() {
                    *slot += 1;
                }
                match marks.get(parent).copied() {
                    Some(Mark::OnPath) => {
                        let from = path.iter().position(|l| *l == parent).unwrap_or(0);
                        let mut cycle: Vec<Arc<str>> =
                            path[from..].iter().map(|l| (*l).clone()).collect();
                        cycle.push(parent.clone());
                        return Some(cycle);
                    }
                    Some(Mark::Unseen) => {
                        let parent = parents.get_key_value(parent).map(|(k, _)| k);
                        if let Some(parent) = parent {
                            marks.insert(parent, Mark::OnPath);
                            path.push(parent);
                            next_child.push(0);
                        }
                    }
                    // Done, or a label that is no host (reported as unknown elsewhere).
                    _ => {}
                }
            } else {
                marks.insert(node, Mark::Done);
                path.pop();
                next_child.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> HashMap<Arc<str>, Vec<Arc<str>>> {
        edges
            .iter()
            .map(|(child, parents)| {
                (
                    Arc::from(*child),
                    parents.iter().map(|p| Arc::from(*p)).collect(),
                )
            })
            .collect()
    }

    fn names(cycle: Option<Vec<Arc<str>>>) -> Option<Vec<String>> {
        cycle.map(|c| c.iter().map(|l| l.to_string()).collect())
    }

    #[test]
    fn a_tree_has_no_cycle_and_a_loop_is_named_in_order() {
        let tree = graph(&[("api", &["router"]), ("db", &["router"]), ("router", &[])]);
        assert_eq!(find_cycle(&tree), None);
        let looped = graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]);
        assert_eq!(
            names(find_cycle(&looped)),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        let own = graph(&[("self", &["self"])]);
        assert_eq!(
            names(find_cycle(&own)),
            Some(vec!["self".into(), "self".into()])
        );
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let labels: Vec<String> = (0..100_000).map(|i| format!("h{i}")).collect();
        let mut parents: HashMap<Arc<str>, Vec<Arc<str>>> = HashMap::new();
        for pair in labels.windows(2) {
            parents.insert(
                Arc::from(pair[0].as_str()),
                vec![Arc::from(pair[1].as_str())],
            );
        }
        parents.insert(Arc::from("h99999"), vec![]);
        assert_eq!(find_cycle(&parents), None);
    }
}
