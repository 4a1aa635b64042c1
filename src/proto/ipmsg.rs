//! The IP Messenger family's wire format (IP Messenger, iptux, FeiQ), without IO.
//!
//! One UDP datagram on port 2425 is one packet; a file download on TCP 2425 starts with one
//! packet too. A packet is ASCII-decimal header fields separated by `:`, then the Extra,
//! which runs to the end of the datagram and may itself contain `:`:
//!
//! ```text
//! Ver:PacketNo:User:Host:Command:Extra
//! Ver       starts with a digit; "1", "1_iptux 0.8.3", "1_lbt6_0#128#<MAC>#0#0#0#4001#9"
//!           (FeiQ). Any is accepted (IPMsg for Windows only checks atoi(Ver) == 1).
//! PacketNo  decimal, chosen by the sender (by convention Unix time, then +1 each packet)
//! User/Host login and machine name, no ':' (senders write ';' instead), no NUL
//! Command   decimal u32: mode in the low 8 bits, option flags above (a client that prints
//!           it signed may send a negative number: read as i32, kept as its u32 bits)
//! Extra     NUL-separated sections, usually with a final NUL:
//!   entries (BR_ENTRY, ANSENTRY, BR_ABSENCE, BR_EXIT)
//!             nick \0 group [\0 \nUN:user\nHN:host\nNN:nick\nGN:group  (IPMsg UTF-8 block)]
//!             nick \0 group \0 icon \0 encoding                      (iptux)
//!             nick                                                   (FeiQ)
//!   SENDMSG   text [\0 attachment list]   (the list with FILEATTACHOPT)
//!   RECVMSG, READMSG, RELEASEFILES, ANSREADMSG   the PacketNo concerned, decimal
//!   GETFILEDATA (TCP)  offerPacketNo(hex):fileID(hex):offset(hex)[:]
//! attachment list: entries fileID:name:size:mtime:attr[:ext...]:\a
//!   fileID decimal in most clients (hex in feiq-cli), name with ':' doubled ("::"),
//!   size, mtime and attr hex; entries end with \a (0x07), written `\a`, `:\a`, `\a:` or `:\a:`.
//! ```
//!
//! [`Packet`] holds the header and the Extra as bytes, exactly as they travel: text
//! fields are in the sender's encoding, which is only known per peer. [`Packet::decode`] and
//! [`Packet::encode`] both run [`check_packet`]. The views on top ([`Packet::charset`],
//! [`Packet::text`], [`Packet::entry`], [`Packet::attachments`], [`FileRequest`]) decode the
//! Extra; [`Local`] builds what lanchat sends, in the encoding chosen for the peer, never with
//! an encryption option (lanchat implements none of them; a peer that saw one would ask for
//! RSA keys and send ciphertext).
//!
//! Encodings ([`Charset`]): a packet with UTF8OPT is UTF-8; a FeiQ packet is GB18030; any
//! other packet is UTF-8 if its bytes are valid UTF-8, else GB18030. UTF-16 is never guessed
//! (iptux does, and misreads GBK as UTF-16). GBK text that happens to be valid UTF-8 (GBK
//! `茅` is UTF-8 `é`) is misread: nothing in the bytes tells them apart, and the runtime may
//! keep the first non-ASCII packet's answer for the peer, as iptux does.
//!
//! Every length is bounded ([`MAX_PACKET`], [`MAX_VERSION_BYTES`], [`MAX_FIELD_BYTES`],
//! [`MAX_ATTACHMENTS`], [`MAX_ATTACHMENT_NAME_BYTES`]) and nothing here panics on peer bytes.
//! The facts come from `IPMSG.md` (IP Messenger's protocol document, iptux observed live,
//! FeiQ from reimplementations); the code is ours.

use thiserror::Error;

/// The UDP and TCP port of the whole family.
pub const PORT: u16 = 2425;
/// Largest packet decoded or encoded: IP Messenger for Windows allows 32 KiB.
pub const MAX_PACKET: usize = 32 * 1024;
/// Largest datagram lanchat sends: under the 4096-byte buffers of FeiQ clones (iptux reads
/// 8192), so every client takes it whole.
pub const MAX_DATAGRAM: usize = 4000;
/// Longest Ver field. FeiQ's is about 45 bytes.
pub const MAX_VERSION_BYTES: usize = 128;
/// Longest User or Host field.
pub const MAX_FIELD_BYTES: usize = 256;
/// Most entries one attachment list may hold.
pub const MAX_ATTACHMENTS: usize = 128;
/// Longest file name in an attachment list, in bytes of the sender's encoding.
pub const MAX_ATTACHMENT_NAME_BYTES: usize = 1024;
/// Most decimal digits of PacketNo (u64) and Command (u32, or a negative i32).
const MAX_NUMBER_DIGITS: usize = 20;

