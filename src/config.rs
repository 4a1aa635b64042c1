//! Where things live and how this instance is set up: command-line flags over environment
//! over `config.toml` over defaults. Also the identity key, `known_peers` and the data-dir
//! lock.

use crate::i18n::Lang;
use crate::keys::{Action, KeySpec, Mode};
use crate::proto::{self, Identity, KnownPeer, NodeId, TrustLevel};
use crate::tr;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Light or dark terminal background: which of the 16 colours go where (a setting of the
/// app; the view picks its palette by it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    #[default]
    Dark,
    Light,
}

pub const CONFIG_FILE: &str = "config.toml";
/// This node's X25519 secret key, 64 hex digits; the public key is derived from it.
pub const IDENTITY_FILE: &str = "identity";
/// Keys met before, SSH-style: one line per key.
pub const KNOWN_PEERS_FILE: &str = "known_peers";
/// The latest IK handshake timestamp of each key (`KEY TIMESTAMP` per line), kept so that a
/// captured initiation is refused after a restart too.
pub const HANDSHAKE_TIMES_FILE: &str = "handshake_times";
pub const LOCK_FILE: &str = "lanchat.lock";
pub const LOG_FILE: &str = "lanchat.log";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("no data directory: set --data-dir or LANCHAT_DATA_DIR")]
    NoHome,
    #[error("{0}")]
    Invalid(String),
    #[error(
        "another lanchat is already running with data dir {dir}{}; give this one its own \
         --data-dir",
        .pid.as_ref().map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked { dir: PathBuf, pid: Option<String> },
    /// The identity key file can be read by others.
    #[error("{} is readable by others (mode {mode:o}); run chmod 600 on it", .path.display())]
    ReadableKey { path: PathBuf, mode: u32 },
    #[error(
        "{}: not a lanchat identity key (expected 64 hex digits); move it aside to create a \
         new one",
        .path.display()
    )]
    NotAKey { path: PathBuf },
    #[error("no randomness for a new identity: {0}")]
    NoRandom(String),
    /// A line of `known_peers` that does not parse.
    #[error("{}: line {line}: {}", .path.display(), .fault.text(Lang::En))]
    KnownPeersLine {
        path: PathBuf,
        line: usize,
        fault: PeersFault,
    },
}

/// What is wrong with a line of `known_peers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeersFault {
    Key,
    Level,
    Ip,
    Name,
}

impl PeersFault {
    fn text(self, lang: Lang) -> String {
        match self {
            PeersFault::Key => tr!(lang, "config-peers-key"),
            PeersFault::Level => tr!(lang, "config-peers-level"),
            PeersFault::Ip => tr!(lang, "config-peers-ip"),
            PeersFault::Name => tr!(lang, "config-peers-name"),
        }
    }
}

impl ConfigError {
    /// The error as the user reads it in `lang`: in English exactly its `Display`. Messages
    /// made while parsing or resolving (`Parse`, `Invalid`) are already in the language
    /// they were made in ([`parse_file_in`], [`resolve`]); what the system says (an
    /// `io::Error`) stays as it says it.
    pub fn text(&self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::En, _) | (_, ConfigError::Invalid(_)) => self.to_string(),
            (_, ConfigError::Parse { path, message }) => tr!(
                lang,
                "config-io",
                path = path.display().to_string(),
                detail = message.clone()
            ),
            (_, ConfigError::Io { path, source }) => tr!(
                lang,
                "config-io",
                path = path.display().to_string(),
                detail = source.to_string()
            ),
            (_, ConfigError::NoHome) => tr!(lang, "config-no-home"),
            (_, ConfigError::ReadableKey { path, mode }) => tr!(
                lang,
                "config-readable-key",
                path = path.display().to_string(),
                mode = format!("{mode:o}")
            ),
            (_, ConfigError::NotAKey { path }) => {
                tr!(lang, "config-not-a-key", path = path.display().to_string())
            }
            (_, ConfigError::NoRandom(e)) => tr!(lang, "config-no-random", detail = e.clone()),
            (_, ConfigError::KnownPeersLine { path, line, fault }) => tr!(
                lang,
                "config-line-in",
                path = path.display().to_string(),
                line = *line,
                message = fault.text(lang)
            ),
            (_, ConfigError::Locked { dir, pid }) => match pid {
                Some(pid) => tr!(
                    lang,
                    "config-locked-pid",
                    dir = dir.display().to_string(),
                    pid = pid.clone()
                ),
                None => tr!(lang, "config-locked", dir = dir.display().to_string()),
            },
        }
    }
}

thread_local! {
    /// The language of the messages the deserialisers below write, for the one
    /// [`parse_file_in`] running on this thread: serde hands them no context of ours, so
    /// `parse_file_in` sets this for the length of its call and puts it back after.
    static PARSE_LANG: Cell<Lang> = const { Cell::new(Lang::En) };
}

fn parse_lang() -> Lang {
    PARSE_LANG.with(Cell::get)
}

/// The list an "unknown ..." message offers: the names joined with ", ".
fn names_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn key_type_error() -> String {
    tr!(parse_lang(), "config-key-type")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ConfigError + '_ {
    move |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What the command line (or a test) asks for; `None` means "not said".
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    pub peers: Vec<String>,
    pub no_discovery: bool,
    pub discovery_port: Option<u16>,
    /// `--no-ipmsg`: no IP Messenger (iptux, FeiQ) on UDP 2425.
    pub no_ipmsg: bool,
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// Downloads running at once unless `max_transfers` says otherwise.
pub const DEFAULT_MAX_TRANSFERS: usize = 4;

/// `config.toml`. Every key is optional; unknown keys are an error, so a typo is not
/// silently ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub name: Option<String>,
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
    pub discovery: Option<bool>,
    pub discovery_port: Option<u16>,
    #[serde(default)]
    pub peers: Vec<String>,
    /// Send read receipts and show peers' (off is off both ways).
    pub read_receipts: Option<bool>,
    /// Ring the terminal bell when a message arrives out of view.
    pub bell: Option<bool>,
    /// Show the unread count in the window title.
    pub title: Option<bool>,
    /// Take mouse clicks and the wheel (off leaves the terminal's text selection alone).
    pub mouse: Option<bool>,
    /// Desktop notifications through the terminal: "off" (the default), "osc9" or
    /// "osc777".
    pub notify: Option<Notify>,
    /// "dark" (the default) or "light".
    pub theme: Option<Theme>,
    /// The interface language, "en" or "zh-CN"; unset, it follows `LC_ALL`, `LC_MESSAGES`
    /// or `LANG`.
    pub language: Option<Language>,
    /// Where accepted files are saved. Default: the system's download directory, else
    /// `downloads` in the data dir.
    pub download_dir: Option<PathBuf>,
    /// Largest file offer accepted, in bytes (8 GiB by default); larger ones are declined.
    pub max_file_size: Option<u64>,
    /// Downloads running at once (4 by default); more accepted ones wait their turn.
    pub max_transfers: Option<usize>,
    /// Accept offers from verified peers up to this many bytes without asking (0, the
    /// default: always ask).
    pub auto_accept_verified: Option<u64>,
    /// Picture previews in the chat: "auto" (the default: the terminal's graphics if it
    /// has any, else half-blocks), "halfblocks" or "off".
    pub previews: Option<PreviewMode>,
    /// Speak IP Messenger too, to iptux, FeiQ and IP Messenger users (on by default).
    pub ipmsg: Option<bool>,
    /// The IP Messenger port (2425: what every client uses).
    pub ipmsg_port: Option<u16>,
    /// The group IP Messenger peers see us in (none by default).
    pub ipmsg_group: Option<String>,
    /// Key rebinding: action name = "key" or ["key", ...] (`[]` unbinds); a mode's keys
    /// in a section of their own, `[keys.in_help]` and so on.
    #[serde(default)]
    pub keys: KeysConfig,
}

