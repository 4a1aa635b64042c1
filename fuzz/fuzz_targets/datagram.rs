//! Any datagram, into the decoder and into a live endpoint: neither may panic, and whatever
//! decodes must encode back to the same bytes.

#![no_main]

use lanchat::proto::wire::Frame;
use lanchat::proto::{Endpoint, EndpointConfig, Identity};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::Instant;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        let again = frame.encode().expect("a decoded frame encodes");
        assert_eq!(again, data, "decode and encode disagree");
    }
    let now = Instant::now();
    let cfg = EndpointConfig::new(Identity::from_secret([7; 32]), "fuzz", 47475);
    let mut endpoint = Endpoint::new(cfg, now, 1);
    let src = SocketAddr::from(([127, 0, 0, 1], 40000));
    endpoint.handle_datagram(now, src, data);
    // The same bytes again, as a replay, and split in two.
    endpoint.handle_datagram(now, src, data);
    let (a, b) = data.split_at(data.len() / 2);
    endpoint.handle_datagram(now, src, a);
    endpoint.handle_datagram(now, src, b);
    while endpoint.poll_transmit().is_some() {}
    while endpoint.poll_event().is_some() {}
});