// Modes: the low 8 bits of Command.
pub const NOOPERATION: u32 = 0x00;
pub const BR_ENTRY: u32 = 0x01;
pub const BR_EXIT: u32 = 0x02;
pub const ANSENTRY: u32 = 0x03;
pub const BR_ABSENCE: u32 = 0x04;
pub const SENDMSG: u32 = 0x20;
pub const RECVMSG: u32 = 0x21;
pub const READMSG: u32 = 0x30;
pub const DELMSG: u32 = 0x31;
pub const ANSREADMSG: u32 = 0x32;
pub const GETINFO: u32 = 0x40;
pub const SENDINFO: u32 = 0x41;
pub const GETABSENCEINFO: u32 = 0x50;
pub const SENDABSENCEINFO: u32 = 0x51;
pub const GETFILEDATA: u32 = 0x60;
pub const RELEASEFILES: u32 = 0x61;
pub const GETDIRFILES: u32 = 0x62;
pub const GETPUBKEY: u32 = 0x72;
pub const ANSPUBKEY: u32 = 0x73;
/// FeiQ: what it answers a SENDMSG with, according to a scanner script; unnamed elsewhere.
pub const FEIQ_MSG_ANSWER: u32 = 0x77;
/// FeiQ: the peer is typing.
pub const FEIQ_INPUTTING: u32 = 0x79;
/// FeiQ: the peer stopped typing.
pub const FEIQ_INPUT_END: u32 = 0x7A;
/// FeiQ: an inline image (with FILEATTACHOPT); its data protocol is undocumented.
pub const FEIQ_SENDIMAGE: u32 = 0xC0;
/// FeiQ: window shake ("knock").
pub const FEIQ_KNOCK: u32 = 0xD1;

/// FeiQ: a heartbeat, seen as 472 (this mode with 0x100); a scanner script answers it with 120.
pub const FEIQ_HEARTBEAT: u32 = 0xD8;

/// Mask of the mode bits.
pub const MODE_MASK: u32 = 0xFF;

// Options valid on every command.
/// On entries: the sender is absent. (iptux always sets it: not a sign of absence there.)
pub const ABSENCEOPT: u32 = 0x0000_0100;
pub const SERVEROPT: u32 = 0x0000_0200;
/// Entries sent one by one rather than broadcast.
pub const DIALUPOPT: u32 = 0x0001_0000;
/// On entries: can do attachments. On SENDMSG: an attachment list follows the text.
pub const FILEATTACHOPT: u32 = 0x0020_0000;
/// RSA encryption. Read on peers' packets; never sent by lanchat.
pub const ENCRYPTOPT: u32 = 0x0040_0000;
/// This packet's strings are UTF-8.
pub const UTF8OPT: u32 = 0x0080_0000;
/// On entries: the sender understands UTF-8.
pub const CAPUTF8OPT: u32 = 0x0100_0000;
/// IPMsg 4's binary protocol. Never sent.
pub const CAPIPDICTOPT: u32 = 0x0200_0000;
/// Encrypted attachment list. Never sent.
pub const ENCEXTMSGOPT: u32 = 0x0400_0000;
/// Inline images. Never sent.
pub const CLIPBOARDOPT: u32 = 0x0800_0000;
/// Encrypted files. Never sent.
pub const CAPFILEENCOPT: u32 = 0x0004_0000;

// Options on SENDMSG (0x100 is ABSENCEOPT on entries, SENDCHECKOPT here).
/// Please acknowledge with RECVMSG.
pub const SENDCHECKOPT: u32 = 0x0000_0100;
/// Sealed: the receiver sends READMSG when it opens it.
pub const SECRETOPT: u32 = 0x0000_0200;
/// Sent to everyone: never acknowledged or auto-answered.
pub const BROADCASTOPT: u32 = 0x0000_0400;
pub const MULTICASTOPT: u32 = 0x0000_0800;
/// An automatic reply (absence text): never acknowledged or auto-answered.
pub const AUTORETOPT: u32 = 0x0000_2000;
pub const RETRYOPT: u32 = 0x0000_4000;
pub const PASSWORDOPT: u32 = 0x0000_8000;
pub const NOLOGOPT: u32 = 0x0002_0000;
/// "Don't add me to your list": do not answer with a BR_ENTRY.
pub const NOADDLISTOPT: u32 = 0x0008_0000;
/// With SECRETOPT: the sender wants ANSREADMSG after READMSG.
pub const READCHECKOPT: u32 = 0x0010_0000;

/// Options lanchat never puts on a packet: it implements none of these, and a peer that saw
/// one would ask for keys and send ciphertext. [`Packet::encode`] refuses them.
pub const NEVER_SENT: u32 = ENCRYPTOPT | CAPIPDICTOPT | ENCEXTMSGOPT | CLIPBOARDOPT | CAPFILEENCOPT;

/// What lanchat's entries advertise: attachments and UTF-8.
pub const CAPABILITIES: u32 = FILEATTACHOPT | CAPUTF8OPT;

// Attachment attributes (the low byte of attr).
pub const FILE_REGULAR: u32 = 0x1;
pub const FILE_DIR: u32 = 0x2;
pub const FILE_RETPARENT: u32 = 0x3;

/// The attachment entry separator.
const BELL: u8 = 0x07;

