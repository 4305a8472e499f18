//! The `tcp` check: placeholder until its probe lands (branch `checks`, not on main).

use std::sync::Arc;

use flowstate_config::HostConfiguration;

use super::{Probe, ProbeFuture, ProbeOutcome};

#[derive(Default)]
pub struct TcpProbe;

impl TcpProbe {
    pub fn new() -> Self {
        TcpProbe
    }
}

impl Probe for TcpProbe {
    fn probe(&self, _host: &Arc<HostConfiguration>) -> ProbeFuture {
        Box::pin(async { ProbeOutcome::failed("tcp checks are not built yet") })
    }
}
