use super::*;
use proptest::prelude::*;

fn decode(bytes: &[u8]) -> Packet {
    match Packet::decode(bytes) {
        Ok(p) => p,
        Err(e) => panic!("{:?} did not decode: {e}", String::from_utf8_lossy(bytes)),
    }
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GB18030.encode(text).0.into_owned()
}

fn local() -> Local {
    Local {
        version: "1_lanchat 0.1.0".into(),
        user: "li:lei".into(),
        host: "desk".into(),
        nick: "李雷".into(),
        group: "研发".into(),
    }
}

// Golden packets from IPMSG.md.

#[test]
fn the_protocol_documents_example() {
    let p = decode(b"1:100:shirouzu:jupiter:32:Hello");
    assert_eq!(p.version, b"1");
    assert_eq!(p.packet_no, 100);
    assert_eq!(p.user, b"shirouzu");
    assert_eq!(p.host, b"jupiter");
    assert_eq!(p.command, SENDMSG);
    assert_eq!(p.extra, b"Hello");
    assert_eq!(p.text(), "Hello");
    assert_eq!(p.client(), Client::IpMsg);
    assert!(!p.wants_ack());
    assert_eq!(
        p.encode().as_deref(),
        Ok(&b"1:100:shirouzu:jupiter:32:Hello"[..])
    );
}

#[test]
fn the_extra_may_hold_colons() {
    let p = decode(b"1:7:u:h:288:at 12:30: lunch\0");
    assert_eq!(p.text(), "at 12:30: lunch");
    assert!(p.wants_ack());
}

#[test]
fn an_iptux_entry() {
    let p = decode(b"1_iptux 0.8.3:3:root:vm:259:root\0\0icon-tux.png\0utf-8\0");
    assert_eq!(p.client(), Client::Iptux);
    assert_eq!(p.mode(), ANSENTRY);
    assert!(p.has(ABSENCEOPT));
    assert_eq!(p.charset(), Charset::Utf8);
    let e = p.entry();
    assert_eq!(e.nick, "root");
    assert_eq!(e.group, "");
    // iptux sets ABSENCEOPT always: not absent.
    assert!(!e.absent);
    assert_eq!(e.icon.as_deref(), Some("icon-tux.png"));
    assert_eq!(e.encoding.as_deref(), Some("utf-8"));
    assert_eq!(e.names, None);
}

#[test]
fn an_iptux_entry_in_gbk_despite_its_utf8_field() {
    let p = decode(b"1_iptux 0.8.3:3:root:vm:259:\xce\xde\xcd\xb7iptux\0QA\0icon-tux.png\0utf-8\0");
    assert_eq!(p.charset(), Charset::Gb18030);
    let e = p.entry();
    assert_eq!(e.nick, "无头iptux");
    assert_eq!(e.group, "QA");
    assert_eq!(e.encoding.as_deref(), Some("utf-8"));
}

#[test]
fn a_feiq_entry() {
    let mut bytes =
        b"1_lbt4_41#128#24F5AAD7C96A#0#0#0#311c#9:1767153479:t0250254:DESKTOP-IOHG15K:6291459:"
            .to_vec();
    bytes.extend(gbk("陈俞辛"));
    let p = decode(&bytes);
    assert_eq!(
        p.client(),
        Client::FeiQ {
            mac: Some("24F5AAD7C96A".into())
        }
    );
    assert_eq!(p.packet_no, 1_767_153_479);
    assert_eq!(p.mode(), ANSENTRY);
    assert!(p.has(FILEATTACHOPT | ENCRYPTOPT));
    assert_eq!(p.charset(), Charset::Gb18030);
    assert_eq!(p.entry().nick, "陈俞辛");
    assert!(!p.entry().absent);
    // We never send what FeiQ advertises.
    assert!(p.encode().is_err());
}

#[test]
fn a_feiq_shake() {
    let p = decode(b"1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9:1652447021:zz:WIN10-WRK:209:\0");
    assert!(p.is_shake());
    assert!(!p.is_typing_notice());
    assert_eq!(p.text(), "");
    assert_eq!(
        p.client(),
        Client::FeiQ {
            mac: Some("000C294BBCAF".into())
        }
    );
    let typing = decode(b"1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9:5:zz:W:121:\0");
    assert!(typing.is_typing_notice());
    // A FeiQ version without a MAC still is FeiQ.
    assert_eq!(Client::of(b"1_lbt8"), Client::FeiQ { mac: None });
}