/// One IP Messenger packet, its fields as the bytes that travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Starts with an ASCII digit; no `:` or NUL; at most [`MAX_VERSION_BYTES`].
    pub version: Vec<u8>,
    pub packet_no: u64,
    /// No `:` or NUL; at most [`MAX_FIELD_BYTES`]; in the sender's encoding.
    pub user: Vec<u8>,
    /// As `user`.
    pub host: Vec<u8>,
    /// Mode (low 8 bits) and options.
    pub command: u32,
    /// Everything after the fifth `:`, final NUL included.
    pub extra: Vec<u8>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not an IP Messenger packet")]
    NotIpmsg,
    #[error("packet is {len} bytes; at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("invalid field: {0}")]
    Invalid(&'static str),
    #[error("{0} or more attachments; at most {max}", max = MAX_ATTACHMENTS)]
    TooManyAttachments(usize),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("packet is {len} bytes; at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("invalid field: {0}")]
    Invalid(&'static str),
}

/// What makes a packet malformed, either way: the header fields' contents and lengths.
pub fn check_packet(p: &Packet) -> Result<(), &'static str> {
    if !p.version.first().is_some_and(u8::is_ascii_digit) {
        return Err("version must start with a digit");
    }
    if p.version.len() > MAX_VERSION_BYTES {
        return Err("version too long");
    }
    let clean = |f: &[u8]| !f.iter().any(|&b| b == b':' || b == 0);
    if !clean(&p.version) || !clean(&p.user) || !clean(&p.host) {
        return Err("':' or NUL in a header field");
    }
    if p.user.len() > MAX_FIELD_BYTES || p.host.len() > MAX_FIELD_BYTES {
        return Err("user or host too long");
    }
    Ok(())
}

/// Splits a datagram at its first five `:`. `None` unless the five header fields are there.
fn split_header(data: &[u8]) -> Option<[&[u8]; 6]> {
    let mut fields: [&[u8]; 6] = [&[]; 6];
    let mut rest = data;
    for field in fields.iter_mut().take(5) {
        let colon = rest.iter().position(|&b| b == b':')?;
        let (head, tail) = rest.split_at(colon);
        *field = head;
        rest = tail.get(1..)?;
    }
    fields[5] = rest;
    Some(fields)
}

fn parse_decimal_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > MAX_NUMBER_DIGITS || !field.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// Command: decimal u32, or a negative decimal i32 (its bits).
fn parse_command(field: &[u8]) -> Option<u32> {
    match field.split_first() {
        Some((b'-', digits)) => {
            let magnitude = parse_decimal_u64(digits)?;
            let value = i64::try_from(magnitude).ok()?.checked_neg()?;
            i32::try_from(value).ok().map(|v| v as u32)
        }
        _ => u32::try_from(parse_decimal_u64(field)?).ok(),
    }
}

/// Whether `data` is an IP Messenger packet rather than a lanchat frame or plain text.
///
/// The rule (IPMSG.md §4.1): `^[0-9][^:]*:[0-9]+:[^:]*:[^:]*:-?[0-9]+:`, the numbers
/// fitting u64 and u32 (or i32), the header within [`MAX_VERSION_BYTES`] and
/// [`MAX_FIELD_BYTES`], no NUL in it. A native frame starts with 0xFF, which is not a digit,
/// so it is never taken for one. Every packet [`Packet::decode`] accepts passes.
///
/// The risk is the other way: a plain-text peer whose message happens to read like a header,
/// "1:2:3:4:5:hello", is taken for IP Messenger (here a BR_ABSENCE from user "3" on host
/// "4") and not shown as text. Text needs a digit first, a decimal second and fifth field,
/// and five colons with none in the third and fourth field for that; people seldom type it,
/// and IP Messenger arrives on its own port (2425), where plain text is not expected.
pub fn is_ipmsg(data: &[u8]) -> bool {
    if data.len() > MAX_PACKET {
        return false;
    }
    let Some([version, packet_no, user, host, command, _]) = split_header(data) else {
        return false;
    };
    version.first().is_some_and(u8::is_ascii_digit)
        && version.len() <= MAX_VERSION_BYTES
        && user.len() <= MAX_FIELD_BYTES
        && host.len() <= MAX_FIELD_BYTES
        && ![version, user, host].iter().any(|f| f.contains(&0))
        && parse_decimal_u64(packet_no).is_some()
        && parse_command(command).is_some()
}

impl Packet {
    /// Reads one packet (a UDP datagram, or a TCP request up to its NUL or the end).
    /// Accepts any Ver starting with a digit; the Extra is kept whole.
    pub fn decode(data: &[u8]) -> Result<Packet, DecodeError> {
        if data.len() > MAX_PACKET {
            return Err(DecodeError::TooLong {
                len: data.len(),
                max: MAX_PACKET,
            });
        }
        let [version, packet_no, user, host, command, extra] =
            split_header(data).ok_or(DecodeError::NotIpmsg)?;
        if !version.first().is_some_and(u8::is_ascii_digit) {
            return Err(DecodeError::NotIpmsg);
        }
        let packet = Packet {
            version: version.to_vec(),
            packet_no: parse_decimal_u64(packet_no).ok_or(DecodeError::Invalid("packet number"))?,
            user: user.to_vec(),
            host: host.to_vec(),
            command: parse_command(command).ok_or(DecodeError::Invalid("command"))?,
            extra: extra.to_vec(),
        };
        check_packet(&packet).map_err(DecodeError::Invalid)?;
        Ok(packet)
    }

    /// The packet's bytes. Refuses malformed fields, packets over [`MAX_PACKET`], and any
    /// option in [`NEVER_SENT`].
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        check_packet(self).map_err(EncodeError::Invalid)?;
        if self.command & NEVER_SENT != 0 {
            return Err(EncodeError::Invalid("encryption options are never sent"));
        }
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.version);
        out.push(b':');
        out.extend_from_slice(self.packet_no.to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(&self.user);
        out.push(b':');
        out.extend_from_slice(&self.host);
        out.push(b':');
        out.extend_from_slice(self.command.to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(&self.extra);
        if out.len() > MAX_PACKET {
            return Err(EncodeError::TooLong {
                len: out.len(),
                max: MAX_PACKET,
            });
        }
        Ok(out)
    }

    /// Bytes [`Packet::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.version.len()
            + decimal_len(self.packet_no)
            + self.user.len()
            + self.host.len()
            + decimal_len(u64::from(self.command))
            + 5
            + self.extra.len()
    }

    /// The mode: the low 8 bits of the command.
    pub fn mode(&self) -> u32 {
        self.command & MODE_MASK
    }

    /// Whether every bit of `option` is set.
    pub fn has(&self, option: u32) -> bool {
        self.command & option == option
    }

    /// Which program sent it, from its Ver.
    pub fn client(&self) -> Client {
        Client::of(&self.version)
    }

    /// The sections of the Extra: one final NUL dropped, then split at every NUL. The first
    /// is the text (or nick); an empty Extra has one empty section.
    pub fn sections(&self) -> Vec<&[u8]> {
        let extra = self.extra.strip_suffix(&[0]).unwrap_or(&self.extra);
        extra.split(|&b| b == 0).collect()
    }

    /// The encoding this packet's strings are in (see the module doc).
    pub fn charset(&self) -> Charset {
        if self.has(UTF8OPT) {
            return Charset::Utf8;
        }
        if matches!(self.client(), Client::FeiQ { .. }) {
            return Charset::Gb18030;
        }
        let utf8 = |b: &[u8]| std::str::from_utf8(b).is_ok();
        if utf8(&self.user) && utf8(&self.host) && utf8(&self.extra) {
            Charset::Utf8
        } else {
            Charset::Gb18030
        }
    }

    /// The message text (the first section) for display: decoded, CRLF made LF, and from a
    /// FeiQ peer without its font suffix or its control placeholders. Never holds a NUL.
    pub fn text(&self) -> String {
        let raw = self.sections().first().copied().unwrap_or_default();
        let text = self.charset().decode(raw).replace("\r\n", "\n");
        if matches!(self.client(), Client::FeiQ { .. }) {
            strip_feiq_decoration(&text).to_owned()
        } else {
            text
        }
    }

    /// The user and host fields, decoded.
    pub fn user_host(&self) -> (String, String) {
        let cs = self.charset();
        (cs.decode(&self.user), cs.decode(&self.host))
    }

    /// What an entry packet (BR_ENTRY, ANSENTRY, BR_ABSENCE, BR_EXIT) says about its sender.
    pub fn entry(&self) -> Entry {
        let cs = self.charset();
        let sections = self.sections();
        let section = |i: usize| sections.get(i).copied().unwrap_or_default();
        let block = sections
            .iter()
            .skip(1)
            .find(|s| s.first() == Some(&b'\n'))
            .map(|s| Utf8Names::parse(s));
        let third = section(2);
        let icon = (!third.is_empty() && third.first() != Some(&b'\n')).then(|| cs.decode(third));
        let encoding = sections
            .get(3)
            .filter(|s| !s.is_empty())
            .map(|s| cs.decode(s));
        let mut nick = cs.decode(section(0));
        let mut group = cs.decode(section(1));
        if let Some(names) = &block {
            if !names.nick.is_empty() {
                nick.clone_from(&names.nick);
            }
            if !names.group.is_empty() {
                group.clone_from(&names.group);
            }
        }
        Entry {
            nick,
            group,
            absent: self.has(ABSENCEOPT) && !matches!(self.client(), Client::Iptux),
            names: block,
            icon,
            encoding,
        }
    }

    /// The attachment list of a SENDMSG with FILEATTACHOPT (its second section); empty for
    /// any other packet.
    pub fn attachments(&self) -> Result<Vec<Attachment>, DecodeError> {
        if self.mode() != SENDMSG || !self.has(FILEATTACHOPT) {
            return Ok(Vec::new());
        }
        match self.sections().get(1) {
            Some(list) => parse_attachments(list),
            None => Ok(Vec::new()),
        }
    }

    /// The PacketNo a RECVMSG, READMSG, ANSREADMSG, DELMSG or RELEASEFILES is about.
    pub fn referenced_packet_no(&self) -> Option<u64> {
        if !matches!(
            self.mode(),
            RECVMSG | READMSG | ANSREADMSG | DELMSG | RELEASEFILES
        ) {
            return None;
        }
        let first = self.sections().first().copied().unwrap_or_default();
        parse_decimal_u64(first.trim_ascii())
    }

    /// A message that asks for a RECVMSG: SENDCHECKOPT without BROADCASTOPT or AUTORETOPT.
    /// (A RECVMSG is never answered, whatever bits it carries.)
    pub fn wants_ack(&self) -> bool {
        self.mode() == SENDMSG
            && self.has(SENDCHECKOPT)
            && !self.has(BROADCASTOPT)
            && !self.has(AUTORETOPT)
    }

    /// FeiQ's window shake.
    pub fn is_shake(&self) -> bool {
        self.mode() == FEIQ_KNOCK
    }

    /// FeiQ's typing notices, to be dropped silently.
    pub fn is_typing_notice(&self) -> bool {
        matches!(self.mode(), FEIQ_INPUTTING | FEIQ_INPUT_END)
    }
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Drops FeiQ's decorations from message text: a trailing `{…}` font block (unless nothing
/// would be left: then the braces are the user's), and the whole text when it is one of
/// FeiQ's `/~#>…<B~` control placeholders.
pub fn strip_feiq_decoration(text: &str) -> &str {
    if text.starts_with("/~#>") && text.ends_with("<B~") {
        return "";
    }
    if text.ends_with('}')
        && let Some(open) = text.rfind('{')
        && open > 0
    {
        return &text[..open];
    }
    text
}

/// Which program a peer runs, from its Ver field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// `1_lbt…`: GB18030 always, may append font blocks, shakes windows.
    FeiQ {
        /// The 12 hex digits of its MAC address (third `#` field), upper case, if present.
        mac: Option<String>,
    },
    /// Contains `iptux`: sets ABSENCEOPT on every entry, ignores UTF8OPT, mirrors the
    /// encoding it detected in us.
    Iptux,
    /// IP Messenger and everything else.
    IpMsg,
}

