//! Keys as data, below the model and the settings: the actions, how a key is written
//! (`KeySpec`), the default bindings of the main screen, and the modes over it with their
//! default tables. `config` reads `[keys]` into these; `app::keymap` builds the keymaps in
//! effect from them and dispatches on them.

use crate::i18n::Lang;
use crate::tr;
use crossterm::event::{KeyCode, KeyModifiers};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Submit,
    Quit,
    NextConversation,
    PrevConversation,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ScrollBottom,
    ScrollTop,
    Left,
    Right,
    Home,
    End,
    WordLeft,
    WordRight,
    Backspace,
    Delete,
    KillToStart,
    DeleteWordBack,
    ToggleHelp,
    Dismiss,
    ResendFailed,
    Search,
    Yank,
    DeleteWordForward,
    /// Earlier / later things I sent, into the input.
    HistoryPrev,
    HistoryNext,
    /// A line break in the input (the message is sent with Enter).
    Newline,
    /// Complete a /command or a name, or else go to the next conversation.
    Complete,
    /// The quick switcher (when the input is empty; else delete to the end).
    Switcher,
    PeerInfo,
    /// Pick a message (to copy it, reply to it, recall it).
    Pick,
    /// Open the n-th conversation of the sidebar (1-based).
    Jump(u8),
    NextUnread,
    /// Show or hide the conversation list (on a narrow terminal: over the messages).
    ToggleSidebar,
    // What keys do in the modes over the main screen (see [`Mode`]).
    /// Close what is open (let go of a picked message).
    Close,
    /// Move the selection (or the help) up or down by one.
    Up,
    Down,
    /// To the top of the help.
    Top,
    /// Open the selected search hit or conversation.
    Open,
    /// The picked message: copy it, reply to it, recall it.
    Copy,
    Reply,
    Recall,
    /// The picked file bubble: accept the offer, decline or cancel it, open the file.
    AcceptFile,
    StopFile,
    OpenFile,
    /// The verification codes matched: mark the key verified.
    Confirm,
}

/// Every action with the name `[keys]` in config.toml knows it by.
pub const ACTION_NAMES: &[(Action, &str)] = &[
    (Action::Submit, "send"),
    (Action::Newline, "newline"),
    (Action::Quit, "quit"),
    (Action::NextConversation, "next_chat"),
    (Action::PrevConversation, "prev_chat"),
    (Action::Complete, "complete"),
    (Action::Jump(1), "chat_1"),
    (Action::Jump(2), "chat_2"),
    (Action::Jump(3), "chat_3"),
    (Action::Jump(4), "chat_4"),
    (Action::Jump(5), "chat_5"),
    (Action::Jump(6), "chat_6"),
    (Action::Jump(7), "chat_7"),
    (Action::Jump(8), "chat_8"),
    (Action::Jump(9), "chat_9"),
    (Action::NextUnread, "next_unread"),
    (Action::Switcher, "switcher"),
    (Action::PeerInfo, "peer_info"),
    (Action::ToggleSidebar, "sidebar"),
    (Action::HistoryPrev, "history_prev"),
    (Action::HistoryNext, "history_next"),
    (Action::ScrollUp, "scroll_up"),
    (Action::ScrollDown, "scroll_down"),
    (Action::PageUp, "page_up"),
    (Action::PageDown, "page_down"),
    (Action::ScrollTop, "oldest"),
    (Action::ScrollBottom, "latest"),
    (Action::Left, "left"),
    (Action::Right, "right"),
    (Action::Home, "line_start"),
    (Action::End, "line_end"),
    (Action::WordLeft, "word_left"),
    (Action::WordRight, "word_right"),
    (Action::Backspace, "backspace"),
    (Action::Delete, "delete"),
    (Action::DeleteWordBack, "delete_word_back"),
    (Action::DeleteWordForward, "delete_word"),
    (Action::KillToStart, "kill_to_start"),
    (Action::Yank, "yank"),
    (Action::Pick, "pick"),
    (Action::ResendFailed, "resend"),
    (Action::Search, "search"),
    (Action::ToggleHelp, "help"),
    (Action::Dismiss, "dismiss"),
];

impl Action {
    pub fn name(self) -> &'static str {
        ACTION_NAMES
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("?", |(_, n)| n)
    }

    pub fn from_name(name: &str) -> Option<Action> {
        ACTION_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }
}