/// `[keys]`: the main screen's actions, and a table per mode over it (`[keys.in_picked]`,
/// `[keys.in_search]`, ...), each action = "key" or ["key", ...].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeysConfig {
    pub base: BTreeMap<ActionName, KeyList>,
    pub modes: Vec<(Mode, Action, Vec<KeySpec>)>,
}

impl<'de> Deserialize<'de> for KeysConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = KeysConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of actions and keys")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<KeysConfig, A::Error> {
                let mut out = KeysConfig::default();
                while let Some(name) = map.next_key::<String>()? {
                    match map.next_value_seed(EntrySeed { name: &name })? {
                        Entry::Base(action, keys) => {
                            out.base.insert(action, keys);
                        }
                        Entry::Mode(mode, actions) => {
                            out.modes
                                .extend(actions.into_iter().map(|(a, k)| (mode, a, k)));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// A `[keys]` entry: the keys of a main-screen action, or a mode's table (told apart by
/// the value: a table is a mode's).
enum Entry {
    Base(ActionName, KeyList),
    Mode(Mode, Vec<(Action, Vec<KeySpec>)>),
}

struct EntrySeed<'a> {
    name: &'a str,
}

impl<'de> de::DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_any(self)
    }
}

impl EntrySeed<'_> {
    fn action<E: de::Error>(&self) -> Result<ActionName, E> {
        Action::from_name(self.name).map(ActionName).ok_or_else(|| {
            E::custom(tr!(
                parse_lang(),
                "config-unknown-action",
                name = format!("{:?}", self.name),
                list = names_list(crate::keys::ACTION_NAMES.iter().map(|(_, n)| *n))
            ))
        })
    }
}

impl<'de> de::Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key such as \"ctrl-n\", a list of them, or a mode's table")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
        let action = self.action()?;
        let key = KeySpec::parse_in(v, false, parse_lang()).map_err(E::custom)?;
        Ok(Entry::Base(action, KeyList(vec![key])))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        let action = self.action()?;
        let mut keys = Vec::new();
        while let Some(s) = seq.next_element::<String>()? {
            keys.push(KeySpec::parse_in(&s, false, parse_lang()).map_err(de::Error::custom)?);
        }
        Ok(Entry::Base(action, KeyList(keys)))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mode = Mode::from_name(self.name).ok_or_else(|| {
            de::Error::custom(tr!(
                parse_lang(),
                "config-unknown-mode",
                name = self.name,
                list = names_list(crate::keys::MODES.iter().map(|m| m.name))
            ))
        })?;
        let mut actions = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let keys = map.next_value_seed(ModeKeysSeed { mode, name: &name })?;
            actions.push(keys);
        }
        Ok(Entry::Mode(mode, actions))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Entry, E> {
        Err(E::custom(key_type_error()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Entry, E> {
        Err(E::custom(key_type_error()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Entry, E> {
        Err(E::custom(key_type_error()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Entry, E> {
        Err(E::custom(key_type_error()))
    }
}

/// The keys of one action in a mode's table; a plain character is a key there unless the
/// mode takes text.
struct ModeKeysSeed<'a> {
    mode: Mode,
    name: &'a str,
}

impl<'de> de::DeserializeSeed<'de> for ModeKeysSeed<'_> {
    type Value = (Action, Vec<KeySpec>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let def = self.mode.def();
        let action = self.mode.action(self.name).ok_or_else(|| {
            de::Error::custom(tr!(
                parse_lang(),
                "config-unknown-mode-action",
                name = format!("{:?}", self.name),
                mode = def.map_or("", |d| d.name),
                list = def
                    .map(|d| names_list(d.actions.iter().map(|(_, n)| *n)))
                    .unwrap_or_default()
            ))
        })?;
        let plain = def.is_some_and(|d| !d.takes_text);
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let list =
            match OneOrMany::deserialize(d).map_err(|_| de::Error::custom(key_type_error()))? {
                OneOrMany::One(s) => vec![s],
                OneOrMany::Many(v) => v,
            };
        let keys = list
            .iter()
            .map(|s| KeySpec::parse_in(s, plain, parse_lang()).map_err(de::Error::custom))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((action, keys))
    }
}

/// Desktop notifications as a terminal escape: OSC 9 (iTerm2, WezTerm, kitty, Windows
/// Terminal, foot) or OSC 777 (urxvt, VTE terminals such as GNOME Terminal, WezTerm).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Notify {
    #[default]
    Off = 0,
    Osc9 = 1,
    Osc777 = 2,
}

/// How pictures are previewed in the chat. An unknown value is an error naming its line.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PreviewMode {
    /// The terminal's graphics (kitty, iTerm2 and WezTerm, sixel) if it answers that it has
    /// them and is not inside tmux or screen; else half-blocks.
    #[default]
    Auto,
    /// Coloured half-block characters, on any terminal.
    Halfblocks,
    /// No previews: a picture is a file bubble like any other.
    Off,
}

/// A `language` setting (an unknown one is an error naming its line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(pub Lang);

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Lang::parse(&s).map(Language).ok_or_else(|| {
            de::Error::custom(tr!(
                parse_lang(),
                "config-unknown-language",
                value = format!("{s:?}")
            ))
        })
    }
}

/// An action name in `[keys]` (an unknown one is an error naming its line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActionName(pub Action);

/// The keys for one action: a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<KeySpec>);

/// Everything resolved: what the runtime starts with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub bind: IpAddr,
    /// `None`: the well-known port if free, else any.
    pub port: Option<u16>,
    pub discovery: bool,
    pub discovery_port: u16,
    pub peers: Vec<String>,
    pub read_receipts: bool,
    pub bell: bool,
    pub title: bool,
    pub mouse: bool,
    pub notify: Notify,
    pub theme: Theme,
    /// The interface language: config.toml's `language`, else the locale.
    pub language: Lang,
    /// Changes to the default keys.
    pub keys: Vec<(Action, Vec<KeySpec>)>,
    /// Changes to the default keys of the modes over the main screen.
    pub mode_keys: Vec<(Mode, Action, Vec<KeySpec>)>,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    /// Where accepted files are saved.
    pub download_dir: PathBuf,
    /// Largest file offer accepted, in bytes.
    pub max_file_size: u64,
    /// Downloads running at once (at least 1).
    pub max_transfers: usize,
    /// Offers from verified peers up to this many bytes are accepted without asking (0: off).
    pub auto_accept_verified: u64,
    /// How pictures are previewed.
    pub previews: PreviewMode,
    /// Send runs of equal-sized datagrams with segmentation offload. Always on in the
    /// program; the ingest benchmark turns it off to show what it is worth.
    pub segmentation_offload: bool,
    /// Speak IP Messenger (iptux, FeiQ) on UDP `ipmsg_port`.
    pub ipmsg: bool,
    /// 2425; 0 in tests (any free port).
    pub ipmsg_port: u16,
    /// The group IP Messenger peers see us in.
    pub ipmsg_group: String,
}

impl Settings {
    /// Settings for tests and embedding: loopback only, any port, everything under `dir`.
    pub fn loopback(name: &str, dir: &Path) -> Self {
        Self {
            name: name.to_owned(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: Some(0),
            discovery: false,
            discovery_port: proto::DISCOVERY_PORT,
            peers: Vec::new(),
            read_receipts: true,
            bell: false,
            title: false,
            mouse: false,
            notify: Notify::Off,
            theme: Theme::Dark,
            language: Lang::En,
            keys: Vec::new(),
            mode_keys: Vec::new(),
            data_dir: dir.to_owned(),
            config_dir: dir.to_owned(),
            download_dir: dir.join("downloads"),
            max_file_size: proto::files::DEFAULT_MAX_FILE_BYTES,
            max_transfers: DEFAULT_MAX_TRANSFERS,
            auto_accept_verified: 0,
            previews: PreviewMode::Auto,
            segmentation_offload: true,
            ipmsg: false,
            ipmsg_port: 0,
            ipmsg_group: String::new(),
        }
    }
}

/// Reads `config.toml`, naming the file, line and column of any mistake (in English; see
/// [`parse_file_in`]).
pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    parse_file_in(path, text, Lang::En)
}

/// [`parse_file`] with the mistakes told in `lang`: the line, and what lanchat itself says
/// is wrong (an unknown action, mode, language; a key that is not a string). What the TOML
/// parser and serde say in their own words (a type mismatch, an unknown field, a syntax
/// error) stays in English.
pub fn parse_file_in(path: &Path, text: &str, lang: Lang) -> Result<FileConfig, ConfigError> {
    let before = PARSE_LANG.with(|l| l.replace(lang));
    let parsed: Result<FileConfig, toml::de::Error> = toml::from_str(text);
    PARSE_LANG.with(|l| l.set(before));
    parsed.map_err(|e| {
        let message = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                tr!(lang, "config-line", line = line, message = e.message())
            }
            None => e.message().to_owned(),
        };
        ConfigError::Parse {
            path: path.to_owned(),
            message,
        }
    })
}

