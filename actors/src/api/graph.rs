//! `GET /api/v1/graph`: the running configuration's dependencies (`depends_on`) with every
//! host's status now, for dashboards and scripts that draw or walk the graph (SPEC §9).
//!
//! `{nodes: [{label, status}], edges: [{parent, child, any}]}`: an edge runs from a parent to
//! the host that depends on it; `any` marks the members of a redundancy group.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use flowstate_config::dependencies::Dependency;
use flowstate_config::Config;
use serde::Serialize;

use super::access::{Access, Need};
use super::{admitted, unavailable, ApiState, ACTOR_DEADLINE};
use crate::messages::{GetHosts, GetRunningConfig};
use crate::model::Status;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphView {
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    pub label: String,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeView {
    pub parent: String,
    pub child: String,
    /// A member of a redundancy group (`{any: [...]}`).
    pub any: bool,
}

/// The graph of `config` as `access` sees it, with each host's status from `statuses`
/// (unknown when missing). A tenant's hosts depend on its own hosts only, so its part of the
/// graph is whole.
pub fn graph(config: &Config, statuses: &HashMap<String, Status>, access: &Access) -> GraphView {
    let seen = || {
        config
            .hosts()
            .iter()
            .filter(|host| access.sees(&host.label))
    };
    let nodes = seen()
        .map(|host| NodeView {
            label: host.label.to_string(),
            status: statuses
                .get(&*host.label)
                .copied()
                .unwrap_or(Status::Unknown),
        })
        .collect();
    let mut edges = Vec::new();
    for host in seen() {
        for dependency in &host.depends_on {
            let any = matches!(dependency, Dependency::AnyOf(_));
            for parent in dependency.labels() {
                edges.push(EdgeView {
                    parent: parent.to_string(),
                    child: host.label.to_string(),
                    any,
                });
            }
        }
    }
    GraphView { nodes, edges }
}

pub async fn serve(request: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let access = match admitted(&request, &state, Need::Read).await {
        Ok(access) => access,
        Err(denied) => return denied,
    };
    let Ok(config) = state
        .running_config
        .send(GetRunningConfig)
        .timeout(ACTOR_DEADLINE)
        .await
    else {
        return unavailable("the supervisor");
    };
    let Ok(hosts) = state.hosts.send(GetHosts).timeout(ACTOR_DEADLINE).await else {
        return unavailable("the state registry");
    };
    let statuses = hosts.into_iter().map(|h| (h.label, h.status)).collect();
    HttpResponse::Ok().json(graph(&config, &statuses, &access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_run_from_parent_to_child_with_redundancy_marked() {
        let config = flowstate_config::load_str(
            "t.yaml",
            "hosts:\n  - { label: isp-a, url: 'http://a/' }\n  - { label: isp-b, url: 'http://b/' }\n\
             \x20 - { label: router, url: 'http://r/', depends_on: [{ any: [isp-a, isp-b] }] }\n\
             \x20 - { label: api, url: 'http://api/', depends_on: [router] }\n",
            &|_| None,
        )
        .expect("valid");
        let statuses = HashMap::from([("router".to_string(), Status::Down)]);
        let view = graph(&config, &statuses, &Access::everything());
        assert_eq!(view.nodes.len(), 4);
        assert_eq!(view.nodes[2].status, Status::Down);
        assert_eq!(view.nodes[0].status, Status::Unknown);
        let json = serde_json::to_value(&view.edges).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!([
                {"parent": "isp-a", "child": "router", "any": true},
                {"parent": "isp-b", "child": "router", "any": true},
                {"parent": "router", "child": "api", "any": false},
            ])
        );
    }
}