pub(crate) const NONE: KeyModifiers = KeyModifiers::NONE;
pub(crate) const CTRL: KeyModifiers = KeyModifiers::CONTROL;
pub(crate) const ALT: KeyModifiers = KeyModifiers::ALT;
pub(crate) const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

/// The default table: (key, modifiers, action). Several rows may share an action; [`HELP`]
/// describes them for people.
pub const BINDINGS: &[(KeyCode, KeyModifiers, Action)] = &[
    (KeyCode::Enter, NONE, Action::Submit),
    (KeyCode::Char('c'), CTRL, Action::Quit),
    (KeyCode::Char('q'), CTRL, Action::Quit),
    (KeyCode::Tab, NONE, Action::Complete),
    (KeyCode::Char('n'), CTRL, Action::NextConversation),
    (KeyCode::BackTab, SHIFT, Action::PrevConversation),
    (KeyCode::BackTab, NONE, Action::PrevConversation),
    (KeyCode::Char('p'), CTRL, Action::PrevConversation),
    (KeyCode::Up, NONE, Action::HistoryPrev),
    (KeyCode::Down, NONE, Action::HistoryNext),
    (KeyCode::Up, CTRL, Action::ScrollUp),
    (KeyCode::Down, CTRL, Action::ScrollDown),
    (KeyCode::Enter, ALT, Action::Newline),
    (KeyCode::Enter, SHIFT, Action::Newline),
    (KeyCode::Char('j'), CTRL, Action::Newline),
    (KeyCode::PageUp, NONE, Action::PageUp),
    (KeyCode::PageDown, NONE, Action::PageDown),
    (KeyCode::End, CTRL, Action::ScrollBottom),
    (KeyCode::Home, CTRL, Action::ScrollTop),
    (KeyCode::Left, NONE, Action::Left),
    (KeyCode::Char('b'), CTRL, Action::Left),
    (KeyCode::Right, NONE, Action::Right),
    (KeyCode::Char('f'), CTRL, Action::Right),
    (KeyCode::Home, NONE, Action::Home),
    (KeyCode::Char('a'), CTRL, Action::Home),
    (KeyCode::End, NONE, Action::End),
    (KeyCode::Char('e'), CTRL, Action::End),
    (KeyCode::Left, CTRL, Action::WordLeft),
    (KeyCode::Char('b'), ALT, Action::WordLeft),
    (KeyCode::Right, CTRL, Action::WordRight),
    (KeyCode::Char('f'), ALT, Action::WordRight),
    (KeyCode::Backspace, NONE, Action::Backspace),
    (KeyCode::Char('h'), CTRL, Action::Backspace),
    (KeyCode::Delete, NONE, Action::Delete),
    (KeyCode::Char('u'), CTRL, Action::KillToStart),
    (KeyCode::Char('k'), CTRL, Action::Switcher),
    (KeyCode::Char('y'), CTRL, Action::Yank),
    (KeyCode::Char('d'), ALT, Action::DeleteWordForward),
    (KeyCode::F(2), NONE, Action::PeerInfo),
    (KeyCode::Up, ALT, Action::Pick),
    (KeyCode::Char('w'), CTRL, Action::DeleteWordBack),
    (KeyCode::Backspace, ALT, Action::DeleteWordBack),
    (KeyCode::Char('r'), CTRL, Action::ResendFailed),
    (KeyCode::Char('s'), CTRL, Action::Search),
    (KeyCode::Char('a'), ALT, Action::NextUnread),
    (KeyCode::Char('1'), ALT, Action::Jump(1)),
    (KeyCode::Char('2'), ALT, Action::Jump(2)),
    (KeyCode::Char('3'), ALT, Action::Jump(3)),
    (KeyCode::Char('4'), ALT, Action::Jump(4)),
    (KeyCode::Char('5'), ALT, Action::Jump(5)),
    (KeyCode::Char('6'), ALT, Action::Jump(6)),
    (KeyCode::Char('7'), ALT, Action::Jump(7)),
    (KeyCode::Char('8'), ALT, Action::Jump(8)),
    (KeyCode::Char('9'), ALT, Action::Jump(9)),
    (KeyCode::F(1), NONE, Action::ToggleHelp),
    (KeyCode::F(3), NONE, Action::ToggleSidebar),
    (KeyCode::Char('l'), ALT, Action::ToggleSidebar),
    (KeyCode::Esc, NONE, Action::Dismiss),
];

