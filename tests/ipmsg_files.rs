//! Files with an IP Messenger peer over loopback, the peer played by the test with its own
//! sockets (a UDP socket and a TCP listener on one port, as every client has): a hostile
//! name, a folder, a download cut short and resumed by offset, and our offer served only
//! to a request that names it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lanchat::proto::ipmsg::{
    self, Attachment, BR_ENTRY, FILEATTACHOPT, FileRequest, GETFILEDATA, Packet, RECVMSG,
    RELEASEFILES, SENDMSG,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;
use support::TestNode;

/// The peer: a UDP socket and a TCP listener on the same loopback port.
struct Peer {
    udp: UdpSocket,
    tcp: TcpListener,
    no: u64,
}

impl Peer {
    fn new() -> Peer {
        loop {
            let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)) {
                udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return Peer { udp, tcp, no: 100 };
            }
        }
    }

    fn send(&mut self, to: SocketAddr, command: u32, extra: &[u8]) -> u64 {
        self.no += 1;
        let mut bytes = format!("1:{}:mallory:evil:{command}:", self.no).into_bytes();
        bytes.extend_from_slice(extra);
        self.udp.send_to(&bytes, to).unwrap();
        self.no
    }

    /// The next packet from lanchat of this mode (others skipped).
    fn next(&self, mode: u32) -> Packet {
        let mut buf = [0u8; 65536];
        loop {
            let (n, _) = self.udp.recv_from(&mut buf).expect("a packet from lanchat");
            if let Ok(p) = Packet::decode(&buf[..n])
                && p.mode() == mode
            {
                return p;
            }
        }
    }

    /// Serves one GETFILEDATA: checks it, sends `data[offset..]` cut at `limit` bytes.
    fn serve(&self, offer_no: u64, data: &[u8], limit: usize) -> FileRequest {
        let (mut stream, _) = self.tcp.accept().unwrap();
        let request = read_request(&mut stream);
        let p = Packet::decode(&request).expect("a packet");
        assert_eq!(p.mode(), GETFILEDATA);
        let r = FileRequest::parse(&p.extra).unwrap();
        assert_eq!(r.offer_no, offer_no);
        let from = usize::try_from(r.offset).unwrap();
        let end = data.len().min(from.saturating_add(limit));
        stream.write_all(&data[from..end]).unwrap();
        r
    }
}

fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while stream.read(&mut b).unwrap_or(0) == 1 && b[0] != 0 {
        out.push(b[0]);
    }
    out
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A lanchat speaking IP Messenger on a free loopback port.
async fn lanchat() -> TestNode {
    TestNode::start(1, "alice", |s| {
        s.ipmsg = true;
        s.ipmsg_port = 0;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_name_lands_inside_the_download_dir_a_folder_is_refused_a_cut_download_resumes() {
    let mut a = lanchat().await;
    let dir = tempfile::tempdir().unwrap();
    let ipmsg = ipmsg_addr(&a);
    let mut peer = Peer::new();
    peer.send(ipmsg, BR_ENTRY, b"mallory\0\0");
    let content = data(300_000);
    let list = ipmsg::encode_attachments(&[
        Attachment {
            file_id: 1,
            name: b"../../../../tmp/evil.sh".to_vec(),
            size: content.len() as u64,
            mtime: 0,
            attr: ipmsg::FILE_REGULAR,
        },
        Attachment {
            file_id: 2,
            name: b"photos".to_vec(),
            size: 0,
            mtime: 0,
            attr: ipmsg::FILE_DIR,
        },
    ])
    .unwrap();
    let mut extra = b"files for you\0".to_vec();
    extra.extend(list);
    extra.push(0);
    let offer_no = peer.send(ipmsg, SENDMSG | FILEATTACHOPT | ipmsg::SENDCHECKOPT, &extra);
    let offer = a.expect(|e| e["event"] == "file_offer").await;
    assert_eq!(
        offer["name"], "../../../../tmp/evil.sh",
        "the peer's word, shown"
    );
    let refused = a.expect(|e| e["event"] == "file_failed").await;
    assert!(
        refused["reason"].as_str().unwrap().contains("folders"),
        "{refused}"
    );
    // The folder's offer is released, and the message acked.
    assert_eq!(
        peer.next(RELEASEFILES).referenced_packet_no(),
        Some(offer_no)
    );

    // Accepted: the peer sends a third and hangs up.
    a.send(json!({"cmd": "accept", "id": offer["id"], "dir": dir.path()}))
        .await;
    let r = peer.serve(offer_no, &content, 100_000);
    assert_eq!((r.file_id, r.offset), (1, 0));
    let failed = a.expect(|e| e["event"] == "file_failed").await;
    assert!(
        failed["reason"].as_str().unwrap().contains("resume"),
        "{failed}"
    );
    // Accepted again: it asks from where it stopped, and gets the rest.
    a.send(json!({"cmd": "accept", "id": offer["id"], "dir": dir.path()}))
        .await;
    let r = peer.serve(offer_no, &content, usize::MAX);
    assert_eq!(r.offset, 100_000);
    let done = a.expect(|e| e["event"] == "file_done").await;
    let path = std::path::PathBuf::from(done["path"].as_str().unwrap());
    assert_eq!(path, dir.path().join("evil.sh"), "no path from the peer");
    assert_eq!(std::fs::read(&path).unwrap(), content);
    assert_eq!(done["bytes"], 200_000, "only the rest crossed again");
    a.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_offer_is_served_only_to_a_request_that_names_it_and_from_an_offset() {
    let mut a = lanchat().await;
    let ipmsg = ipmsg_addr(&a);
    let mut peer = Peer::new();
    peer.send(ipmsg, BR_ENTRY, b"mallory\0\0");
    a.expect(|e| e["event"] == "ipmsg_peer").await;
    let dir = tempfile::tempdir().unwrap();
    let content = data(50_000);
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, &content).unwrap();
    a.send(json!({"cmd": "send_file", "to": "ipmsg:127.0.0.1", "path": path}))
        .await;
    a.expect(|e| e["event"] == "file_offered").await;
    let offer = peer.next(SENDMSG);
    assert!(offer.has(FILEATTACHOPT));
    let list = offer.attachments().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, b"notes.txt");
    assert_eq!(list[0].size, 50_000);
    assert!(list[0].file_id <= 9, "an id that reads the same in hex");
    // Acked: delivered.
    peer.send(ipmsg, RECVMSG, offer.packet_no.to_string().as_bytes());

    let tcp: SocketAddr = ipmsg;
    let ask = |offer_no: u64, file_id: u64, offset: u64| {
        let mut s = TcpStream::connect(tcp).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let req = FileRequest::new(offer_no, file_id, offset);
        let mut bytes = format!("1:9:mallory:evil:{GETFILEDATA}:").into_bytes();
        bytes.extend(req.to_extra());
        s.write_all(&bytes).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    };
    assert!(
        ask(offer.packet_no + 1, list[0].file_id, 0).is_empty(),
        "another offer"
    );
    assert!(ask(offer.packet_no, 7, 0).is_empty(), "another file");
    assert_eq!(
        ask(offer.packet_no, list[0].file_id, 20_000),
        content[20_000..]
    );
    let done = a.expect(|e| e["event"] == "file_done").await;
    assert_eq!(done["bytes"], 30_000);
    // Offered to someone else, it is not served here, whoever names it.
    let elsewhere = dir.path().join("secret.txt");
    std::fs::write(&elsewhere, b"for 10.9.9.9 only").unwrap();
    a.send(json!({"cmd": "send_file", "to": "ipmsg:10.9.9.9", "path": elsewhere}))
        .await;
    a.expect(|e| e["event"] == "file_offered" && e["to"] == "ipmsg:10.9.9.9")
        .await;
    let guessed = (offer.packet_no + 1..offer.packet_no + 20).any(|no| !ask(no, 0, 0).is_empty());
    assert!(!guessed, "served to an address it was not offered to");
    // Released: served no more.
    peer.send(ipmsg, RELEASEFILES, offer.packet_no.to_string().as_bytes());
    a.expect(|e| e["event"] == "file_failed").await;
    assert!(
        ask(offer.packet_no, list[0].file_id, 0).is_empty(),
        "released"
    );
    a.quit().await;
}

fn ipmsg_addr(node: &TestNode) -> SocketAddr {
    node.ipmsg
        .parse()
        .expect("the pipe says where IP Messenger is")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_said_and_the_chat_goes_on_without_ip_messenger() {
    let holder = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut a = TestNode::start(1, "alice", |s| {
        s.ipmsg = true;
        s.ipmsg_port = port;
    })
    .await;
    let said = a.expect(|e| e["event"] == "error").await;
    let text = said["message"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "IP Messenger (iptux, FeiQ) is off: cannot use port {port}: "
        )),
        "{text}"
    );
    assert!(a.ipmsg.is_empty());
    a.send(json!({"cmd": "send", "to": "ipmsg:127.0.0.1", "text": "hi"}))
        .await;
    let e = a.expect(|e| e["event"] == "error").await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("IP Messenger is off"),
        "{e}"
    );
    a.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_of_an_ip_messenger_peer_are_stored_acked_and_shown_once() {
    let mut a = TestNode::start_stored(1, "alice", |s| {
        s.ipmsg = true;
        s.ipmsg_port = 0;
    })
    .await;
    let ipmsg = ipmsg_addr(&a);
    let mut peer = Peer::new();
    peer.send(ipmsg, BR_ENTRY, "马洛丽\0\0".as_bytes());
    let up = a.expect(|e| e["event"] == "ipmsg_peer").await;
    assert_eq!(up["name"], "马洛丽");
    let no = peer.send(ipmsg, SENDMSG | ipmsg::SENDCHECKOPT, "存下来\0".as_bytes());
    // The same packet again (our ack was "lost"): acked again, stored and shown once.
    peer.no -= 1;
    peer.send(ipmsg, SENDMSG | ipmsg::SENDCHECKOPT, "存下来\0".as_bytes());
    let m = a.expect(|e| e["event"] == "message").await;
    assert_eq!(m["conversation"], "ipmsg:127.0.0.1");
    assert_eq!(m["kind"], "ipmsg");
    assert_eq!(m["sender"], "马洛丽");
    assert_eq!(m["text"], "存下来");
    for _ in 0..2 {
        assert_eq!(peer.next(RECVMSG).referenced_packet_no(), Some(no));
    }
    a.send(json!({"cmd": "send", "to": "马洛丽", "text": "收到"}))
        .await;
    let reply = peer.next(SENDMSG);
    assert_eq!(reply.text(), "收到");
    peer.send(ipmsg, RECVMSG, reply.packet_no.to_string().as_bytes());
    a.expect(|e| e["state"] == "delivered").await;
    a.send(json!({"cmd": "send", "to": "ipmsg:127.0.0.1", "text": "again"}))
        .await;
    a.expect(|e| e["state"] == "sending").await;
    // Nothing else arrives: no second copy of the message.
    peer.send(ipmsg, BR_ENTRY, "马洛丽\0\0".as_bytes());
    let next = a
        .expect(|e| e["event"] == "message" || e["event"] == "state")
        .await;
    assert_ne!(next["event"], "message", "{next}");
    a.quit().await;
}
