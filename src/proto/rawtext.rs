//! Plain-text datagrams: the classic tutorial's scripts and `nc -u`.
//!
//! Such a peer sends the bytes of its text and nothing else. We accept UTF-8, fall back to
//! GBK (common on Chinese Windows machines), and drop what is neither. What we send back is
//! plain UTF-8, cut into datagrams the tutorial's `recvfrom(1024)` can hold whole.

/// Largest datagram sent to a plain-text peer: the tutorial reads with `recvfrom(1024)`.
pub const MAX_RAW_DATAGRAM: usize = 1024;

/// Decodes a plain-text datagram, or `None` if it is not text.
///
/// One trailing newline (`\n` or `\r\n`, as `nc` and `print` add) is removed. Control
/// characters are kept: the UI shows them visibly, so a hostile peer's escape sequences are
/// seen for what they are rather than silently lost.
pub fn decode(data: &[u8]) -> Option<String> {
    decode_with_charset(data).map(|(text, _)| text)
}

/// [`decode`], and whether the text was GBK (such a peer gets GBK back: [`encode_in`]).
pub fn decode_with_charset(data: &[u8]) -> Option<(String, bool)> {
    let (text, gbk) = match std::str::from_utf8(data) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (decode_gbk(data)?, true),
    };
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text)
        .to_owned();
    if text.is_empty() {
        None
    } else {
        Some((text, gbk))
    }
}

/// GBK is permissive enough that random bytes often decode, so a GBK reading is only taken
/// when it is free of control characters other than tab and newlines.
fn decode_gbk(data: &[u8]) -> Option<String> {
    let text = encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(data)?;
    let looks_like_text = text
        .chars()
        .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'));
    looks_like_text.then(|| text.into_owned())
}

/// [`encode`] in GBK (GB18030 for what GBK lacks) when `gbk`, for a peer that writes GBK.
pub fn encode_in(text: &str, gbk: bool) -> Vec<Vec<u8>> {
    if !gbk {
        return encode(text);
    }
    crate::proto::ipmsg::split_encoded(
        text,
        crate::proto::ipmsg::Charset::Gb18030,
        MAX_RAW_DATAGRAM,
    )
}

/// Cuts text into UTF-8 datagrams of at most [`MAX_RAW_DATAGRAM`] bytes, never inside a
/// character. Empty text gives no datagrams.
pub fn encode(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(MAX_RAW_DATAGRAM);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head.as_bytes().to_vec());
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn utf8_and_trailing_newlines() {
        assert_eq!(decode(b"hello").as_deref(), Some("hello"));
        assert_eq!(decode(b"hello\n").as_deref(), Some("hello"));
        assert_eq!(decode(b"hello\r\n").as_deref(), Some("hello"));
        assert_eq!(decode(b"two\nlines\n").as_deref(), Some("two\nlines"));
        assert_eq!(decode("你好".as_bytes()).as_deref(), Some("你好"));
        assert_eq!(decode(b"\n"), None);
        assert_eq!(decode(b""), None);
        // Escape sequences survive decoding; sanitising is the UI's job.
        assert_eq!(decode(b"\x1b[2J").as_deref(), Some("\u{1b}[2J"));
    }

    #[test]
    fn gbk_fallback() {
        // "你好" in GBK.
        assert_eq!(decode(&[0xC4, 0xE3, 0xBA, 0xC3]).as_deref(), Some("你好"));
    }

    #[test]
    fn binary_is_rejected() {
        assert_eq!(decode(&[0xFF, 0x00, 0x13, 0x80]), None);
        assert_eq!(decode(&[0x81]), None);
    }

    #[test]
    fn encode_cuts_on_char_boundaries() {
        let text = "字".repeat(1000); // 3000 bytes
        let parts = encode(&text);
        assert!(parts.iter().all(|p| p.len() <= MAX_RAW_DATAGRAM));
        assert_eq!(parts.len(), 3);
        let joined: String = parts
            .iter()
            .map(|p| std::str::from_utf8(p).expect("each part is whole UTF-8"))
            .collect();
        assert_eq!(joined, text);
        assert!(encode("").is_empty());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1300)) {
            let _ = decode(&data);
        }

        #[test]
        fn encode_then_decode_each_part(text in "\\PC{1,1500}") {
            let parts = encode(&text);
            let mut joined = String::new();
            for p in &parts {
                prop_assert!(p.len() <= MAX_RAW_DATAGRAM);
                joined.push_str(std::str::from_utf8(p).expect("utf8"));
            }
            prop_assert_eq!(joined, text);
        }
    }
}