#[test]
fn a_gbk_message_with_a_trailing_nul_is_kept() {
    let p = decode(b"1_iptux 0.8.3:9:root:vm:288:hi bob from iptux \xd6\xd0\xce\xc4\0");
    assert_eq!(p.charset(), Charset::Gb18030);
    assert_eq!(p.text(), "hi bob from iptux 中文");
    assert!(p.wants_ack());
    assert!(is_ipmsg(&p.encode().expect("encodes")));
}

#[test]
fn gbk_is_never_read_as_utf16() {
    // 内网通's ANSENTRY, which iptux took for UTF-16.
    let mut bytes = b"1@shiyeline:27311:u:LIDAOBIN-3:3:LIDAOBIN-3\0".to_vec();
    bytes.extend(gbk("李道斌"));
    bytes.extend(b"\0a1b2c3\0");
    let p = decode(&bytes);
    assert_eq!(p.charset(), Charset::Gb18030);
    assert_eq!(p.entry().nick, "LIDAOBIN-3");
    assert_eq!(p.entry().group, "李道斌");
}

#[test]
fn utf8opt_wins_and_crlf_becomes_lf() {
    let mut bytes = b"1:5:u:h:8388896:".to_vec();
    bytes.extend("第一行\r\n第二行\0".as_bytes());
    let p = decode(&bytes);
    assert!(p.has(UTF8OPT | SENDCHECKOPT));
    assert_eq!(p.text(), "第一行\n第二行");
    // UTF8OPT even over FeiQ's GBK rule.
    let mut feiq = b"1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9:5:u:h:8388896:".to_vec();
    feiq.extend("你好".as_bytes());
    assert_eq!(decode(&feiq).text(), "你好");
    // Without it, FeiQ is GB18030 even when the bytes are valid UTF-8.
    let utf8_looking = b"1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9:5:u:h:32:\xc3\xa9";
    assert_eq!(decode(utf8_looking).text(), "茅");
}

#[test]
fn feiq_font_blocks_and_placeholders_are_stripped_from_feiq_only() {
    let v = "1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9";
    let p = decode(format!("{v}:5:u:h:288:hello{{/font;-12;0;0;0;400;0;0;0;SimSun}}\0").as_bytes());
    assert_eq!(p.text(), "hello");
    let p = decode(format!("{v}:5:u:h:288:/~#>[image]<B~\0").as_bytes());
    assert_eq!(p.text(), "");
    // Braces that are the whole message are the user's.
    assert_eq!(strip_feiq_decoration("{ok}"), "{ok}");
    // iptux shows the suffix; so do we for anyone but FeiQ.
    let p = decode(b"1_iptux 0.8.3:5:u:h:288:hello{/font;1}\0");
    assert_eq!(p.text(), "hello{/font;1}");
}

#[test]
fn acks_and_references() {
    // iptux's RECVMSG carries 0x100: it is not a request.
    let ack = decode(b"1_iptux 0.8.3:10:root:vm:289:1700000000\0");
    assert_eq!(ack.mode(), RECVMSG);
    assert!(!ack.wants_ack());
    assert_eq!(ack.referenced_packet_no(), Some(1_700_000_000));
    let release = decode(b"1:11:u:h:97:42\0");
    assert_eq!(release.referenced_packet_no(), Some(42));
    let msg = decode(b"1:12:u:h:32:42\0");
    assert_eq!(msg.referenced_packet_no(), None);
    // Broadcast and automatic replies are never acked.
    assert!(!decode(b"1:1:u:h:1312:x").wants_ack()); // SENDMSG|SENDCHECK|BROADCAST
    assert!(!decode(b"1:1:u:h:8480:x").wants_ack()); // SENDMSG|SENDCHECK|AUTORET
}

