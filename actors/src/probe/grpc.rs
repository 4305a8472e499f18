//! The `grpc` check: placeholder until its probe lands (branch `checks`, not on main).

use std::sync::Arc;

use flowstate_config::HostConfiguration;

use super::{Probe, ProbeFuture, ProbeOutcome};

#[derive(Default)]
pub struct GrpcProbe;

impl GrpcProbe {
    pub fn new() -> Self {
        GrpcProbe
    }
}

impl Probe for GrpcProbe {
    fn probe(&self, _host: &Arc<HostConfiguration>) -> ProbeFuture {
        Box::pin(async { ProbeOutcome::failed("grpc checks are not built yet") })
    }
}