impl Client {
    pub fn of(version: &[u8]) -> Client {
        if version.starts_with(b"1_lbt") {
            let mac = version
                .split(|&b| b == b'#')
                .nth(2)
                .filter(|m| m.len() == 12 && m.iter().all(u8::is_ascii_hexdigit))
                .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase());
            Client::FeiQ { mac }
        } else if version.windows(5).any(|w| w == b"iptux") {
            Client::Iptux
        } else {
            Client::IpMsg
        }
    }
}

/// The encodings lanchat reads and writes. Never UTF-16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    /// GBK's superset: what Chinese Windows clients (FeiQ) write; every character fits.
    Gb18030,
}

impl Charset {
    /// UTF-8 if the bytes are valid UTF-8, else GB18030.
    pub fn detect(bytes: &[u8]) -> Charset {
        if std::str::from_utf8(bytes).is_ok() {
            Charset::Utf8
        } else {
            Charset::Gb18030
        }
    }

    /// What to write to a peer: UTF-8 to one that advertised CAPUTF8OPT and to iptux (which
    /// mirrors what it detects), GB18030 to FeiQ and everyone else.
    pub fn for_peer(client: &Client, entry_command: u32) -> Charset {
        if matches!(client, Client::FeiQ { .. }) {
            Charset::Gb18030
        } else if entry_command & CAPUTF8OPT != 0 || matches!(client, Client::Iptux) {
            Charset::Utf8
        } else {
            Charset::Gb18030
        }
    }

