//! The `script` check: placeholder until its probe lands (branch `checks`, not on main).

use std::sync::Arc;

use flowstate_config::HostConfiguration;

use super::{Probe, ProbeFuture, ProbeOutcome};

#[derive(Default)]
pub struct ScriptProbe;

impl ScriptProbe {
    pub fn new() -> Self {
        ScriptProbe
    }
}

impl Probe for ScriptProbe {
    fn probe(&self, _host: &Arc<HostConfiguration>) -> ProbeFuture {
        Box::pin(async { ProbeOutcome::failed("script checks are not built yet") })
    }
}