/// The actions the help overlay describes for the main screen, grouped, in the order it
/// lists them, each group with the message id of what it does.
pub const HELP: &[(&[Action], &str)] = &[
    (&[Action::Submit], "keys-send"),
    (&[Action::Newline], "keys-newline"),
    (
        &[Action::NextConversation, Action::PrevConversation],
        "keys-next-prev-chat",
    ),
    (&[Action::Complete], "keys-complete"),
    (
        &[
            Action::Jump(1),
            Action::Jump(2),
            Action::Jump(3),
            Action::Jump(4),
            Action::Jump(5),
            Action::Jump(6),
            Action::Jump(7),
            Action::Jump(8),
            Action::Jump(9),
        ],
        "keys-jump",
    ),
    (&[Action::NextUnread], "keys-next-unread"),
    (&[Action::Switcher], "keys-switcher"),
    (&[Action::PeerInfo], "keys-peer-info"),
    (&[Action::ToggleSidebar], "keys-sidebar"),
    (&[Action::Pick], "keys-pick"),
    (&[Action::HistoryPrev, Action::HistoryNext], "keys-history"),
    (&[Action::ScrollUp, Action::ScrollDown], "keys-scroll-line"),
    (&[Action::PageUp, Action::PageDown], "keys-scroll-page"),
    (
        &[Action::ScrollTop, Action::ScrollBottom],
        "keys-oldest-latest",
    ),
    (&[Action::Left, Action::Right], "keys-move-char"),
    (&[Action::Home, Action::End], "keys-line-ends"),
    (&[Action::WordLeft, Action::WordRight], "keys-move-word"),
    (&[Action::Backspace, Action::Delete], "keys-delete"),
    (
        &[Action::DeleteWordBack, Action::DeleteWordForward],
        "keys-delete-word",
    ),
    (&[Action::KillToStart, Action::Yank], "keys-kill-yank"),
    (&[Action::ResendFailed], "keys-resend"),
    (&[Action::Search], "keys-search"),
    (&[Action::ToggleHelp], "keys-help"),
    (&[Action::Dismiss], "keys-dismiss"),
    (&[Action::Quit], "keys-quit"),
];

/// A key with its modifiers, as config.toml writes it: `ctrl-n`, `alt-enter`, `f1`,
/// `shift-tab`, `pgup`, `ctrl-alt-x`, `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("return", KeyCode::Enter),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("esc", KeyCode::Esc),
    ("escape", KeyCode::Esc),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("del", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pgup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("pgdn", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("space", KeyCode::Char(' ')),
];

impl std::str::FromStr for KeySpec {
    type Err = String;

    /// A key for the main screen, where a plain character is typing.
    fn from_str(s: &str) -> Result<KeySpec, String> {
        KeySpec::parse(s, false)
    }
}

impl KeySpec {
    /// Parses a key; a plain character (`y`, `?`) only where `plain` allows it (a mode
    /// that takes no text). A mistake is said in English (see [`KeySpec::parse_in`]).
    pub fn parse(s: &str, plain: bool) -> Result<KeySpec, String> {
        KeySpec::parse_in(s, plain, Lang::En)
    }

    /// [`KeySpec::parse`], saying what is wrong in `lang`.
    pub fn parse_in(s: &str, plain: bool, lang: Lang) -> Result<KeySpec, String> {
        let bad = |why: String| tr!(lang, "keys-bad-key", key = format!("{s:?}"), why = why);
        let lower = s.trim().to_ascii_lowercase();
        if lower.is_empty() {
            return Err(bad(tr!(lang, "keys-bad-empty")));
        }
        // The key is after the last '-', unless the key is '-' itself ("ctrl--").
        let (mods_part, key) = if lower == "-" {
            ("", "-")
        } else if let Some(m) = lower.strip_suffix("--") {
            (m, "-")
        } else {
            lower.rsplit_once('-').unwrap_or(("", lower.as_str()))
        };
        let mut mods = KeyModifiers::NONE;
        for m in mods_part.split('-').filter(|m| !m.is_empty()) {
            mods |= match m {
                "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
                "alt" | "meta" | "m" | "a" => KeyModifiers::ALT,
                "shift" | "s" => KeyModifiers::SHIFT,
                other => {
                    return Err(bad(tr!(
                        lang,
                        "keys-bad-modifier",
                        modifier = format!("{other:?}")
                    )));
                }
            };
        }
        let code = if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == key) {
            *code
        } else if let Some(n) = key.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            if !(1..=12).contains(&n) {
                return Err(bad(tr!(lang, "keys-bad-function")));
            }
            KeyCode::F(n)
        } else {
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                _ => {
                    return Err(bad(tr!(lang, "keys-bad-unknown", key = format!("{key:?}"))));
                }
            }
        };
        // Shift-Tab is BackTab to crossterm.
        let (code, mods) = if code == KeyCode::Tab && mods.contains(KeyModifiers::SHIFT) {
            (KeyCode::BackTab, mods)
        } else {
            (code, mods)
        };
        if matches!(code, KeyCode::Char(_)) && mods.is_empty() && !plain {
            return Err(bad(tr!(lang, "keys-bad-plain")));
        }
        Ok(KeySpec { code, mods })
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (m, name) in [
            (KeyModifiers::CONTROL, "Ctrl-"),
            (KeyModifiers::ALT, "Alt-"),
            (KeyModifiers::SHIFT, "Shift-"),
        ] {
            // Shift-Tab says its shift by itself.
            if self.mods.contains(m) && !(self.code == KeyCode::BackTab && m == KeyModifiers::SHIFT)
            {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            // A letter with a modifier is named in capitals (Ctrl-N); alone, as typed (y).
            KeyCode::Char(c) if self.mods.is_empty() => write!(f, "{c}"),
            KeyCode::Char(c) => write!(f, "{}", c.to_ascii_uppercase()),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Del"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// Where keys go: the main screen, or what is open over it. Each mode has its own table
/// of keys (`app::keymap::ModeKeymaps`); the app works out the mode from what is open and asks that
/// table what a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// The main screen: typing goes into the input (`app::keymap::Keymap`).
    Base,
    /// A message is picked (Alt-Up).
    Picked,
    /// Search results are open.
    Search,
    /// The quick switcher is open (typing filters it).
    Switcher,
    /// The list of strangers is open (typing filters it).
    Strangers,
    /// The help is open.
    Help,
    /// The verify overlay is open.
    Verify,
    /// The peer info overlay is open.
    PeerInfo,
    /// On a narrow terminal, the conversation list is shown over the messages.
    ChatList,
}

/// A row of a mode's default table: a key, or every key the main screen binds to an
/// action (so rebinding `dismiss` moves the key that closes each overlay too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    Key(KeyCode, KeyModifiers),
    Like(Action),
}

