//! Where things live and how this instance is set up: command-line flags over environment
//! over `config.toml` over defaults. Also the identity key, `known_peers` and the data-dir
//! lock.

use crate::app::keymap::{Action, KeySpec};
use crate::proto::{self, Identity, KnownPeer, NodeId, TrustLevel};
pub use crate::ui::Theme;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const CONFIG_FILE: &str = "config.toml";
/// This node's X25519 secret key, 64 hex digits; the public key is derived from it.
pub const IDENTITY_FILE: &str = "identity";
/// Keys met before, SSH-style: one line per key.
pub const KNOWN_PEERS_FILE: &str = "known_peers";
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
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

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
    /// Key rebinding: action name = "key" or ["key", ...] (`[]` unbinds).
    #[serde(default)]
    pub keys: BTreeMap<ActionName, KeyList>,
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

/// An action name in `[keys]`: an unknown one is an error naming its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActionName(pub Action);

impl<'de> Deserialize<'de> for ActionName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Action::from_name(&name).map(ActionName).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown action {name:?} in [keys]; the actions are: {}",
                crate::app::keymap::ACTION_NAMES
                    .iter()
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

/// The keys for one action: a string or a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<KeySpec>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let list = match OneOrMany::deserialize(d).map_err(|_| {
            de::Error::custom("a key is a string such as \"ctrl-n\", or a list of them")
        })? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
        list.iter()
            .map(|s| s.parse::<KeySpec>().map_err(de::Error::custom))
            .collect::<Result<Vec<_>, _>>()
            .map(KeyList)
    }
}

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
    /// Changes to the default keys.
    pub keys: Vec<(Action, Vec<KeySpec>)>,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    /// Send runs of equal-sized datagrams with segmentation offload. Always on in the
    /// program; the ingest benchmark turns it off to show what it is worth.
    pub segmentation_offload: bool,
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
            keys: Vec::new(),
            data_dir: dir.to_owned(),
            config_dir: dir.to_owned(),
            segmentation_offload: true,
        }
    }
}

/// Reads `config.toml`, naming the file, line and column of any mistake.
pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let message = match e.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {}", e.message())
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
pub fn resolve(
    o: Overrides,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
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
        Ok(text) => parse_file(&file_path, &text)?,
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
        return Err(ConfigError::Invalid(format!(
            "name is {} bytes; at most {}",
            name.len(),
            proto::wire::MAX_NAME_BYTES
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
        keys: file.keys.into_iter().map(|(a, k)| (a.0, k.0)).collect(),
        data_dir,
        config_dir,
        segmentation_offload: true,
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
                return Err(ConfigError::Invalid(format!(
                    "{} is readable by others (mode {:o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                )));
            }
            let secret = NodeId::from_hex(&text).ok_or_else(|| ConfigError::Parse {
                path: path.clone(),
                message: "not a lanchat identity key (expected 64 hex digits); move it aside \
                          to create a new one"
                    .into(),
            })?;
            Ok(Identity::from_secret(secret.0))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| {
                ConfigError::Invalid(format!("no randomness for a new identity: {e}"))
            })?;
            write_private(&path, &format!("{}\n", NodeId(secret).to_hex()))?;
            Ok(Identity::from_secret(secret))
        }
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Writes a file readable by its owner only, atomically: a temporary file, synced, renamed.
fn write_private(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// Reads `known_peers`: `KEY LEVEL IP "NAME"` per line, `#` comments. A bad line is an
/// error naming it; the file is never rewritten over something we could not read.
pub fn load_known_peers(dir: &Path) -> Result<Vec<KnownPeer>, ConfigError> {
    let path = dir.join(KNOWN_PEERS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| ConfigError::Parse {
            path: path.clone(),
            message: format!("line {}: {what}", n + 1),
        };
        let mut parts = line.splitn(4, ' ');
        let id = parts
            .next()
            .and_then(NodeId::from_hex)
            .ok_or_else(|| bad("expected a key of 64 hex digits"))?;
        let level = parts
            .next()
            .and_then(TrustLevel::parse)
            .ok_or_else(|| bad("expected unverified, verified or blocked"))?;
        let ip = match parts.next() {
            Some("-") => None,
            Some(ip) => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| bad("expected an IP address or -"))?,
            ),
            None => return Err(bad("expected an IP address or -")),
        };
        let name: String = parts
            .next()
            .and_then(|n| serde_json::from_str(n).ok())
            .ok_or_else(|| bad("expected a quoted name"))?;
        out.push(KnownPeer {
            id,
            name,
            ip,
            level,
        });
    }
    Ok(out)
}

/// Writes `known_peers` (atomically, mode 0600).
pub fn save_known_peers(dir: &Path, peers: &[KnownPeer]) -> Result<(), ConfigError> {
    ensure_private_dir(dir)?;
    let mut text = String::from(
        "# lanchat known peers: key, trust, last address, name. Written by lanchat.\n",
    );
    for p in peers {
        let ip = p.ip.map_or_else(|| "-".to_string(), |ip| ip.to_string());
        let name = serde_json::to_string(&p.name).unwrap_or_else(|_| "\"\"".into());
        text.push_str(&format!(
            "{} {} {ip} {name}\n",
            p.id.to_hex(),
            p.level.as_str()
        ));
    }
    write_private(&dir.join(KNOWN_PEERS_FILE), &text)
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
            "theme = \"light\"\nnotify = \"osc777\"\n[keys]\nnext_chat = [\"ctrl-j\", \"f5\"]\nsearch = \"alt-s\"\nquit = []\n",
        )
        .expect("parses");
        assert_eq!(ok.theme, Some(Theme::Light));
        assert_eq!(ok.notify, Some(Notify::Osc777));
        let keys: Vec<(Action, usize)> = ok.keys.iter().map(|(a, k)| (a.0, k.0.len())).collect();
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
        ] {
            let err = parse_file(path, text).expect_err(text).to_string();
            assert!(err.contains(&format!("line {line}:")), "{text:?}: {err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
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