/// Resolves flags, environment (`LANCHAT_CONFIG_DIR`, `USER`) and the config file.
///
/// With `--data-dir` (or `LANCHAT_DATA_DIR`), that one directory holds everything of this
/// instance, config and identity included, so two instances on one host need nothing but
/// their own data dirs. `LANCHAT_CONFIG_DIR` still wins for the config dir if set.
///
/// Mistakes are told in the locale's language (`LC_ALL`, `LC_MESSAGES`, `LANG` from `env`):
/// the file that would say otherwise is the one that did not parse.
pub fn resolve(
    o: Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let lang = Lang::from_locale(&env);
    let dirs = directories::ProjectDirs::from("", "", "lanchat");
    let data_dir = match (&o.data_dir, &dirs) {
        (Some(d), _) => d.clone(),
        (None, Some(p)) => p.data_dir().to_owned(),
        (None, None) => return Err(ConfigError::NoHome),
    };
    let config_dir = match (env("LANCHAT_CONFIG_DIR"), &o.data_dir, &dirs) {
        (Some(d), _, _) if !d.is_empty() => PathBuf::from(d),
        (_, Some(d), _) => d.clone(),
        (_, None, Some(p)) => p.config_dir().to_owned(),
        (_, None, None) => return Err(ConfigError::NoHome),
    };
    let (file_path, must_exist) = match &o.config {
        Some(p) => (p.clone(), true),
        None => (config_dir.join(CONFIG_FILE), false),
    };
    let file = match fs::read_to_string(&file_path) {
        Ok(text) => parse_file_in(&file_path, &text, lang)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !must_exist => FileConfig::default(),
        Err(e) => return Err(io_err(&file_path)(e)),
    };
    let name = o
        .name
        .or(file.name)
        .or_else(|| env("USER"))
        .or_else(|| env("LOGNAME"))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "anonymous".to_owned());
    let name = name.trim().to_owned();
    if name.len() > proto::wire::MAX_NAME_BYTES {
        return Err(ConfigError::Invalid(tr!(
            lang,
            "config-name-too-long",
            bytes = name.len(),
            max = proto::wire::MAX_NAME_BYTES
        )));
    }
    let mut peers = file.peers;
    peers.extend(o.peers);
    Ok(Settings {
        name,
        bind: o
            .bind
            .or(file.bind)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        port: o.port.or(file.port),
        discovery: !o.no_discovery && file.discovery.unwrap_or(true),
        discovery_port: o
            .discovery_port
            .or(file.discovery_port)
            .unwrap_or(proto::DISCOVERY_PORT),
        peers,
        read_receipts: file.read_receipts.unwrap_or(true),
        bell: file.bell.unwrap_or(true),
        title: file.title.unwrap_or(true),
        mouse: file.mouse.unwrap_or(true),
        notify: file.notify.unwrap_or_default(),
        theme: file.theme.unwrap_or_default(),
        language: file
            .language
            .map_or_else(|| Lang::from_locale(&env), |l| l.0),
        keys: file
            .keys
            .base
            .into_iter()
            .map(|(a, k)| (a.0, k.0))
            .collect(),
        mode_keys: file.keys.modes,
        download_dir: file.download_dir.unwrap_or_else(|| {
            directories::UserDirs::new()
                .and_then(|u| u.download_dir().map(Path::to_path_buf))
                .unwrap_or_else(|| data_dir.join("downloads"))
        }),
        max_file_size: file
            .max_file_size
            .unwrap_or(proto::files::DEFAULT_MAX_FILE_BYTES)
            .min(proto::files::MAX_FILE_BYTES),
        max_transfers: file.max_transfers.unwrap_or(DEFAULT_MAX_TRANSFERS).max(1),
        auto_accept_verified: file.auto_accept_verified.unwrap_or(0),
        previews: file.previews.unwrap_or_default(),
        data_dir,
        config_dir,
        segmentation_offload: true,
        ipmsg: !o.no_ipmsg && file.ipmsg.unwrap_or(true),
        ipmsg_port: file.ipmsg_port.unwrap_or(proto::ipmsg::PORT),
        ipmsg_group: file.ipmsg_group.unwrap_or_default(),
    })
}