/// What a mode does with a key its table does not bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbound {
    /// Nothing: the overlay covers the screen (and the input), so the key is dropped.
    Ignore,
    /// A typed character is dropped; any other key does its job on the main screen,
    /// with the mode left open.
    PassOn,
    /// As [`Unbound::PassOn`], but the mode closes first.
    CloseAndPassOn,
}

/// One mode: its name in config.toml (`[keys.NAME]`; `in_` and the mode, so that it is
/// never an action's name, as TOML cannot have both `search = "alt-s"` and
/// `[keys.search]`), its heading in the help, whether typed characters are its text (a
/// filter), what it does with other keys, the actions it knows, its default keys, and the
/// help's lines for it. The heading and the help's words are message ids (`keys-…` in
/// `locales/LANG/keys.ftl`); the names are config.toml's and never translated.
pub struct ModeDef {
    pub mode: Mode,
    pub name: &'static str,
    /// The message id of its heading in the help.
    pub title: &'static str,
    pub takes_text: bool,
    pub unbound: Unbound,
    pub actions: &'static [(Action, &'static str)],
    pub defaults: &'static [(Bind, Action)],
    /// Groups of actions, each with the message id of what they do.
    pub help: &'static [(&'static [Action], &'static str)],
}

const fn key(code: KeyCode) -> Bind {
    Bind::Key(code, NONE)
}

const fn ch(c: char) -> Bind {
    Bind::Key(KeyCode::Char(c), NONE)
}

const LIST_ACTIONS: &[(Action, &str)] = &[
    (Action::Up, "up"),
    (Action::Down, "down"),
    (Action::Open, "open"),
    (Action::Backspace, "backspace"),
    (Action::Close, "close"),
    (Action::ToggleHelp, "help"),
    (Action::Quit, "quit"),
];

const LIST_KEYS: &[(Bind, Action)] = &[
    (key(KeyCode::Up), Action::Up),
    (key(KeyCode::Down), Action::Down),
    (key(KeyCode::Enter), Action::Open),
    (Bind::Like(Action::Backspace), Action::Backspace),
    (Bind::Like(Action::Dismiss), Action::Close),
    (Bind::Like(Action::ToggleHelp), Action::ToggleHelp),
    (Bind::Like(Action::Quit), Action::Quit),
];

