//! Day-one defects (issue 12) at the edges: listen addresses, closed pipes, reload feedback, config fingerprints, docs and wording.