/// Creates a private directory (0700) and its parents.
pub fn ensure_private_dir(dir: &Path) -> Result<(), ConfigError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Loads this node's identity key, creating it (atomically, mode 0600) on first start. A key
/// file others can read is refused: whoever reads it can be us.
pub fn load_or_create_identity(dir: &Path) -> Result<Identity, ConfigError> {
    ensure_private_dir(dir)?;
    let path = dir.join(IDENTITY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let mode = fs::metadata(&path)
                .map_err(io_err(&path))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(ConfigError::ReadableKey {
                    path,
                    mode: mode & 0o777,
                });
            }
            let secret = NodeId::from_hex(&text)
                .ok_or_else(|| ConfigError::NotAKey { path: path.clone() })?;
            Ok(Identity::from_secret(secret.0))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| ConfigError::NoRandom(e.to_string()))?;
            write_private(&path, &format!("{}\n", NodeId(secret).to_hex()))?;
            Ok(Identity::from_secret(secret))
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Writes a file readable by its owner only, atomically: a new temporary file (made here,
/// mode 0600, never one left over), synced, renamed over `path`, and the directory synced.
fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    // A leftover from a crash (or anyone's) could carry any mode: opening it would keep that
    // mode, so it goes, and the new one is created exclusively.
    match fs::remove_file(&tmp) {
        Ok(()) => tracing::info!(path = %tmp.display(), "removed a leftover temporary file"),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp)(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(path)
}

/// Syncs the directory holding `path`, so that a rename or a new file in it lasts.
fn sync_dir(path: &Path) -> Result<(), ConfigError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// What [`tighten_private_dir`] and [`open_private_file`] did about a path others could
/// reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tightened {
    /// Nothing to do: missing, or already private.
    No,
    /// Its mode was this, and is now private.
    From(u32),
    /// Others can reach it (this mode), but it belongs to another user: left alone.
    NotOurs(u32),
}

/// Takes group and other permissions away from `path` (to `private`, 0700 or 0600) if
/// anyone but the owner has any, and only if it is a `dir`ectory or regular file owned by
/// `uid`. Never follows a symbolic link.
fn tighten(path: &Path, private: u32, dir: bool, uid: u32) -> Result<Tightened, ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tightened::No),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mode = meta.mode() & 0o7777;
    let right_kind = if dir { meta.is_dir() } else { meta.is_file() };
    if mode & 0o077 == 0 || !right_kind {
        return Ok(Tightened::No);
    }
    if meta.uid() != uid {
        return Ok(Tightened::NotOurs(mode));
    }
    fs::set_permissions(path, fs::Permissions::from_mode(private)).map_err(io_err(path))?;
    Ok(Tightened::From(mode))
}

/// Makes an existing data or config directory private (0700) if it is ours and others can
/// reach it; [`ensure_private_dir`] only sets the mode of directories it creates.
pub fn tighten_private_dir(dir: &Path) -> Result<Tightened, ConfigError> {
    tighten(dir, 0o700, true, nix::unistd::geteuid().as_raw())
}

/// Opens `path` for writing (appending, or from empty), readable by its owner only: a new
/// file is created 0600, and an existing regular file of ours that others can read is made
/// 0600 before anything is written to it. (Anything else, such as `/dev/null`, is written
/// as it is.)
pub fn open_private_file(path: &Path, append: bool) -> Result<(File, Tightened), ConfigError> {
    let file = OpenOptions::new()
        .write(true)
        .append(append)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    let tightened = tighten(path, 0o600, false, nix::unistd::geteuid().as_raw())?;
    if !append && file.metadata().map_err(io_err(path))?.is_file() {
        file.set_len(0).map_err(io_err(path))?;
    }
    Ok((file, tightened))
}

/// Live keys `known_peers` holds at most. Past it, unverified keys go first, the one whose
/// line was written longest ago first (the file's order is the order of the last change;
/// it holds no last-seen time). Verified and blocked keys, which only a person's decision
/// makes, are always kept.
pub const MAX_KNOWN_PEERS: usize = 10_000;
/// Lines a `known_peers` file may hold beyond twice its live keys before it is compacted.
const COMPACT_SLACK: usize = 64;
/// The trust word of a line that forgets its key (the user accepted another key in its
/// place).
const FORGOTTEN: &str = "forgotten";

const KNOWN_PEERS_HEADER: &str = "# lanchat known peers: key, trust, last address, name; \
                                  the last line for a key wins. Written by lanchat.\n";

/// One line of `known_peers`.
fn known_peer_line(p: &KnownPeer) -> String {
    let ip = p.ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
    let name = serde_json::to_string(&p.name).unwrap_or_else(|_| "\"\"".into());
    format!("{} {} {ip} {name}\n", p.id.to_hex(), p.level.as_str())
}

/// `known_peers` as read: the live entries (in the order of their last line), how many
/// entry lines the file has, and how many entries [`MAX_KNOWN_PEERS`] left out.
struct KnownPeersLog {
    live: Vec<KnownPeer>,
    lines: usize,
    dropped: usize,
}

/// Reads `known_peers`, or nothing if there is none.
fn read_known_peers(dir: &Path) -> Result<KnownPeersLog, ConfigError> {
    let path = dir.join(KNOWN_PEERS_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => parse_known_peers(&path, &text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(KnownPeersLog {
            live: Vec::new(),
            lines: 0,
            dropped: 0,
        }),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// `KEY LEVEL IP "NAME"` or `KEY forgotten` per line, `#` comments; the last line for a key
/// wins. Over [`MAX_KNOWN_PEERS`], entries are dropped as that constant says.
fn parse_known_peers(path: &Path, text: &str) -> Result<KnownPeersLog, ConfigError> {
    // Key to (number of its last line, the entry or None if forgotten).
    let mut last: HashMap<NodeId, (usize, Option<KnownPeer>)> = HashMap::new();
    let mut lines = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        lines += 1;
        let bad = |fault: PeersFault| ConfigError::KnownPeersLine {
            path: path.to_owned(),
            line: n + 1,
            fault,
        };
        let mut parts = line.splitn(4, ' ');
        let id = parts
            .next()
            .and_then(NodeId::from_hex)
            .ok_or_else(|| bad(PeersFault::Key))?;
        let level = match parts.next() {
            Some(FORGOTTEN) if parts.next().is_none() => {
                last.insert(id, (n, None));
                continue;
            }
            level => level
                .and_then(TrustLevel::parse)
                .ok_or_else(|| bad(PeersFault::Level))?,
        };
        let ip = match parts.next() {
            Some("-") => None,
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| bad(PeersFault::Ip))?),
            None => return Err(bad(PeersFault::Ip)),
        };
        let name: String = parts
            .next()
            .and_then(|n| serde_json::from_str(n).ok())
            .ok_or_else(|| bad(PeersFault::Name))?;
        last.insert(
            id,
            (
                n,
                Some(KnownPeer {
                    id,
                    name,
                    ip,
                    level,
                }),
            ),
        );
    }
    let mut live: Vec<(usize, KnownPeer)> = last
        .into_values()
        .filter_map(|(n, p)| p.map(|p| (n, p)))
        .collect();
    live.sort_unstable_by_key(|(n, _)| *n);
    let all = live.len();
    let live = cap_known_peers(live.into_iter().map(|(_, p)| p).collect());
    Ok(KnownPeersLog {
        dropped: all - live.len(),
        live,
        lines,
    })
}

