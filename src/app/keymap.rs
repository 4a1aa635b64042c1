//! Which key does what: one table, read by the app and by the help overlay.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Pick a message (to copy it).
    Pick,
    /// Open the n-th conversation of the sidebar (1-based).
    Jump(u8),
    NextUnread,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const ALT: KeyModifiers = KeyModifiers::ALT;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

/// (key, modifiers, action). Several rows may share an action; [`HELP`] describes them
/// for people.
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
    (KeyCode::Esc, NONE, Action::Dismiss),
];

/// The action bound to a key, if any. Shift is ignored for everything but BackTab, since
/// terminals disagree on whether they report it with upper-case letters and symbols.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    let mods = if key.code == KeyCode::BackTab || key.code == KeyCode::Enter {
        key.modifiers
    } else {
        key.modifiers - KeyModifiers::SHIFT
    };
    BINDINGS
        .iter()
        .find(|(code, m, _)| *code == key.code && *m == mods)
        .map(|(_, _, action)| *action)
}

/// What the help overlay shows, one line per action.
pub const HELP: &[(&str, &str)] = &[
    ("Enter", "send the message, or run a /command"),
    ("Alt-Enter, Ctrl-J", "a new line in the message"),
    (
        "Tab / Shift-Tab, Ctrl-N / Ctrl-P",
        "next / previous chat (Tab completes)",
    ),
    ("Alt-1 … Alt-9, Alt-A", "chat 1 … 9, next unread"),
    (
        "Ctrl-K on an empty input, F2",
        "quick switcher; who is this peer",
    ),
    ("Up / Down", "what I sent before, into the input"),
    (
        "Ctrl-Up / Ctrl-Down, PgUp / PgDn",
        "scroll by a line, by a page",
    ),
    ("Ctrl-Home / Ctrl-End", "jump to the first / latest message"),
    (
        "Left / Right, Home / End",
        "move by character, to start / end",
    ),
    ("Ctrl-Left / Ctrl-Right, Alt-B / Alt-F", "move by word"),
    ("Ctrl-W, Alt-Backspace", "delete the word before the cursor"),
    (
        "Ctrl-U / Ctrl-K, Alt-D, Ctrl-Y",
        "kill to start / end / word, yank",
    ),
    (
        "Ctrl-R; Alt-Up, then y",
        "resend failed; pick a message, copy",
    ),
    ("Ctrl-S, /search TEXT", "search all chats (Chinese too)"),
    ("F1, ? on an empty input, /help", "this help (Esc closes)"),
    ("Ctrl-C / Ctrl-Q, /quit", "quit"),
    ("/add HOST:PORT", "reach a peer discovery cannot see"),
    ("/pin, /mute, /rename NAME", "pin, mute, or name this chat"),
    ("//text", "send text that starts with a slash"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let k = |code, mods| KeyEvent::new(code, mods);
        assert_eq!(action_for(&k(KeyCode::Enter, NONE)), Some(Action::Submit));
        assert_eq!(action_for(&k(KeyCode::Char('c'), CTRL)), Some(Action::Quit));
        assert_eq!(
            action_for(&k(KeyCode::BackTab, SHIFT)),
            Some(Action::PrevConversation)
        );
        assert_eq!(action_for(&k(KeyCode::Char('x'), NONE)), None);
        // Shift on a letter is typing, not a binding.
        assert_eq!(action_for(&k(KeyCode::Char('A'), SHIFT)), None);
    }

    #[test]
    fn no_key_is_bound_twice() {
        for (i, (code, mods, _)) in BINDINGS.iter().enumerate() {
            for (code2, mods2, _) in &BINDINGS[i + 1..] {
                assert!(
                    !(code == code2 && mods == mods2),
                    "{code:?} {mods:?} bound twice"
                );
            }
        }
    }
}