#[test]
fn an_iptux_file_offer_in_decimal() {
    let mut bytes = b"1_iptux 0.8.3:17:root:vm:2097184:\0".to_vec();
    bytes.extend("10000:from_iptux_文件.txt:20:6b0fb3bd:1:\x07\0".as_bytes());
    let p = decode(&bytes);
    assert!(!p.wants_ack()); // iptux offers without SENDCHECKOPT
    assert_eq!(p.text(), "");
    let list = p.attachments().expect("list parses");
    assert_eq!(
        list,
        [Attachment {
            file_id: 10000,
            name: "from_iptux_文件.txt".as_bytes().to_vec(),
            size: 0x20,
            mtime: 0x6b0f_b3bd,
            attr: FILE_REGULAR,
        }]
    );
    assert_eq!(list[0].kind(), FILE_REGULAR);
}

#[test]
fn a_file_offer_with_text_and_hex_ids() {
    let p =
        decode(b"1:1700000001:u:h:2097440:file for you\x000:from_peer.txt:3c:6b0fb370:1:\x07\0");
    assert!(p.wants_ack());
    assert_eq!(p.text(), "file for you");
    let list = p.attachments().expect("list parses");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].file_id, 0);
    assert_eq!(list[0].size, 60);
    // feiq-cli writes ids in hex; every separator iptux accepts; extended attributes.
    let list = parse_attachments(
        b"a:one::two.txt:10:0:1:\x07:b:dir:0:0:2:14=5f3e:\x07:c:\xc4\xe3.txt:1:0:1\x07",
    )
    .expect("parses");
    let ids: Vec<u64> = list.iter().map(|a| a.file_id).collect();
    assert_eq!(ids, [10, 11, 12]);
    assert_eq!(list[0].name, b"one:two.txt");
    assert_eq!(list[1].kind(), FILE_DIR);
    assert_eq!(Charset::Gb18030.decode(&list[2].name), "你.txt");
    // A message without FILEATTACHOPT has no attachments, whatever follows the text.
    assert_eq!(
        decode(b"1:1:u:h:288:x\x000:a:1:0:1:\x07").attachments(),
        Ok(vec![])
    );
}