const LIST_HELP: &[(&[Action], &str)] = &[
    (&[Action::Up, Action::Down], "keys-choose"),
    (&[Action::Open], "keys-open"),
    (&[Action::Backspace], "keys-take-back"),
    (&[Action::Close], "keys-close"),
    (&[Action::ToggleHelp], "keys-this-help"),
    (&[Action::Quit], "keys-quit"),
];

/// Every mode over the main screen, in the order the help lists them.
pub const MODES: &[ModeDef] = &[
    ModeDef {
        mode: Mode::Picked,
        name: "in_picked",
        title: "keys-mode-picked",
        takes_text: false,
        unbound: Unbound::CloseAndPassOn,
        actions: &[
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::Copy, "copy"),
            (Action::Reply, "reply"),
            (Action::Recall, "recall"),
            (Action::AcceptFile, "accept"),
            (Action::StopFile, "stop"),
            (Action::OpenFile, "open_file"),
            (Action::Close, "close"),
        ],
        defaults: &[
            (key(KeyCode::Up), Action::Up),
            (key(KeyCode::Down), Action::Down),
            (ch('y'), Action::Copy),
            (ch('c'), Action::Copy),
            (ch('r'), Action::Reply),
            (ch('d'), Action::Recall),
            (ch('a'), Action::AcceptFile),
            (ch('x'), Action::StopFile),
            (ch('o'), Action::OpenFile),
            (Bind::Like(Action::Dismiss), Action::Close),
        ],
        help: &[
            (&[Action::Up, Action::Down], "keys-picked-move"),
            (&[Action::Copy], "keys-picked-copy"),
            (&[Action::Reply], "keys-picked-reply"),
            (&[Action::Recall], "keys-picked-recall"),
            (&[Action::AcceptFile], "keys-picked-accept"),
            (&[Action::StopFile], "keys-picked-stop"),
            (&[Action::OpenFile], "keys-picked-open"),
            (&[Action::Close], "keys-picked-close"),
        ],
    },
    ModeDef {
        mode: Mode::Search,
        name: "in_search",
        title: "keys-mode-search",
        takes_text: false,
        unbound: Unbound::Ignore,
        actions: &[
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::PageUp, "page_up"),
            (Action::PageDown, "page_down"),
            (Action::Open, "open"),
            (Action::Close, "close"),
            (Action::ToggleHelp, "help"),
            (Action::Quit, "quit"),
        ],
        defaults: &[
            (key(KeyCode::Up), Action::Up),
            (key(KeyCode::Down), Action::Down),
            (key(KeyCode::PageUp), Action::PageUp),
            (key(KeyCode::PageDown), Action::PageDown),
            (key(KeyCode::Enter), Action::Open),
            (Bind::Like(Action::Dismiss), Action::Close),
            (Bind::Like(Action::ToggleHelp), Action::ToggleHelp),
            (Bind::Like(Action::Quit), Action::Quit),
        ],
        help: &[
            (&[Action::Up, Action::Down], "keys-choose"),
            (&[Action::PageUp, Action::PageDown], "keys-choose-ten"),
            (&[Action::Open], "keys-search-open"),
            (&[Action::Close], "keys-close"),
            (&[Action::ToggleHelp], "keys-this-help"),
            (&[Action::Quit], "keys-quit"),
        ],
    },
    ModeDef {
        mode: Mode::Switcher,
        name: "in_switcher",
        title: "keys-mode-switcher",
        takes_text: true,
        unbound: Unbound::Ignore,
        actions: LIST_ACTIONS,
        defaults: LIST_KEYS,
        help: LIST_HELP,
    },
    ModeDef {
        mode: Mode::Strangers,
        name: "in_strangers",
        title: "keys-mode-strangers",
        takes_text: true,
        unbound: Unbound::Ignore,
        actions: LIST_ACTIONS,
        defaults: LIST_KEYS,
        help: LIST_HELP,
    },
    ModeDef {
        mode: Mode::Verify,
        name: "in_verify",
        title: "keys-mode-verify",
        takes_text: false,
        unbound: Unbound::Ignore,
        actions: &[
            (Action::Confirm, "confirm"),
            (Action::Close, "close"),
            (Action::ToggleHelp, "help"),
            (Action::Quit, "quit"),
        ],
        defaults: &[
            (ch('y'), Action::Confirm),
            (key(KeyCode::Enter), Action::Confirm),
            (ch('n'), Action::Close),
            (ch('q'), Action::Close),
            (Bind::Like(Action::Dismiss), Action::Close),
            (Bind::Like(Action::ToggleHelp), Action::ToggleHelp),
            (Bind::Like(Action::Quit), Action::Quit),
        ],
        help: &[
            (&[Action::Confirm], "keys-verify-confirm"),
            (&[Action::Close], "keys-verify-close"),
            (&[Action::ToggleHelp], "keys-this-help"),
            (&[Action::Quit], "keys-quit"),
        ],
    },
    ModeDef {
        mode: Mode::PeerInfo,
        name: "in_peer_info",
        title: "keys-mode-peer-info",
        takes_text: false,
        unbound: Unbound::PassOn,
        actions: &[(Action::Close, "close")],
        defaults: &[
            (Bind::Like(Action::Dismiss), Action::Close),
            (Bind::Like(Action::PeerInfo), Action::Close),
        ],
        help: &[(&[Action::Close], "keys-close")],
    },
    ModeDef {
        mode: Mode::ChatList,
        name: "in_chat_list",
        title: "keys-mode-chat-list",
        takes_text: false,
        unbound: Unbound::PassOn,
        actions: &[
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::Close, "close"),
        ],
        defaults: &[
            (key(KeyCode::Up), Action::Up),
            (key(KeyCode::Down), Action::Down),
            (key(KeyCode::Enter), Action::Close),
            (Bind::Like(Action::Dismiss), Action::Close),
        ],
        help: &[
            (&[Action::Up, Action::Down], "keys-chat-list-move"),
            (&[Action::Close], "keys-chat-list-close"),
        ],
    },
    ModeDef {
        mode: Mode::Help,
        name: "in_help",
        title: "keys-mode-help",
        takes_text: false,
        unbound: Unbound::Ignore,
        actions: &[
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::PageUp, "page_up"),
            (Action::PageDown, "page_down"),
            (Action::Top, "top"),
            (Action::Close, "close"),
            (Action::Quit, "quit"),
        ],
        defaults: &[
            (key(KeyCode::Up), Action::Up),
            (key(KeyCode::Down), Action::Down),
            (key(KeyCode::PageUp), Action::PageUp),
            (key(KeyCode::PageDown), Action::PageDown),
            (ch(' '), Action::PageDown),
            (key(KeyCode::Home), Action::Top),
            (ch('?'), Action::Close),
            (Bind::Like(Action::ToggleHelp), Action::Close),
            (Bind::Like(Action::Dismiss), Action::Close),
            (Bind::Like(Action::Quit), Action::Quit),
        ],
        help: &[
            (&[Action::Up, Action::Down], "keys-scroll-line"),
            (&[Action::PageUp, Action::PageDown], "keys-scroll-page"),
            (&[Action::Top], "keys-help-top"),
            (&[Action::Close], "keys-close"),
            (&[Action::Quit], "keys-quit"),
        ],
    },
];

