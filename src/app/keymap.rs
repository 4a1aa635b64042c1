//! Which key does what: the keymaps in effect for the main screen and for each mode over
//! it (the defaults from [`crate::keys`], changed by `[keys]` in config.toml), read by the
//! app and by the help overlay.

use crate::i18n::Lang;
pub use crate::keys::*;
use crate::tr;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The keys in effect: the defaults, changed by config.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<(KeyCode, KeyModifiers, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            bindings: BINDINGS.to_vec(),
        }
    }
}

impl Keymap {
    /// The defaults with `changes` applied: each action named gets exactly the keys given
    /// (none: unbound), and those keys leave whatever action had them before.
    pub fn with(changes: &[(Action, Vec<KeySpec>)]) -> Keymap {
        let mut map = Keymap::default();
        for (action, keys) in changes {
            map.bindings.retain(|(code, mods, a)| {
                a != action && !keys.iter().any(|k| k.code == *code && k.mods == *mods)
            });
            for k in keys {
                map.bindings.push((k.code, k.mods, *action));
            }
        }
        map
    }

    /// The action bound to a key, if any. A key with Shift that has no binding of its own
    /// counts as the key without (terminals disagree on whether they report Shift with
    /// upper-case letters and symbols).
    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        let find = |mods: KeyModifiers| {
            self.bindings
                .iter()
                .find(|(code, m, _)| *code == key.code && *m == mods)
                .map(|(_, _, action)| *action)
        };
        find(key.modifiers).or_else(|| {
            if key.code == KeyCode::BackTab || key.code == KeyCode::Enter {
                return None;
            }
            key.modifiers
                .contains(KeyModifiers::SHIFT)
                .then(|| find(key.modifiers - KeyModifiers::SHIFT))
                .flatten()
        })
    }

    /// The keys bound to an action, in table order.
    pub fn keys_for(&self, action: Action) -> Vec<KeySpec> {
        self.bindings
            .iter()
            .filter(|(_, _, a)| *a == action)
            .map(|(code, mods, _)| KeySpec {
                code: *code,
                mods: *mods,
            })
            .collect()
    }

    /// The first key of an action, for hints ("F1 help"); `None` if unbound.
    pub fn first_key(&self, action: Action) -> Option<String> {
        self.keys_for(action).first().map(ToString::to_string)
    }

    /// What the help overlay lists for the main screen: (keys, what they do), keys as
    /// bound now, words in `lang`.
    pub fn help(&self, lang: Lang) -> Vec<(String, String)> {
        help_rows(lang, HELP, |a| self.keys_for(a))
    }
}

/// Help rows for `groups`, each action's keys found by `keys_for`: one row per group,
/// its actions' keys joined with " / " (a run of more than two, such as Alt-1 … Alt-9,
/// shown by its ends), "(unbound)" when none has a key; each group's words are the message
/// its id names, in `lang`.
fn help_rows(
    lang: Lang,
    groups: &[(&[Action], &str)],
    keys_for: impl Fn(Action) -> Vec<KeySpec>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (actions, what) in groups {
        let groups: Vec<String> = actions
            .iter()
            .map(|a| {
                let mut keys: Vec<String> = Vec::new();
                for k in keys_for(*a) {
                    let k = k.to_string();
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                keys.join(", ")
            })
            .collect();
        let keys = if actions.len() > 2 {
            format!(
                "{} … {}",
                groups.first().map_or("", String::as_str),
                groups.last().map_or("", String::as_str)
            )
        } else {
            groups.join(" / ")
        };
        let keys = if groups.iter().all(String::is_empty) {
            tr!(lang, "app-help-unbound")
        } else {
            keys
        };
        out.push((keys, lang.text(what)));
    }
    out
}

/// The keys in effect in one mode over the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeKeymap {
    pub mode: Mode,
    rows: Vec<(Bind, Action)>,
}