#[test]
fn attachment_lists_are_bounded_and_strict() {
    let entry = b"1:a:1:0:1:\x07";
    let many: Vec<u8> = entry.repeat(MAX_ATTACHMENTS);
    assert_eq!(
        parse_attachments(&many).map(|l| l.len()),
        Ok(MAX_ATTACHMENTS)
    );
    let too_many: Vec<u8> = entry.repeat(MAX_ATTACHMENTS + 1);
    assert_eq!(
        parse_attachments(&too_many),
        Err(DecodeError::TooManyAttachments(MAX_ATTACHMENTS + 1))
    );
    let long_name = format!("1:{}:1:0:1:\x07", "n".repeat(MAX_ATTACHMENT_NAME_BYTES + 1));
    assert!(parse_attachments(long_name.as_bytes()).is_err());
    let ok_name = format!("1:{}:1:0:1:\x07", "n".repeat(MAX_ATTACHMENT_NAME_BYTES));
    assert!(parse_attachments(ok_name.as_bytes()).is_ok());
    for bad in [
        &b"1:name:zz:0:1:\x07"[..],           // size not hex
        b"1:name:1:0\x07",                    // attr missing
        b"x!:name:1:0:1:\x07",                // id neither decimal nor hex
        b"1::1:0:1:\x07",                     // empty name
        b"1:name",                            // cut short
        b"1:name:11111111111111111:0:1:\x07", // size over u64
    ] {
        assert!(
            parse_attachments(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(parse_attachments(b""), Ok(vec![]));
}

#[test]
fn getfiledata_from_iptux() {
    let p = decode(b"1_iptux 0.8.3:16:root:vm:96:5bbc271:0:0\0");
    assert_eq!(p.mode(), GETFILEDATA);
    let r = FileRequest::parse(&p.extra).expect("parses");
    assert_eq!(r.offer_no, 0x5bb_c271);
    assert_eq!(r.file_id, 0);
    assert_eq!(r.offset, 0);
    assert_eq!(r.file_ids().collect::<Vec<_>>(), [0]);
    // IPMsg for Windows' trailing ':', a missing NUL, and an id that differs by radix.
    let r = FileRequest::parse(b"64:10:1f:").expect("parses");
    assert_eq!((r.offer_no, r.file_id, r.offset), (100, 16, 31));
    assert_eq!(r.file_ids().collect::<Vec<_>>(), [16, 10]);
    assert!(FileRequest::parse(b"64:10").is_err());
    assert!(FileRequest::parse(b"64:g:0").is_err());
}

#[test]
fn getfiledata_round_trip() {
    let r = FileRequest::new(1_700_000_001, 3, 0x1234);
    assert_eq!(FileRequest::parse(&r.to_extra()), Ok(r));
    let p = local().get_file_data(1_700_000_005, &r);
    let bytes = p.encode().expect("encodes");
    assert!(bytes.ends_with(b":96:6553f101:3:1234\0"), "{bytes:?}");
    let back = Packet::decode(&bytes).expect("decodes");
    assert_eq!(FileRequest::parse(&back.extra), Ok(r));
}

// The classifier.

#[test]
fn the_classifier() {
    assert!(is_ipmsg(b"1:100:shirouzu:jupiter:32:Hello"));
    assert!(is_ipmsg(
        b"1_iptux 0.8.3:3:root:vm:259:root\0\0icon-tux.png\0utf-8\0"
    ));
    assert!(is_ipmsg(b"1:1:::2:"));
    assert!(is_ipmsg(b"1:1:u:h:-2147483616:")); // a command printed signed
    // Plain text.
    for text in [
        &b"hello"[..],
        b"12:30 lunch?",
        b"1:2:3:4",
        b"1:2:3:4:5",             // no fifth colon
        b"a:1:u:h:32:x",          // version without a digit first
        b"1:x:u:h:32:x",          // packet number not decimal
        b"1:1:u:h:3x:x",          // command not decimal
        b"1:1:u:h:4294967296:x",  // command over u32
        b"1:1:u:h:-2147483649:x", // under i32
        b"",
        "你好:1:2:3:4:".as_bytes(),
    ] {
        assert!(!is_ipmsg(text), "{:?}", String::from_utf8_lossy(text));
        assert!(Packet::decode(text).is_err());
    }
    // The documented false positive: text shaped like a header.
    assert!(is_ipmsg(b"1:2:3:4:5:hello"));
    // Native frames start with 0xFF.
    let mut native = crate::proto::wire::MAGIC.to_vec();
    native.extend(b"1:2:3:4:5:");
    assert!(!is_ipmsg(&native));
}

#[test]
fn bounds() {
    let mut big = b"1:1:u:h:32:".to_vec();
    big.resize(MAX_PACKET, b'x');
    assert!(Packet::decode(&big).is_ok());
    big.push(b'x');
    assert_eq!(
        Packet::decode(&big),
        Err(DecodeError::TooLong {
            len: MAX_PACKET + 1,
            max: MAX_PACKET
        })
    );
    assert!(!is_ipmsg(&big));
    let long_user = format!("1:1:{}:h:32:", "u".repeat(MAX_FIELD_BYTES + 1));
    assert!(Packet::decode(long_user.as_bytes()).is_err());
    let long_version = format!("1{}:1:u:h:32:", "v".repeat(MAX_VERSION_BYTES));
    assert!(Packet::decode(long_version.as_bytes()).is_err());
    assert!(Packet::decode(b"1:99999999999999999999:u:h:32:").is_err()); // over u64
    assert!(Packet::decode(b"1:1:u\0:h:32:").is_err()); // NUL in a header field
}

#[test]
fn encode_checks_what_decode_checks() {
    let good = decode(b"1:1:u:h:32:x");
    for bad in [
        Packet {
            version: b"x1".to_vec(),
            ..good.clone()
        },
        Packet {
            user: b"a:b".to_vec(),
            ..good.clone()
        },
        Packet {
            host: b"a\0b".to_vec(),
            ..good.clone()
        },
        Packet {
            command: SENDMSG | ENCRYPTOPT,
            ..good.clone()
        },
        Packet {
            extra: vec![b'x'; MAX_PACKET],
            ..good.clone()
        },
    ] {
        assert!(bad.encode().is_err(), "{bad:?}");
    }
    assert!(good.encode().is_ok());
}

// Building.

#[test]
fn entries_advertise_utf8_and_files_and_never_encryption() {
    let me = local();
    let p = me.entry(1_700_000_000, BR_ENTRY, false, 0, Charset::Utf8);
    assert_eq!(p.command, BR_ENTRY | FILEATTACHOPT | CAPUTF8OPT);
    assert!(!p.has(UTF8OPT), "a broadcast entry never carries UTF8OPT");
    assert_eq!(p.user, b"li;lei");
    let bytes = p.encode().expect("encodes");
    assert_eq!(p.encoded_len(), bytes.len());
    let mut extra = gbk("李雷");
    extra.push(0);
    extra.extend(gbk("研发"));
    extra.extend("\0\nUN:li:lei\nHN:desk\nNN:李雷\nGN:研发\0".as_bytes());
    assert_eq!(p.extra, extra);
    let back = Packet::decode(&bytes).expect("decodes");
    let e = back.entry();
    assert_eq!((e.nick.as_str(), e.group.as_str()), ("李雷", "研发"));
    assert_eq!(e.names.as_ref().map(|n| n.user.as_str()), Some("li:lei"));
    assert_eq!(e.icon, None);
    assert!(!e.absent);
    // A FeiQ-style reader (GBK, first section only) gets the nick too.
    assert_eq!(Charset::Gb18030.decode(back.sections()[0]), "李雷");

    // An answer to a UTF-8 capable peer is UTF-8, flagged.
    let a = me.entry(2, ANSENTRY, true, DIALUPOPT | ENCRYPTOPT, Charset::Utf8);
    assert_eq!(
        a.command,
        ANSENTRY | FILEATTACHOPT | CAPUTF8OPT | UTF8OPT | ABSENCEOPT | DIALUPOPT
    );
    assert_eq!(a.sections()[0], "李雷".as_bytes());
    let back = Packet::decode(&a.encode().expect("encodes")).expect("decodes");
    assert!(back.entry().absent);
    assert_eq!(back.entry().nick, "李雷");
    // To FeiQ: GB18030, no UTF8OPT.
    let f = me.entry(3, ANSENTRY, false, 0, Charset::Gb18030);
    assert!(!f.has(UTF8OPT));
    assert_eq!(f.sections()[0], gbk("李雷"));
    for mode in [BR_EXIT, BR_ABSENCE] {
        assert!(!me.entry(4, mode, false, 0, Charset::Utf8).has(UTF8OPT));
    }
}

#[test]
fn messages_set_utf8opt_by_charset() {
    let me = local();
    let [u] = &me.messages(7, "你好", Charset::Utf8, 0)[..] else {
        panic!("one packet");
    };
    assert_eq!(u.command, SENDMSG | SENDCHECKOPT | UTF8OPT);
    assert_eq!(u.extra, "你好\0".as_bytes());
    assert_eq!(
        Packet::decode(&u.encode().expect("encodes")).map(|p| p.text()),
        Ok("你好".into())
    );
    let [g] = &me.messages(8, "你好", Charset::Gb18030, 0)[..] else {
        panic!("one packet");
    };
    assert_eq!(g.command, SENDMSG | SENDCHECKOPT);
    assert_eq!(g.extra, [gbk("你好"), vec![0]].concat());
    assert_eq!(
        Packet::decode(&g.encode().expect("encodes")).map(|p| p.text()),
        Ok("你好".into())
    );
    assert!(me.messages(9, "", Charset::Utf8, 0).is_empty());
    // NUL would end the text: dropped.
    assert_eq!(me.messages(9, "a\0b", Charset::Utf8, 0)[0].extra, b"ab\0");
}

#[test]
fn long_text_splits_into_datagrams_every_client_takes() {
    let me = local();
    for charset in [Charset::Utf8, Charset::Gb18030] {
        let text = "长文本😀 mixed ".repeat(800);
        let packets = me.messages(100, &text, charset, 0);
        assert!(packets.len() > 2, "{charset:?}: {}", packets.len());
        let mut joined = String::new();
        for (i, p) in packets.iter().enumerate() {
            let bytes = p.encode().expect("encodes");
            assert!(bytes.len() <= MAX_DATAGRAM, "{} bytes", bytes.len());
            if i + 1 < packets.len() {
                // Filled up to room for the widest packet number and a 4-byte character.
                assert!(bytes.len() > MAX_DATAGRAM - 24, "{} bytes", bytes.len());
            }
            assert_eq!(p.packet_no, 100 + i as u64);
            let back = Packet::decode(&bytes).expect("decodes");
            assert_eq!(back.charset(), charset);
            // Every datagram is whole characters on its own.
            let part = back.text();
            assert!(!part.contains('\u{FFFD}'));
            joined.push_str(&part);
        }
        assert_eq!(joined, text);
    }
}

#[test]
fn offers_use_small_ids_and_the_peers_encoding() {
    let me = local();
    let files = [Attachment {
        file_id: 0,
        name: gbk("报告:终稿.pdf"),
        size: 1 << 20,
        mtime: 0x6b0f_b370,
        attr: FILE_REGULAR,
    }];
    let p = me
        .offer(50, "给你", &files, Charset::Gb18030)
        .expect("fits");
    assert!(p.has(SENDMSG | SENDCHECKOPT | FILEATTACHOPT));
    let back = Packet::decode(&p.encode().expect("encodes")).expect("decodes");
    assert_eq!(back.text(), "给你");
    assert_eq!(back.attachments(), Ok(files.to_vec()));
    assert!(p.extra.windows(2).any(|w| w == b"::"), "':' is doubled");
    let many = vec![
        Attachment {
            name: vec![b'n'; 200],
            ..files[0].clone()
        };
        30
    ];
    assert!(me.offer(51, "", &many, Charset::Utf8).is_err());
    let bad_name = [Attachment {
        name: b"a\x07b".to_vec(),
        ..files[0].clone()
    }];
    assert!(me.offer(52, "", &bad_name, Charset::Utf8).is_err());
}

#[test]
fn small_answers() {
    let me = local();
    let ack = me.about(9, RECVMSG, 1_700_000_000);
    assert_eq!(ack.command, RECVMSG);
    let bytes = ack.encode().expect("encodes");
    assert!(bytes.ends_with(b":33:1700000000\0"));
    assert_eq!(
        Packet::decode(&bytes).map(|p| p.referenced_packet_no()),
        Ok(Some(1_700_000_000))
    );
    let info = me.info(10);
    assert_eq!(info.mode(), SENDINFO);
    assert_eq!(info.text(), "1_lanchat 0.1.0");
    let away = me.absence_info(11, None, Charset::Gb18030);
    assert_eq!(away.text(), "Not absence mode");
    let away = me.absence_info(12, Some("开会"), Charset::Utf8);
    assert!(away.has(UTF8OPT));
    assert_eq!(away.text(), "开会");
    // A version that would break the header falls back to "1".
    let odd = Local {
        version: "lanchat:2".into(),
        ..local()
    };
    assert_eq!(odd.info(1).version, b"1");
    assert!(odd.info(1).encode().is_ok());
}

#[test]
fn charset_for_a_peer() {
    let feiq = Client::of(b"1_lbt6_0#128#000C294BBCAF#0#0#0#4001#9");
    assert_eq!(Charset::for_peer(&feiq, CAPUTF8OPT), Charset::Gb18030);
    assert_eq!(Charset::for_peer(&Client::Iptux, 0), Charset::Utf8);
    assert_eq!(Charset::for_peer(&Client::IpMsg, CAPUTF8OPT), Charset::Utf8);
    assert_eq!(Charset::for_peer(&Client::IpMsg, 0), Charset::Gb18030);
    assert_eq!(Charset::detect("é".as_bytes()), Charset::Utf8);
    assert_eq!(Charset::detect(&gbk("中文")), Charset::Gb18030);
}

// Properties.

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no ':' or NUL", |b| *b != b':' && *b != 0),
        0..40,
    )
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    (
        (b'0'..=b'9', header_bytes()),
        any::<u64>(),
        header_bytes(),
        header_bytes(),
        any::<u32>().prop_map(|c| c & !NEVER_SENT),
        proptest::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(
            |((first, rest), packet_no, user, host, command, extra)| Packet {
                version: [vec![first], rest].concat(),
                packet_no,
                user,
                host,
                command,
                extra,
            },
        )
}

fn arb_attachment() -> impl Strategy<Value = Attachment> {
    (
        0u64..10,
        proptest::collection::vec(
            any::<u8>().prop_filter("no NUL or BEL", |b| *b != 0 && *b != BELL),
            1..60,
        ),
        any::<u64>(),
        any::<u32>().prop_map(u64::from),
        any::<u32>(),
    )
        .prop_map(|(file_id, name, size, mtime, attr)| Attachment {
            file_id,
            name,
            size,
            mtime,
            attr,
        })
}

proptest! {
    #[test]
    fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let decoded = Packet::decode(&data);
        prop_assert_eq!(is_ipmsg(&data), decoded.is_ok());
        if let Ok(p) = decoded {
            let _ = (p.text(), p.entry(), p.attachments(), p.user_host());
            let _ = (p.referenced_packet_no(), FileRequest::parse(&p.extra));
        }
    }

    #[test]
    fn decode_never_panics_on_header_like_bytes(
        fields in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b':'), Just(0u8), Just(7u8), b'0'..=b'9', any::<u8>()], 0..12),
            0..12,
        )
    ) {
        let mut data = b"1:1:u:h:2097184:".to_vec();
        for f in fields {
            data.extend(f);
        }
        let p = Packet::decode(&data);
        prop_assert!(p.is_ok());
        prop_assert!(is_ipmsg(&data));
        if let Ok(p) = p {
            let _ = (p.text(), p.entry(), p.attachments());
        }
    }

    #[test]
    fn native_frames_are_never_ipmsg(rest in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut data = vec![0xFF];
        data.extend(rest);
        prop_assert!(!is_ipmsg(&data));
        prop_assert!(Packet::decode(&data).is_err());
    }

    #[test]
    fn encode_then_decode(p in arb_packet()) {
        let bytes = p.encode().expect("a valid packet encodes");
        prop_assert_eq!(bytes.len(), p.encoded_len());
        prop_assert!(is_ipmsg(&bytes));
        prop_assert_eq!(Packet::decode(&bytes), Ok(p));
    }

    #[test]
    fn attachments_round_trip(list in proptest::collection::vec(arb_attachment(), 0..8)) {
        let bytes = encode_attachments(&list).expect("encodes");
        prop_assert_eq!(parse_attachments(&bytes), Ok(list));
    }

    #[test]
    fn attachment_parsing_never_panics(data in proptest::collection::vec(
        prop_oneof![Just(b':'), Just(7u8), b'0'..=b'9', b'a'..=b'f', any::<u8>()], 0..400)
    ) {
        if let Ok(list) = parse_attachments(&data) {
            prop_assert!(list.len() <= MAX_ATTACHMENTS);
            prop_assert!(list.iter().all(|a| a.name.len() <= MAX_ATTACHMENT_NAME_BYTES));
        }
    }

    #[test]
    fn file_requests_round_trip(offer_no in any::<u64>(), file_id in any::<u64>(), offset in any::<u64>()) {
        let r = FileRequest::new(offer_no, file_id, offset);
        prop_assert_eq!(FileRequest::parse(&r.to_extra()), Ok(r));
        prop_assert_eq!(r.file_ids().next(), Some(file_id));
    }

    #[test]
    fn messages_split_and_join(text in "\\PC{0,3000}", utf8 in any::<bool>(), no in any::<u64>()) {
        let charset = if utf8 { Charset::Utf8 } else { Charset::Gb18030 };
        let me = local();
        let mut joined = String::new();
        for p in me.messages(no, &text, charset, 0) {
            let bytes = p.encode().expect("encodes");
            prop_assert!(bytes.len() <= MAX_DATAGRAM);
            let back = Packet::decode(&bytes).expect("decodes");
            prop_assert_eq!(back.has(UTF8OPT), utf8);
            joined.push_str(&charset.decode(back.sections()[0]));
        }
        prop_assert_eq!(joined, text.replace('\0', ""));
    }
}