    /// Decodes, replacing what is malformed with U+FFFD. Never fails.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Gb18030 => encoding_rs::GB18030
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        }
    }

    /// Encodes; every character fits both encodings.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Charset::Utf8 => text.as_bytes().to_vec(),
            Charset::Gb18030 => encoding_rs::GB18030.encode(text).0.into_owned(),
        }
    }

    /// The option a packet written in this encoding carries.
    pub fn option(self) -> u32 {
        match self {
            Charset::Utf8 => UTF8OPT,
            Charset::Gb18030 => 0,
        }
    }
}

/// IP Messenger's UTF-8 block in entries: `\nUN:user\nHN:host\nNN:nick\nGN:group\nVS:ver`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Utf8Names {
    pub user: String,
    pub host: String,
    pub nick: String,
    pub group: String,
    pub version: String,
}

impl Utf8Names {
    fn parse(block: &[u8]) -> Utf8Names {
        let mut names = Utf8Names::default();
        for line in block.split(|&b| b == b'\n') {
            let (Some(key), Some(value)) = (line.get(..3), line.get(3..)) else {
                continue;
            };
            let slot = match key {
                b"UN:" => &mut names.user,
                b"HN:" => &mut names.host,
                b"NN:" => &mut names.nick,
                b"GN:" => &mut names.group,
                b"VS:" => &mut names.version,
                _ => continue,
            };
            *slot = String::from_utf8_lossy(value).replace('\r', "");
        }
        names
    }
}

/// What an entry packet says about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// From the UTF-8 block if it names one, else the first section.
    pub nick: String,
    /// As `nick`; empty when none.
    pub group: String,
    /// ABSENCEOPT, except from iptux, which sets it always.
    pub absent: bool,
    /// IP Messenger's UTF-8 block, if any.
    pub names: Option<Utf8Names>,
    /// iptux's icon file (third section).
    pub icon: Option<String>,
    /// iptux's declared encoding (fourth section). Not to be trusted: iptux keeps saying
    /// `utf-8` after it has switched to GBK for a peer.
    pub encoding: Option<String>,
}