impl ModeKeymap {
    /// The action a key does in this mode: a key bound here, else a key the main screen
    /// binds to an action this mode borrows ([`Bind::Like`]). A key with Shift that has no
    /// binding of its own counts as the key without, as on the main screen.
    pub fn action_for(&self, key: &KeyEvent, base: &Keymap) -> Option<Action> {
        let literal = |mods: KeyModifiers| {
            self.rows
                .iter()
                .find(|(b, _)| *b == Bind::Key(key.code, mods))
                .map(|(_, a)| *a)
        };
        let like = || {
            let main = base.action_for(key)?;
            self.rows
                .iter()
                .find(|(b, _)| *b == Bind::Like(main))
                .map(|(_, a)| *a)
        };
        literal(key.modifiers).or_else(like).or_else(|| {
            let shifted = key.modifiers.contains(KeyModifiers::SHIFT)
                && key.code != KeyCode::BackTab
                && key.code != KeyCode::Enter;
            shifted
                .then(|| literal(key.modifiers - KeyModifiers::SHIFT))
                .flatten()
        })
    }

    /// The keys that do `action` in this mode now, in table order: exactly those for which
    /// [`ModeKeymap::action_for`] answers `action`.
    pub fn keys_for(&self, action: Action, base: &Keymap) -> Vec<KeySpec> {
        let mut keys: Vec<KeySpec> = Vec::new();
        for (bind, a) in &self.rows {
            if *a != action {
                continue;
            }
            let found = match bind {
                Bind::Key(code, mods) => vec![KeySpec {
                    code: *code,
                    mods: *mods,
                }],
                Bind::Like(main) => base.keys_for(*main),
            };
            for k in found {
                let works = self.action_for(&KeyEvent::new(k.code, k.mods), base) == Some(action);
                if works && !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// The actions with at least one key in this mode.
    pub fn bound_actions(&self, base: &Keymap) -> Vec<Action> {
        let mut out: Vec<Action> = Vec::new();
        for (_, a) in &self.rows {
            if !out.contains(a) && !self.keys_for(*a, base).is_empty() {
                out.push(*a);
            }
        }
        out
    }
}

/// The keys in effect in every mode over the main screen: the defaults, changed by the
/// `[keys.in_MODE]` sections of config.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeKeymaps {
    maps: Vec<ModeKeymap>,
}

impl Default for ModeKeymaps {
    fn default() -> Self {
        ModeKeymaps {
            maps: MODES
                .iter()
                .map(|d| ModeKeymap {
                    mode: d.mode,
                    rows: d.defaults.to_vec(),
                })
                .collect(),
        }
    }
}

impl ModeKeymaps {
    /// The defaults with `changes` applied, as [`Keymap::with`] does for the main screen:
    /// each (mode, action) named gets exactly the keys given, and those keys leave
    /// whatever action had them in that mode.
    pub fn with(changes: &[(Mode, Action, Vec<KeySpec>)]) -> ModeKeymaps {
        let mut maps = ModeKeymaps::default();
        for (mode, action, keys) in changes {
            let Some(map) = maps.maps.iter_mut().find(|m| m.mode == *mode) else {
                continue;
            };
            map.rows.retain(|(b, a)| {
                a != action && !keys.iter().any(|k| *b == Bind::Key(k.code, k.mods))
            });
            // In front, so that a key given here wins over one borrowed from the main
            // screen.
            for k in keys.iter().rev() {
                map.rows.insert(0, (Bind::Key(k.code, k.mods), *action));
            }
        }
        maps
    }

    /// The table of a mode over the main screen; `None` for [`Mode::Base`].
    pub fn get(&self, mode: Mode) -> Option<&ModeKeymap> {
        self.maps.iter().find(|m| m.mode == mode)
    }
}

/// A section of the help: a heading (none for the main screen) and its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpSection {
    pub title: Option<String>,
    pub rows: Vec<(String, String)>,
}

/// The help, made from the keymaps in effect: the main screen, then each mode, in `lang`.
pub fn help(lang: Lang, base: &Keymap, modes: &ModeKeymaps) -> Vec<HelpSection> {
    let mut out = vec![HelpSection {
        title: None,
        rows: base.help(lang),
    }];
    for def in MODES {
        let Some(map) = modes.get(def.mode) else {
            continue;
        };
        out.push(HelpSection {
            title: Some(lang.text(def.title)),
            rows: help_rows(lang, def.help, |a| map.keys_for(a, base)),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn keys_map_to_actions() {
        let map = Keymap::default();
        assert_eq!(
            map.action_for(&k(KeyCode::Enter, NONE)),
            Some(Action::Submit)
        );
        assert_eq!(
            map.action_for(&k(KeyCode::Char('c'), CTRL)),
            Some(Action::Quit)
        );
        assert_eq!(
            map.action_for(&k(KeyCode::BackTab, SHIFT)),
            Some(Action::PrevConversation)
        );
        assert_eq!(map.action_for(&k(KeyCode::Char('x'), NONE)), None);
        // Shift on a letter is typing, not a binding.
        assert_eq!(map.action_for(&k(KeyCode::Char('A'), SHIFT)), None);
        // Shift on a bound key without a binding of its own is the key.
        assert_eq!(
            map.action_for(&k(KeyCode::PageUp, SHIFT)),
            Some(Action::PageUp)
        );
        assert_eq!(
            map.action_for(&k(KeyCode::Enter, SHIFT)),
            Some(Action::Newline)
        );
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

    #[test]
    fn every_action_has_a_name_and_a_default_key() {
        for (action, name) in ACTION_NAMES {
            assert_eq!(Action::from_name(name), Some(*action));
            assert_eq!(action.name(), *name);
            assert!(!Keymap::default().keys_for(*action).is_empty(), "{name}");
        }
        // And every bound action has a name.
        for (_, _, a) in BINDINGS {
            assert!(ACTION_NAMES.iter().any(|(x, _)| x == a), "{a:?}");
        }
    }

    #[test]
    fn key_strings_parse_and_print() {
        let p = |s: &str| s.parse::<KeySpec>();
        assert_eq!(
            p("ctrl-n"),
            Ok(KeySpec {
                code: KeyCode::Char('n'),
                mods: CTRL
            })
        );
        assert_eq!(
            p("Alt-Enter"),
            Ok(KeySpec {
                code: KeyCode::Enter,
                mods: ALT
            })
        );
        assert_eq!(
            p("f1"),
            Ok(KeySpec {
                code: KeyCode::F(1),
                mods: NONE
            })
        );
        assert_eq!(
            p("shift-tab"),
            Ok(KeySpec {
                code: KeyCode::BackTab,
                mods: SHIFT
            })
        );
        assert_eq!(
            p("ctrl--"),
            Ok(KeySpec {
                code: KeyCode::Char('-'),
                mods: CTRL
            })
        );
        assert_eq!(
            p("ctrl-alt-pgup"),
            Ok(KeySpec {
                code: KeyCode::PageUp,
                mods: CTRL | ALT
            })
        );
        for bad in ["", "ctrl-", "hyper-x", "f13", "ctrl-foo", "x", "ctrl-\u{7}"] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        for s in [
            "Ctrl-N",
            "Alt-Enter",
            "F1",
            "Shift-Tab",
            "Ctrl-Alt-PgUp",
            "Alt-1",
        ] {
            assert_eq!(p(s).expect(s).to_string(), s);
        }
    }

    #[test]
    fn rebinding_moves_keys_and_help_follows() {
        let ctrl_j = KeySpec {
            code: KeyCode::Char('j'),
            mods: CTRL,
        };
        let f5 = KeySpec {
            code: KeyCode::F(5),
            mods: NONE,
        };
        let map = Keymap::with(&[(Action::NextConversation, vec![ctrl_j, f5])]);
        // Ctrl-J was Newline's: now it is the new action's, and Ctrl-N is free.
        assert_eq!(
            map.action_for(&k(KeyCode::Char('j'), CTRL)),
            Some(Action::NextConversation)
        );
        assert_eq!(
            map.action_for(&k(KeyCode::F(5), NONE)),
            Some(Action::NextConversation)
        );
        assert_eq!(map.action_for(&k(KeyCode::Char('n'), CTRL)), None);
        assert_eq!(
            map.keys_for(Action::Newline).len(),
            2,
            "Alt-Enter and Shift-Enter stay"
        );
        let help = map.help(Lang::En);
        let row = help
            .iter()
            .find(|(_, what)| what == "next / previous chat")
            .expect("row");
        assert_eq!(row.0, "Ctrl-J, F5 / Shift-Tab, Ctrl-P");
        let unbound = Keymap::with(&[(Action::Search, vec![])]);
        let row = unbound
            .help(Lang::En)
            .into_iter()
            .find(|(_, w)| w.starts_with("search all"))
            .expect("row");
        assert_eq!(row.0, "(unbound)");
    }
}