/// `peers` (oldest change first) cut to [`MAX_KNOWN_PEERS`]: the oldest unverified go.
fn cap_known_peers(mut peers: Vec<KnownPeer>) -> Vec<KnownPeer> {
    let mut excess = peers.len().saturating_sub(MAX_KNOWN_PEERS);
    if excess > 0 {
        peers.retain(|p| {
            let drop = excess > 0 && p.level == TrustLevel::Unverified;
            if drop {
                excess -= 1;
            }
            !drop
        });
    }
    peers
}

/// Reads the handshake times. A line that does not parse is skipped, with a warning: this
/// is state, not settings, and losing a line only lets an old initiation be answered once
/// more, which still establishes nothing without its sender.
pub fn load_handshake_times(dir: &Path) -> Vec<(NodeId, u64)> {
    let Ok(text) = fs::read_to_string(dir.join(HANDSHAKE_TIMES_FILE)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let key = parts.next().and_then(NodeId::from_hex);
        let time = parts.next().and_then(|t| t.parse::<u64>().ok());
        match (key, time, parts.next()) {
            (Some(key), Some(time), None) => out.push((key, time)),
            _ => tracing::warn!(
                line = n + 1,
                "skipping a bad line in {HANDSHAKE_TIMES_FILE}"
            ),
        }
    }
    out
}

/// Writes the handshake times as [`write_private`] writes: a fresh 0600 file, renamed over
/// the old one.
pub fn save_handshake_times(dir: &Path, times: &[(NodeId, u64)]) -> Result<(), ConfigError> {
    let text: String = times
        .iter()
        .map(|(key, t)| format!("{key} {t}\n"))
        .collect();
    write_private(&dir.join(HANDSHAKE_TIMES_FILE), &text)
}

/// Reads `known_peers`: the live entries, in the order of their last change. A bad line is
/// an error naming it; the file is never rewritten over something we could not read.
pub fn load_known_peers(dir: &Path) -> Result<Vec<KnownPeer>, ConfigError> {
    read_known_peers(dir).map(|log| log.live)
}

/// Writes `known_peers` whole (atomically, mode 0600): `peers`, cut to
/// [`MAX_KNOWN_PEERS`].
pub fn save_known_peers(dir: &Path, peers: &[KnownPeer]) -> Result<(), ConfigError> {
    ensure_private_dir(dir)?;
    let mut text = String::from(KNOWN_PEERS_HEADER);
    for p in cap_known_peers(peers.to_vec()) {
        text.push_str(&known_peer_line(&p));
    }
    write_private(&dir.join(KNOWN_PEERS_FILE), &text)
}

/// Adds a line to `known_peers` for each change (as [`crate::proto::Endpoint::take_known_changes`]
/// gives them): an entry now (a new key, or a changed name, address or trust), or `None`
/// for a key forgotten. The last line for a key wins when the file is read. One append and
/// one sync; the file is rewritten only to compact it (see [`compact_known_peers`]).
pub fn record_known_peers(
    dir: &Path,
    changes: &[(NodeId, Option<KnownPeer>)],
) -> Result<(), ConfigError> {
    let text: String = changes
        .iter()
        .map(|(id, now)| match now {
            Some(p) => known_peer_line(p),
            None => format!("{} {FORGOTTEN}\n", id.to_hex()),
        })
        .collect();
    append_known_peers_text(dir, &text)
}

fn append_known_peers_text(dir: &Path, text: &str) -> Result<(), ConfigError> {
    if text.is_empty() {
        return Ok(());
    }
    ensure_private_dir(dir)?;
    let path = dir.join(KNOWN_PEERS_FILE);
    let new = !path.exists();
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    let text = if new {
        format!("{KNOWN_PEERS_HEADER}{text}")
    } else {
        text.to_owned()
    };
    // One write: appends from another process sharing the config dir do not interleave
    // inside it.
    f.write_all(text.as_bytes()).map_err(io_err(&path))?;
    f.sync_data().map_err(io_err(&path))?;
    if new {
        sync_dir(&path)?;
    }
    compact_known_peers(dir).map(|_| ())
}

/// Rewrites `known_peers` with its live entries only (atomically: a temporary file, synced,
/// renamed) when it has more than twice as many lines as live keys (plus a little), or more
/// live keys than [`MAX_KNOWN_PEERS`]. Returns whether it did. A file with a bad line is
/// left as it is and the error names the line.
pub fn compact_known_peers(dir: &Path) -> Result<bool, ConfigError> {
    let log = read_known_peers(dir)?;
    if log.lines <= 2 * log.live.len() + COMPACT_SLACK && log.dropped == 0 {
        return Ok(false);
    }
    save_known_peers(dir, &log.live)?;
    Ok(true)
}

