//! The `icmp` check: placeholder until its probe lands (branch `checks`, not on main).

use std::sync::Arc;

use flowstate_config::HostConfiguration;

use super::{Probe, ProbeFuture, ProbeOutcome};

#[derive(Default)]
pub struct IcmpProbe;

impl IcmpProbe {
    pub fn new() -> Self {
        IcmpProbe
    }
}

impl Probe for IcmpProbe {
    fn probe(&self, _host: &Arc<HostConfiguration>) -> ProbeFuture {
        Box::pin(async { ProbeOutcome::failed("icmp checks are not built yet") })
    }
}