/// One entry of an attachment list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Read as decimal when all its digits are decimal (IPMsg, iptux, FeiQ), else as hex
    /// (feiq-cli). Asked for in hex in GETFILEDATA. A feiq-cli id written in hex with only
    /// decimal digits ("10" = 16) is misread: lanchat's own ids are 0 to 9 for that reason.
    pub file_id: u64,
    /// The name in the sender's encoding, `::` already made `:`. Untrusted: a path may hide
    /// in it.
    pub name: Vec<u8>,
    pub size: u64,
    /// Unix time (iptux puts the ctime here).
    pub mtime: u64,
    /// [`FILE_REGULAR`], [`FILE_DIR`] in the low byte; option bits above.
    pub attr: u32,
}

impl Attachment {
    /// FILE_REGULAR, FILE_DIR, …: the low byte of `attr`.
    pub fn kind(&self) -> u32 {
        self.attr & 0xFF
    }
}

fn parse_hex_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 || !field.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(field).ok()?, 16).ok()
}

fn parse_file_id(field: &[u8]) -> Option<u64> {
    if field.iter().all(u8::is_ascii_digit) {
        parse_decimal_u64(field)
    } else {
        parse_hex_u64(field)
    }
}

/// Reads an attachment list: entries `fileID:name:size:mtime:attr[:ext…]` ending in `\a`,
/// with the separators iptux accepts (`\a`, `:\a`, `\a:`, `:\a:`). Strict: every entry needs
/// all five fields, numbers must fit, at most [`MAX_ATTACHMENTS`] entries and names of at
/// most [`MAX_ATTACHMENT_NAME_BYTES`].
pub fn parse_attachments(list: &[u8]) -> Result<Vec<Attachment>, DecodeError> {
    let mut out = Vec::new();
    for chunk in list.split(|&b| b == BELL) {
        let chunk = chunk.strip_prefix(b":").unwrap_or(chunk);
        if chunk.is_empty() {
            continue;
        }
        if out.len() == MAX_ATTACHMENTS {
            return Err(DecodeError::TooManyAttachments(out.len() + 1));
        }
        out.push(parse_attachment(chunk)?);
    }
    Ok(out)
}

fn parse_attachment(entry: &[u8]) -> Result<Attachment, DecodeError> {
    let bad = DecodeError::Invalid;
    let colon = entry
        .iter()
        .position(|&b| b == b':')
        .ok_or(bad("attachment"))?;
    let (id, rest) = entry.split_at(colon);
    let file_id = parse_file_id(id).ok_or(bad("attachment id"))?;
    // The name runs to the first ':' that is not part of a "::".
    let rest = rest.get(1..).unwrap_or_default();
    let mut name = Vec::new();
    let mut i = 0;
    let after_name = loop {
        match (rest.get(i), rest.get(i + 1)) {
            (None, _) => return Err(bad("attachment fields")),
            (Some(b':'), Some(b':')) => {
                name.push(b':');
                i += 2;
            }
            (Some(b':'), _) => break rest.get(i + 1..).unwrap_or_default(),
            (Some(&b), _) => {
                name.push(b);
                i += 1;
            }
        }
        if name.len() > MAX_ATTACHMENT_NAME_BYTES {
            return Err(bad("attachment name too long"));
        }
    };
    if name.is_empty() {
        return Err(bad("empty attachment name"));
    }
    let mut fields = after_name.split(|&b| b == b':');
    let mut hex = |what| {
        fields
            .next()
            .and_then(|f| parse_hex_u64(f.trim_ascii()))
            .ok_or(bad(what))
    };
    let size = hex("attachment size")?;
    let mtime = hex("attachment mtime")?;
    let attr = u32::try_from(hex("attachment attr")?).map_err(|_| bad("attachment attr"))?;
    Ok(Attachment {
        file_id,
        name,
        size,
        mtime,
        attr,
    })
}

/// Writes an attachment list: `fileID:name:size:mtime:attr:\a` each, the id in decimal,
/// `:` in names doubled, numbers in hex. Refuses empty or over-long names, and NUL or `\a`
/// in them.
pub fn encode_attachments(list: &[Attachment]) -> Result<Vec<u8>, EncodeError> {
    if list.len() > MAX_ATTACHMENTS {
        return Err(EncodeError::Invalid("too many attachments"));
    }
    let mut out = Vec::new();
    for a in list {
        if a.name.is_empty() || a.name.len() > MAX_ATTACHMENT_NAME_BYTES {
            return Err(EncodeError::Invalid("attachment name length"));
        }
        if a.name.iter().any(|&b| b == 0 || b == BELL) {
            return Err(EncodeError::Invalid("NUL or BEL in an attachment name"));
        }
        out.extend_from_slice(a.file_id.to_string().as_bytes());
        out.push(b':');
        for &b in &a.name {
            if b == b':' {
                out.push(b':');
            }
            out.push(b);
        }
        out.extend_from_slice(format!(":{:x}:{:x}:{:x}:", a.size, a.mtime, a.attr).as_bytes());
        out.push(BELL);
    }
    Ok(out)
}