/// Takes the data dir for this process. The lock lasts as long as the returned file is open
/// and goes away by itself if the process dies.
pub fn lock_data_dir(dir: &Path) -> Result<File, ConfigError> {
    ensure_private_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(io_err(&path))?;
            write!(file, "{}", std::process::id()).map_err(io_err(&path))?;
            Ok(file)
        }
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim().to_owned();
            Err(ConfigError::Locked {
                dir: dir.to_owned(),
                pid: (!pid.is_empty()).then_some(pid),
            })
        }
        Err(fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn flags_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join(CONFIG_FILE),
            "name = \"filename\"\nport = 5000\ndiscovery = false\npeers = [\"10.0.0.1:47475\"]\n",
        )
        .expect("write");
        let o = Overrides {
            name: Some("flagname".into()),
            data_dir: Some(dir.path().to_owned()),
            peers: vec!["10.0.0.2:1".into()],
            ..Overrides::default()
        };
        let s = resolve(o, no_env).expect("resolves");
        assert_eq!(s.name, "flagname");
        assert_eq!(s.port, Some(5000));
        assert!(!s.discovery);
        assert_eq!(s.peers, vec!["10.0.0.1:47475", "10.0.0.2:1"]);
        assert_eq!(s.config_dir, dir.path());
        assert_eq!(s.discovery_port, proto::DISCOVERY_PORT);
    }

    #[test]
    fn name_falls_back_to_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = Overrides {
            data_dir: Some(dir.path().to_owned()),
            ..Overrides::default()
        };
        let env = |k: &str| (k == "USER").then(|| "carol".to_owned());
        assert_eq!(resolve(o, env).expect("resolves").name, "carol");
    }

    #[test]
    fn bad_config_names_the_line() {
        let path = Path::new("/x/config.toml");
        let err = parse_file(path, "name = \"a\"\n\nport = \"not a number\"\n").expect_err("bad");
        let msg = err.to_string();
        assert!(msg.starts_with("/x/config.toml: line 3:"), "{msg}");
        let err = parse_file(path, "nmae = \"typo\"\n").expect_err("unknown key");
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(err.to_string().contains("nmae"), "{err}");
    }

    #[test]
    fn keys_theme_and_notify_are_read_and_mistakes_name_the_line() {
        let path = Path::new("/x/config.toml");
        let ok = parse_file(
            path,
            "theme = \"light\"\nnotify = \"osc777\"\npreviews = \"halfblocks\"\n[keys]\nnext_chat = [\"ctrl-j\", \"f5\"]\nsearch = \"alt-s\"\nquit = []\n",
        )
        .expect("parses");
        assert_eq!(ok.theme, Some(Theme::Light));
        assert_eq!(ok.notify, Some(Notify::Osc777));
        assert_eq!(ok.previews, Some(PreviewMode::Halfblocks));
        let keys: Vec<(Action, usize)> =
            ok.keys.base.iter().map(|(a, k)| (a.0, k.0.len())).collect();
        assert_eq!(
            keys,
            vec![
                (Action::Quit, 0),
                (Action::NextConversation, 2),
                (Action::Search, 1)
            ]
        );
        for (text, line, says) in [
            (
                "[keys]\nnext_chat = \"ctrl-n\"\nsearch = \"hyper-q\"\n",
                3,
                "hyper",
            ),
            (
                "[keys]\n\nfly_away = \"ctrl-n\"\n",
                3,
                "unknown action \"fly_away\"",
            ),
            ("[keys]\nsearch = 5\n", 2, "a key is a string"),
            ("[keys]\nsearch = [\"ctrl-s\", \"f99\"]\n", 2, "f1 to f12"),
            ("theme = \"neon\"\n", 1, "neon"),
            ("notify = \"yes\"\n", 1, "yes"),
            ("name = \"a\"\npreviews = \"sixel\"\n", 2, "sixel"),
        ] {
            let err = parse_file(path, text).expect_err(text).to_string();
            assert!(err.contains(&format!("line {line}:")), "{text:?}: {err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_language_comes_from_the_config_else_the_locale_and_a_bad_one_names_the_line() {
        let path = Path::new("/x/config.toml");
        let ok = parse_file(path, "name = \"a\"\nlanguage = \"zh-CN\"\n").expect("parses");
        assert_eq!(ok.language, Some(Language(Lang::Zh)));
        let err = parse_file(path, "name = \"a\"\n\nlanguage = \"klingon\"\n")
            .expect_err("unknown language")
            .to_string();
        assert!(err.contains("line 3:"), "{err}");
        assert!(err.contains("klingon") && err.contains("zh-CN"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let with = |file: &str, lang: &'static str| {
            let config = dir.path().join(format!("{}.toml", lang.len() + file.len()));
            fs::write(&config, file).expect("write");
            let o = Overrides {
                config: Some(config),
                data_dir: Some(dir.path().to_owned()),
                ..Overrides::default()
            };
            resolve(o, move |k| (k == "LANG").then(|| lang.to_owned()))
                .expect("resolves")
                .language
        };
        assert_eq!(with("", "zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(with("", "en_GB.UTF-8"), Lang::En);
        assert_eq!(with("language = \"en\"\n", "zh_CN.UTF-8"), Lang::En);
        assert_eq!(with("language = \"zh-CN\"\n", "C"), Lang::Zh);
    }

    #[test]
    fn a_mode_has_its_own_keys_section_and_mistakes_name_the_line() {
        let path = Path::new("/x/config.toml");
        let ok = parse_file(
            path,
            "[keys]\nsearch = \"alt-s\"\n[keys.in_help]\nclose = [\"q\", \"esc\"]\n[keys.in_search]\nopen = \"tab\"\n",
        )
        .expect("parses");
        assert_eq!(
            ok.keys.base.len(),
            1,
            "search = \"alt-s\" is the main screen's"
        );
        let q = KeySpec::parse("q", true).expect("q");
        let esc: KeySpec = "esc".parse().expect("esc");
        let tab: KeySpec = "tab".parse().expect("tab");
        assert_eq!(
            ok.keys.modes,
            vec![
                (Mode::Help, Action::Close, vec![q, esc]),
                (Mode::Search, Action::Open, vec![tab]),
            ]
        );
        for (text, line, says) in [
            (
                "[keys.in_help]\nclose = \"q\"\nfly = \"x\"\n",
                3,
                "unknown action \"fly\"",
            ),
            ("[keys.nowhere]\nclose = \"q\"\n", 1, "unknown mode"),
            // A plain letter is typing where the mode takes text.
            ("[keys.in_switcher]\n\nopen = \"o\"\n", 3, "plain character"),
        ] {
            let err = parse_file(path, text).expect_err(text).to_string();
            assert!(err.contains(&format!("line {line}:")), "{text:?}: {err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn config_mistakes_are_told_in_the_locales_language_and_still_name_the_line() {
        let path = Path::new("/x/config.toml");
        for (text, line, says) in [
            (
                "name = \"a\"\n\nlanguage = \"klingon\"\n",
                3,
                "未知语言 \"klingon\"",
            ),
            (
                "[keys]\n\nfly_away = \"ctrl-n\"\n",
                3,
                "未知动作 \"fly_away\"",
            ),
            ("[keys]\nsearch = 5\n", 2, "按键须写成字符串"),
            (
                "[keys.nowhere]\nclose = \"q\"\n",
                1,
                "未知模式 [keys.nowhere]",
            ),
            (
                "[keys.in_help]\nclose = \"q\"\nfly = \"x\"\n",
                3,
                "[keys.in_help] 中有未知动作",
            ),
            // The TOML parser's own words stay English; the line is still named.
            (
                "name = \"a\"\n\nport = \"not a number\"\n",
                3,
                "/x/config.toml: 第 3 行：",
            ),
        ] {
            let zh = parse_file_in(path, text, Lang::Zh)
                .expect_err(text)
                .to_string();
            assert!(zh.contains(&format!("第 {line} 行：")), "{text:?}: {zh}");
            assert!(zh.contains(says), "{text:?}: {zh}");
            // The same mistake in English is told as before, and the language does not
            // stay behind on the thread.
            let en = parse_file(path, text).expect_err(text).to_string();
            assert!(en.contains(&format!("line {line}:")), "{text:?}: {en}");
            assert!(!en.contains('行'), "{text:?}: {en}");
        }
        // resolve takes the language from the locale, since the file did not parse.
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("bad.toml");
        fs::write(&config, "\nlanguage = \"zh-CN\"\n[keys]\nfly = \"x\"\n").expect("write");
        let resolved = |lang: &'static str| {
            let o = Overrides {
                config: Some(config.clone()),
                data_dir: Some(dir.path().to_owned()),
                ..Overrides::default()
            };
            resolve(o, move |k| (k == "LANG").then(|| lang.to_owned()))
                .expect_err("bad")
                .to_string()
        };
        let zh = resolved("zh_CN.UTF-8");
        assert!(zh.contains("第 4 行：[keys] 中有未知动作 \"fly\""), "{zh}");
        // The file's own `language` is not believed: it is in the file that is wrong.
        let en = resolved("C");
        assert!(en.contains("line 4: unknown action \"fly\""), "{en}");
    }

    #[test]
    fn config_errors_read_the_same_in_english_and_are_translated() {
        let locked = ConfigError::Locked {
            dir: PathBuf::from("/d"),
            pid: Some("42".into()),
        };
        for e in [
            &ConfigError::NoHome,
            &locked,
            &ConfigError::Locked {
                dir: PathBuf::from("/d"),
                pid: None,
            },
        ] {
            assert_eq!(e.text(Lang::En), e.to_string());
            assert_ne!(e.text(Lang::Zh), e.to_string());
        }
        assert_eq!(
            locked.to_string(),
            "another lanchat is already running with data dir /d (pid 42); give this one its \
             own --data-dir"
        );
        assert_eq!(
            locked.text(Lang::Zh),
            "已有一个 lanchat 在使用数据目录 /d（pid 42）；请给这个实例另指定 --data-dir"
        );
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = Overrides {
            data_dir: Some(dir.path().to_owned()),
            config: Some(dir.path().join("nope.toml")),
            ..Overrides::default()
        };
        assert!(matches!(resolve(o, no_env), Err(ConfigError::Io { .. })));
    }

    #[test]
    fn identity_is_created_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("cfg");
        let a = load_or_create_identity(&sub).expect("creates");
        let b = load_or_create_identity(&sub).expect("loads");
        assert_eq!(a.public(), b.public());
        assert_eq!(a.secret(), b.secret());
        // The file holds the secret; the id is the public key derived from it.
        let text = fs::read_to_string(sub.join(IDENTITY_FILE)).expect("read");
        assert_eq!(text.trim(), NodeId(*a.secret()).to_hex());
        assert_ne!(a.public(), NodeId(*a.secret()));
        let path = sub.join(IDENTITY_FILE);
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(&sub).expect("meta").permissions().mode() & 0o777,
            0o700
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = load_or_create_identity(&sub).expect_err("too open");
        assert!(err.to_string().contains("readable by others"), "{err}");
    }

    #[test]
    fn handshake_times_round_trip_privately_and_bad_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(load_handshake_times(dir.path()).is_empty(), "none yet");
        let times = vec![(NodeId([1; 32]), 7), (NodeId([2; 32]), u64::MAX)];
        save_handshake_times(dir.path(), &times).expect("save");
        assert_eq!(load_handshake_times(dir.path()), times);
        let path = dir.path().join(HANDSHAKE_TIMES_FILE);
        let mode = fs::metadata(&path).expect("written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut text = fs::read_to_string(&path).expect("text");
        text.push_str("not a key 5\n");
        fs::write(&path, text).expect("write");
        assert_eq!(load_handshake_times(dir.path()), times);
    }

    #[test]
    fn known_peers_round_trip_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load_known_peers(dir.path()).expect("none yet"), Vec::new());
        let peers = vec![
            KnownPeer {
                id: NodeId([1; 32]),
                name: "alice \"the\" \u{1b}[2J name 张".into(),
                ip: Some("192.168.1.5".parse().expect("ip")),
                level: TrustLevel::Verified,
            },
            KnownPeer {
                id: NodeId([2; 32]),
                name: String::new(),
                ip: None,
                level: TrustLevel::Blocked,
            },
        ];
        save_known_peers(dir.path(), &peers).expect("save");
        let path = dir.path().join(KNOWN_PEERS_FILE);
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_known_peers(dir.path()).expect("load"), peers);
        let text = fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 3, "a comment and one line per key");

        let good = text.lines().nth(1).expect("line").to_string();
        for (bad, what) in [
            (
                good.replacen("verified", "trusted", 1),
                "line 2: expected unverified",
            ),
            (
                good.replacen("192.168.1.5", "nowhere", 1),
                "line 2: expected an IP",
            ),
            (
                good[..good.find('"').expect("quote")].to_string(),
                "line 2: expected a quoted",
            ),
            ("abc verified - \"x\"".to_string(), "line 2: expected a key"),
        ] {
            fs::write(&path, format!("# c\n{bad}\n")).expect("write");
            let err = load_known_peers(dir.path()).expect_err("bad line");
            assert!(err.to_string().contains(what), "{err} should say {what}");
        }
    }

    proptest::proptest! {
        #[test]
        fn known_peers_reading_never_panics_and_names_round_trip(
            junk in "\\PC{0,200}",
            name in "\\PC{0,30}",
            ip in proptest::option::of(proptest::prelude::any::<std::net::Ipv4Addr>()),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::write(dir.path().join(KNOWN_PEERS_FILE), &junk).expect("write");
            let _ = load_known_peers(dir.path());
            let peers = vec![KnownPeer {
                id: NodeId([7; 32]),
                name,
                ip: ip.map(IpAddr::V4),
                level: TrustLevel::Unverified,
            }];
            save_known_peers(dir.path(), &peers).expect("save");
            proptest::prop_assert_eq!(load_known_peers(dir.path()).expect("load"), peers);
        }
    }

    #[test]
    fn a_leftover_temp_file_lends_the_identity_neither_its_mode_nor_its_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("cfg");
        ensure_private_dir(&sub).expect("dir");
        let tmp = sub.join(format!("{IDENTITY_FILE}.tmp"));
        fs::write(
            &tmp,
            "junk junk junk junk junk junk junk junk junk junk junk junk junk",
        )
        .expect("write");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o666)).expect("chmod");
        let made = load_or_create_identity(&sub).expect("creates");
        let path = sub.join(IDENTITY_FILE);
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert!(!tmp.exists(), "the temporary file was renamed");
        let loaded = load_or_create_identity(&sub).expect("a valid key");
        assert_eq!(loaded.public(), made.public());
    }

    #[test]
    fn a_shared_dir_of_ours_is_tightened_and_one_of_someone_else_is_left_alone() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("data");
        fs::create_dir(&sub).expect("mkdir");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).expect("chmod");
        let owner = fs::metadata(&sub).expect("meta").uid();
        // As another user would see it: not ours, so not touched.
        assert_eq!(
            tighten(&sub, 0o700, true, owner.wrapping_add(1)).expect("looks"),
            Tightened::NotOurs(0o755)
        );
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o755);
        assert_eq!(
            tighten_private_dir(&sub).expect("tightens"),
            Tightened::From(0o755)
        );
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(tighten_private_dir(&sub).expect("again"), Tightened::No);
        assert_eq!(
            tighten_private_dir(&sub.join("missing")).expect("nothing"),
            Tightened::No
        );
        // A file is not a directory: left to whoever made it.
        let file = sub.join("f");
        fs::write(&file, "x").expect("write");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(tighten_private_dir(&file).expect("looks"), Tightened::No);
        assert_eq!(mode(&file), 0o644);
    }

    #[test]
    fn private_files_are_made_0600_and_an_open_one_of_ours_is_tightened_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        let new = dir.path().join("new.log");
        let (mut f, t) = open_private_file(&new, true).expect("creates");
        assert_eq!(t, Tightened::No);
        f.write_all(b"one\n").expect("write");
        assert_eq!(mode(&new), 0o600);
        drop(f);
        // Appending keeps what is there.
        let (mut f, _) = open_private_file(&new, true).expect("opens");
        f.write_all(b"two\n").expect("write");
        assert_eq!(fs::read_to_string(&new).expect("read"), "one\ntwo\n");

        let old = dir.path().join("export.md");
        fs::write(&old, "an older, longer export").expect("write");
        fs::set_permissions(&old, fs::Permissions::from_mode(0o644)).expect("chmod");
        let (mut f, t) = open_private_file(&old, false).expect("opens");
        assert_eq!(t, Tightened::From(0o644));
        assert_eq!(mode(&old), 0o600);
        f.write_all(b"new").expect("write");
        assert_eq!(
            fs::read_to_string(&old).expect("read"),
            "new",
            "written from empty"
        );
        // Not a regular file: written to, never chmod-ed or truncated.
        let (_, t) = open_private_file(Path::new("/dev/null"), false).expect("opens");
        assert_eq!(t, Tightened::No);
        assert_eq!(mode(Path::new("/dev/null")), 0o666);
    }

    fn known(n: u8, name: &str, level: TrustLevel) -> KnownPeer {
        KnownPeer {
            id: NodeId([n; 32]),
            name: name.into(),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))),
            level,
        }
    }

    #[test]
    fn a_change_appends_a_line_and_the_last_line_for_a_key_wins() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KNOWN_PEERS_FILE);
        let (alice, bob) = (
            known(1, "alice", TrustLevel::Unverified),
            known(2, "bob", TrustLevel::Unverified),
        );
        let record = |changes: &[(NodeId, Option<KnownPeer>)]| {
            record_known_peers(dir.path(), changes).expect("record")
        };
        record(&[(alice.id, Some(alice.clone())), (bob.id, Some(bob.clone()))]);
        let before = fs::read_to_string(&path).expect("read");
        let inode = fs::metadata(&path).expect("meta").ino();
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        // Nothing changed: nothing written.
        record(&[]);
        assert_eq!(fs::read_to_string(&path).expect("read"), before);

        // Alice verified, bob forgotten (another key took his place), carol new.
        let alice_v = known(1, "alice", TrustLevel::Verified);
        let carol = known(3, "carol", TrustLevel::Unverified);
        record(&[
            (alice.id, Some(alice_v.clone())),
            (bob.id, None),
            (carol.id, Some(carol.clone())),
        ]);
        let after = fs::read_to_string(&path).expect("read");
        assert!(
            after.starts_with(&before),
            "appended, not rewritten:\n{after}"
        );
        assert_eq!(fs::metadata(&path).expect("meta").ino(), inode);
        assert_eq!(after.lines().count(), before.lines().count() + 3);
        assert_eq!(
            load_known_peers(dir.path()).expect("load"),
            vec![alice_v, carol.clone()]
        );
        // A forgetting line with more on it is a bad line, named.
        fs::write(&path, format!("{} forgotten \"x\"\n", carol.id.to_hex())).expect("write");
        let err = load_known_peers(dir.path()).expect_err("bad");
        assert!(
            err.to_string().contains("line 1: expected unverified"),
            "{err}"
        );
    }

    /// A line for each of `peers`, as the runtime appends changes.
    fn append_known_peers(dir: &Path, peers: &[KnownPeer]) -> Result<(), ConfigError> {
        let changes: Vec<(NodeId, Option<KnownPeer>)> =
            peers.iter().map(|p| (p.id, Some(p.clone()))).collect();
        record_known_peers(dir, &changes)
    }

    #[test]
    fn a_file_of_mostly_old_lines_is_compacted_in_one_atomic_rewrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KNOWN_PEERS_FILE);
        let peers: Vec<KnownPeer> = (1..=10)
            .map(|n| known(n, "p", TrustLevel::Unverified))
            .collect();
        append_known_peers(dir.path(), &peers).expect("append");
        let mut last = Vec::new();
        // The same ten keys, renamed again and again: more than twice as many lines as keys.
        for round in 0..=(2 * 10 + COMPACT_SLACK) / 10 {
            last = (1..=10)
                .map(|n| known(n, &format!("p{round}"), TrustLevel::Unverified))
                .collect();
            append_known_peers(dir.path(), &last).expect("append");
            let lines = fs::read_to_string(&path).expect("read").lines().count() - 1;
            assert!(lines <= 2 * 10 + COMPACT_SLACK, "{lines} lines for 10 keys");
        }
        let text = fs::read_to_string(&path).expect("read");
        assert!(
            text.lines().count() - 1 < 2 * 10 + COMPACT_SLACK,
            "compacted at least once:\n{text}"
        );
        assert_eq!(load_known_peers(dir.path()).expect("load"), last);
        assert!(!dir.path().join(format!("{KNOWN_PEERS_FILE}.tmp")).exists());
        assert_eq!(
            fs::metadata(&path).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        // A bad line stops a compaction, which leaves the file as it was.
        let bad = format!("{text}nonsense\n");
        fs::write(&path, &bad).expect("write");
        let err = compact_known_peers(dir.path()).expect_err("bad line");
        assert!(err.to_string().contains("expected a key"), "{err}");
        assert_eq!(fs::read_to_string(&path).expect("read"), bad);
    }

    #[test]
    fn past_the_cap_the_oldest_unverified_keys_go_and_decisions_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = |n: usize| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(n as u64).to_be_bytes());
            NodeId(k)
        };
        let peer = |n: usize, level| KnownPeer {
            id: id(n),
            name: format!("p{n}"),
            ip: None,
            level,
        };
        // Oldest first: a blocked key, a verified one, then unverified ones past the cap.
        let mut peers = vec![peer(0, TrustLevel::Blocked), peer(1, TrustLevel::Verified)];
        peers.extend((2..MAX_KNOWN_PEERS + 5).map(|n| peer(n, TrustLevel::Unverified)));
        append_known_peers(dir.path(), &peers).expect("append");
        let loaded = load_known_peers(dir.path()).expect("load");
        assert_eq!(loaded.len(), MAX_KNOWN_PEERS);
        assert_eq!(loaded[..2], peers[..2], "decisions are kept");
        // The five unverified keys written longest ago are the ones dropped.
        assert_eq!(loaded[2].id, id(7));
        assert_eq!(loaded.last().map(|p| p.id), Some(id(MAX_KNOWN_PEERS + 4)));
        // And the file itself was cut back.
        let lines = fs::read_to_string(dir.path().join(KNOWN_PEERS_FILE))
            .expect("read")
            .lines()
            .count();
        assert_eq!(lines, MAX_KNOWN_PEERS + 1, "a comment and one line per key");
    }

    #[test]
    fn corrupt_identity_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(IDENTITY_FILE);
        fs::write(&path, "garbage").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(load_or_create_identity(dir.path()).is_err());
        assert_eq!(fs::read_to_string(&path).expect("still there"), "garbage");
    }

    #[test]
    fn second_lock_on_a_data_dir_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = lock_data_dir(dir.path()).expect("first lock");
        let err = lock_data_dir(dir.path()).expect_err("second lock");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        lock_data_dir(dir.path()).expect("free again");
    }
}
