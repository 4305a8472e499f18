//! A DNS server's answer, judged as the `dns` check judges it (`probe::dns::judge_records`).
//!
//! Input: one byte choosing the record type asked for, then a DNS message in wire format,
//! read with hickory's `Message::from_vec` (what the resolver does with a UDP answer); its
//! answer records are judged against no expected values, then against each value it showed.
//!
//! Invariants: no panic; an answer holding a record of the asked type is up (with no
//! expectations), one holding none is down; the values are sorted and distinct; expecting a
//! value the check itself reported for an answer (an address, a name, `10 mx.example.com`)
//! passes, since that is what a user copies from the detail into `expect`.
#![no_main]

use flowstate_actors::probe::dns::judge_records;
use flowstate_config::DnsRecord;
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

const RECORDS: [DnsRecord; 6] = [
    DnsRecord::A,
    DnsRecord::Aaaa,
    DnsRecord::Cname,
    DnsRecord::Mx,
    DnsRecord::Txt,
    DnsRecord::Ns,
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, wire)) = data.split_first() else {
        return;
    };
    let record = RECORDS[usize::from(which) % RECORDS.len()];
    let Ok(message) = Message::from_vec(wire) else {
        return;
    };
    let records = message.answers.as_slice();
    let (outcome, values) = judge_records(records, record, "example.com", &[]);
    assert_eq!(outcome.ok, !values.is_empty(), "{}", outcome.detail);
    for pair in values.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "duplicate values: {values:?}");
    }
    for (shown, normal) in &values {
        // TXT is shown quoted (`"v=spf1 -all"`) and compared as its text.
        let expected = if record == DnsRecord::Txt {
            normal
        } else {
            shown
        };
        let (outcome, _) = judge_records(
            records,
            record,
            "example.com",
            std::slice::from_ref(expected),
        );
        assert!(
            outcome.ok,
            "expecting {expected:?} of {values:?}: {}",
            outcome.detail
        );
    }
});