/// A GETFILEDATA request's Extra: `offerPacketNo:fileID:offset`, all hex (a trailing `:`
/// or NUL allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRequest {
    /// The PacketNo of the SENDMSG that offered the file.
    pub offer_no: u64,
    /// The file id, read as hex.
    pub file_id: u64,
    /// The same digits read as decimal, when they are all decimal and mean something else:
    /// a server that finds no file under `file_id` tries this (what iptux does).
    pub file_id_decimal: Option<u64>,
    pub offset: u64,
}

impl FileRequest {
    pub fn new(offer_no: u64, file_id: u64, offset: u64) -> FileRequest {
        FileRequest {
            offer_no,
            file_id,
            file_id_decimal: None,
            offset,
        }
        .with_decimal()
    }

    fn with_decimal(mut self) -> FileRequest {
        let hex = format!("{:x}", self.file_id);
        self.file_id_decimal = parse_decimal_u64(hex.as_bytes()).filter(|&d| d != self.file_id);
        self
    }

    /// Reads a GETFILEDATA packet's Extra.
    pub fn parse(extra: &[u8]) -> Result<FileRequest, DecodeError> {
        let extra = extra.split(|&b| b == 0).next().unwrap_or_default();
        let mut fields = extra.split(|&b| b == b':');
        let mut hex = |what| {
            fields
                .next()
                .and_then(|f| parse_hex_u64(f.trim_ascii()))
                .ok_or(DecodeError::Invalid(what))
        };
        let offer_no = hex("offer packet number")?;
        let file_id = hex("file id")?;
        let offset = hex("offset")?;
        Ok(FileRequest {
            offer_no,
            file_id,
            file_id_decimal: None,
            offset,
        }
        .with_decimal())
    }

    /// The Extra that asks for it: hex fields, a final NUL.
    pub fn to_extra(&self) -> Vec<u8> {
        format!("{:x}:{:x}:{:x}\0", self.offer_no, self.file_id, self.offset).into_bytes()
    }

    /// The ids to look the file up by, in order: hex, then decimal.
    pub fn file_ids(&self) -> impl Iterator<Item = u64> {
        std::iter::once(self.file_id).chain(self.file_id_decimal)
    }
}

/// Who lanchat is on the wire, and the packets it sends.
///
/// Names are written in the packet's encoding with `:` made `;` and NUL dropped (they would
/// break the header or the sections). Builders never set an option in [`NEVER_SENT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// Ver: `1` or `1_lanchat <version>` (atoi gives 1; iptux shows the rest).
    pub version: String,
    pub user: String,
    pub host: String,
    pub nick: String,
    pub group: String,
}

fn header_name(charset: Charset, name: &str) -> Vec<u8> {
    let clean: String = name
        .chars()
        .filter(|&c| c != '\0')
        .map(|c| if c == ':' { ';' } else { c })
        .collect();
    let mut bytes = charset.encode(&clean);
    // Cut to the limit on a character boundary of the encoding.
    if bytes.len() > MAX_FIELD_BYTES {
        bytes = split_encoded(&clean, charset, MAX_FIELD_BYTES)
            .into_iter()
            .next()
            .unwrap_or_default();
    }
    bytes
}

/// Text with NUL dropped (it would end the section).
fn section_text(charset: Charset, text: &str) -> Vec<u8> {
    charset.encode(&text.replace('\0', ""))
}

impl Local {
    /// A packet from us: header in `charset`, UTF8OPT set when that is UTF-8.
    pub fn packet(&self, packet_no: u64, command: u32, charset: Charset, extra: Vec<u8>) -> Packet {
        let version: Vec<u8> = self
            .version
            .bytes()
            .filter(|&b| b.is_ascii_graphic() && b != b':' || b == b' ')
            .take(MAX_VERSION_BYTES)
            .collect();
        Packet {
            version: if version.first().is_some_and(u8::is_ascii_digit) {
                version
            } else {
                b"1".to_vec()
            },
            packet_no,
            user: header_name(charset, &self.user),
            host: header_name(charset, &self.host),
            command: (command | charset.option()) & !NEVER_SENT,
            extra,
        }
    }

