//! The `dns` check: placeholder until its probe lands (branch `checks`, not on main).

use std::sync::Arc;

use flowstate_config::HostConfiguration;

use super::{Probe, ProbeFuture, ProbeOutcome};

#[derive(Default)]
pub struct DnsProbe;

impl DnsProbe {
    pub fn new() -> Self {
        DnsProbe
    }
}

impl Probe for DnsProbe {
    fn probe(&self, _host: &Arc<HostConfiguration>) -> ProbeFuture {
        Box::pin(async { ProbeOutcome::failed("dns checks are not built yet") })
    }
}