impl Mode {
    /// The definition of a mode over the main screen; `None` for [`Mode::Base`].
    pub fn def(self) -> Option<&'static ModeDef> {
        MODES.iter().find(|d| d.mode == self)
    }

    /// The mode whose section in config.toml is `[keys.NAME]`.
    pub fn from_name(name: &str) -> Option<Mode> {
        MODES.iter().find(|d| d.name == name).map(|d| d.mode)
    }

    /// The action a mode knows by `name` in its `[keys.in_MODE]` section.
    pub fn action(self, name: &str) -> Option<Action> {
        let def = self.def()?;
        def.actions
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(a, _)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// Every message id the help reads from these tables.
    fn help_ids() -> Vec<&'static str> {
        let mut ids: Vec<&str> = HELP.iter().map(|(_, id)| *id).collect();
        for def in MODES {
            ids.push(def.title);
            ids.extend(def.help.iter().map(|(_, id)| *id));
        }
        ids
    }

    #[test]
    fn every_help_text_is_a_message_in_both_languages_and_translated() {
        let ids = help_ids();
        assert!(ids.len() > HELP.len() + MODES.len(), "the tables were read");
        for id in ids {
            assert!(id.starts_with("keys-"), "{id}");
            for lang in Lang::ALL {
                assert!(lang.has(id), "{lang}: no {id}");
            }
            assert_ne!(
                Lang::Zh.text(id),
                Lang::En.text(id),
                "{id} is not translated"
            );
        }
    }
}