    /// An entry-type packet: BR_ENTRY, ANSENTRY, BR_ABSENCE or BR_EXIT, with our
    /// [`CAPABILITIES`] (and `extra_options` such as DIALUPOPT) and ABSENCEOPT when absent.
    ///
    /// Extra: `nick \0 group \0 \nUN:user\nHN:host\nNN:nick\nGN:group \0`. The first two are
    /// in GB18030 (what FeiQ and Chinese Windows read), except in an ANSENTRY to a peer that
    /// advertised CAPUTF8OPT (`charset` UTF-8): then they and the header are UTF-8 and the
    /// packet carries UTF8OPT, as IP Messenger answers. BR_ENTRY, BR_ABSENCE and BR_EXIT never
    /// carry UTF8OPT. The block is always UTF-8.
    pub fn entry(
        &self,
        packet_no: u64,
        mode: u32,
        absent: bool,
        extra_options: u32,
        charset: Charset,
    ) -> Packet {
        let mode = mode & MODE_MASK;
        let charset = if mode == ANSENTRY {
            charset
        } else {
            Charset::Gb18030
        };
        let mut extra = section_text(charset, &self.nick);
        extra.push(0);
        extra.extend(section_text(charset, &self.group));
        extra.push(0);
        let line = |key: &str, value: &str| {
            let value: String = value.chars().filter(|&c| c != '\0' && c != '\n').collect();
            format!("\n{key}:{value}")
        };
        let block = [
            line("UN", &self.user),
            line("HN", &self.host),
            line("NN", &self.nick),
            line("GN", &self.group),
        ]
        .concat();
        extra.extend_from_slice(block.as_bytes());
        extra.push(0);
        let absence = if absent { ABSENCEOPT } else { 0 };
        let command = mode | CAPABILITIES | absence | (extra_options & !MODE_MASK);
        self.packet(packet_no, command, charset, extra)
    }

    /// `text` as SENDMSGs with SENDCHECKOPT (and `options`), numbered from `first_no`
    /// upwards, each within [`MAX_DATAGRAM`]; empty text gives none. NULs are dropped.
    pub fn messages(
        &self,
        first_no: u64,
        text: &str,
        charset: Charset,
        options: u32,
    ) -> Vec<Packet> {
        let text = text.replace('\0', "");
        let probe = self.packet(
            u64::MAX,
            SENDMSG | SENDCHECKOPT | options,
            charset,
            Vec::new(),
        );
        // Room for the text: a datagram less the header (at its widest packet number) and
        // the final NUL.
        let room = MAX_DATAGRAM.saturating_sub(probe.encoded_len() + 1).max(4);
        split_encoded(&text, charset, room)
            .into_iter()
            .enumerate()
            .map(|(i, mut chunk)| {
                chunk.push(0);
                let no = first_no.wrapping_add(i as u64);
                self.packet(no, SENDMSG | SENDCHECKOPT | options, charset, chunk)
            })
            .collect()
    }

    /// A message that offers files: SENDMSG|FILEATTACHOPT|SENDCHECKOPT, `text \0 list \0`.
    /// The names are in `charset`. Refused if it does not fit [`MAX_DATAGRAM`].
    pub fn offer(
        &self,
        packet_no: u64,
        text: &str,
        files: &[Attachment],
        charset: Charset,
    ) -> Result<Packet, EncodeError> {
        let mut extra = section_text(charset, text);
        extra.push(0);
        extra.extend(encode_attachments(files)?);
        extra.push(0);
        let p = self.packet(
            packet_no,
            SENDMSG | SENDCHECKOPT | FILEATTACHOPT,
            charset,
            extra,
        );
        if p.encoded_len() > MAX_DATAGRAM {
            return Err(EncodeError::TooLong {
                len: p.encoded_len(),
                max: MAX_DATAGRAM,
            });
        }
        Ok(p)
    }

    /// A packet whose Extra is a PacketNo in decimal: RECVMSG (the ack), READMSG,
    /// ANSREADMSG, RELEASEFILES.
    pub fn about(&self, packet_no: u64, mode: u32, about: u64) -> Packet {
        let extra = format!("{about}\0").into_bytes();
        self.packet(packet_no, mode & MODE_MASK, Charset::Utf8, extra)
            .without_utf8_option()
    }

    /// The TCP request for a file (or a part of it, from `offset`).
    pub fn get_file_data(&self, packet_no: u64, request: &FileRequest) -> Packet {
        self.packet(packet_no, GETFILEDATA, Charset::Utf8, request.to_extra())
            .without_utf8_option()
    }

    /// SENDINFO: our version string, answering GETINFO.
    pub fn info(&self, packet_no: u64) -> Packet {
        let extra = format!("{}\0", self.version.replace('\0', "")).into_bytes();
        self.packet(packet_no, SENDINFO, Charset::Utf8, extra)
            .without_utf8_option()
    }

    /// SENDABSENCEINFO: the absence text, or "Not absence mode" when `text` is `None`.
    pub fn absence_info(&self, packet_no: u64, text: Option<&str>, charset: Charset) -> Packet {
        let mut extra = section_text(charset, text.unwrap_or("Not absence mode"));
        extra.push(0);
        self.packet(packet_no, SENDABSENCEINFO, charset, extra)
    }
}

impl Packet {
    /// ASCII-only packets need no UTF8OPT; leaving it off keeps iptux-era readers happy.
    fn without_utf8_option(mut self) -> Packet {
        if self.user.is_ascii() && self.host.is_ascii() && self.extra.is_ascii() {
            self.command &= !UTF8OPT;
        }
        self
    }
}

/// Cuts `text` into pieces of at most `room` bytes in `charset`, never inside a character
/// (of either encoding: every piece is whole characters). Empty text gives none.
pub fn split_encoded(text: &str, charset: Charset, room: usize) -> Vec<Vec<u8>> {
    let room = room.max(4); // a GB18030 or UTF-8 character is at most 4 bytes
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let encoded = charset.encode(c.encode_utf8(&mut buf));
        if current.len() + encoded.len() > room {
            out.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(&encoded);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests;
