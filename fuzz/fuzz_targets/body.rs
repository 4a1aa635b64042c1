//! A message's bytes of any kind (the first byte picks the kind), into the body decoder: it
//! may not panic, whatever decodes must encode back to the same bytes, and a file offer's
//! name must come out of `safe_name` safe.

#![no_main]

use lanchat::proto::files::{MAX_LOCAL_NAME_BYTES, safe_name};
use lanchat::proto::wire::{Body, Content};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((kind, bytes)) = data.split_first() else {
        return;
    };
    let Some(content) = Content::from_byte(*kind) else {
        return;
    };
    if let Ok(body) = Body::decode(content, bytes) {
        assert_eq!(body.content(), content);
        assert_eq!(body.encode().expect("a decoded body encodes"), bytes);
        if let Body::FileOffer(offer) = body {
            let name = safe_name(&offer.name);
            assert!(!name.is_empty() && name.len() <= MAX_LOCAL_NAME_BYTES);
            assert!(!name.contains(['/', '\\']) && !name.contains(".."));
        }
    }
});
