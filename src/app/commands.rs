//! The slash commands: one table that Tab completion, the help and the dispatch in
//! [`App::command`](super::App) all read. The names are what is typed, the same in every
//! language; the argument and what a command does are message ids (`app-arg-…`, `app-cmd-…`).

use crate::i18n::Lang;
use crate::tr;

/// A slash command, as the app dispatches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Pin,
    Mute,
    Rename,
    Recall,
    Verify,
    Trust,
    Block,
    Search,
    Strangers,
    Plain,
    Send,
    Accept,
    Decline,
    Cancel,
    Open,
    Group,
    Invite,
    Leave,
    Remove,
    Owner,
    Away,
    Help,
    Quit,
}

/// What Tab completes in a command's argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Nothing: Tab there does nothing (it does not switch chats under the half-typed
    /// command).
    Nothing,
    /// The address (`HOST:PORT`) of a peer met before.
    PeerAddress,
    /// A path on this machine (the runtime reads the directory).
    Path,
    /// `@name`: a peer, or in a group one of its members.
    Mention,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandDef {
    pub command: Command,
    /// `/name`; Tab completes it.
    pub name: &'static str,
    /// Other names that run it (not completed, not offered).
    pub aliases: &'static [&'static str],
    /// The message id of the argument as the help writes it (`HOST:PORT`), empty if none.
    pub args: &'static str,
    /// The message id of what it does.
    pub help: &'static str,
    pub completes: Completion,
}

const fn def(
    command: Command,
    name: &'static str,
    aliases: &'static [&'static str],
    args: &'static str,
    help: &'static str,
    completes: Completion,
) -> CommandDef {
    CommandDef {
        command,
        name,
        aliases,
        args,
        help,
        completes,
    }
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[CommandDef] = &[
    def(
        Command::Add,
        "add",
        &[],
        "app-arg-host-port",
        "app-cmd-add",
        Completion::PeerAddress,
    ),
    def(
        Command::Pin,
        "pin",
        &[],
        "",
        "app-cmd-pin",
        Completion::Nothing,
    ),
    def(
        Command::Mute,
        "mute",
        &[],
        "",
        "app-cmd-mute",
        Completion::Nothing,
    ),
    def(
        Command::Rename,
        "rename",
        &[],
        "app-arg-name",
        "app-cmd-rename",
        Completion::Nothing,
    ),
    def(
        Command::Recall,
        "recall",
        &[],
        "",
        "app-cmd-recall",
        Completion::Nothing,
    ),
    def(
        Command::Verify,
        "verify",
        &[],
        "",
        "app-cmd-verify",
        Completion::Nothing,
    ),
    def(
        Command::Trust,
        "trust",
        &[],
        "",
        "app-cmd-trust",
        Completion::Nothing,
    ),
    def(
        Command::Block,
        "block",
        &[],
        "",
        "app-cmd-block",
        Completion::Nothing,
    ),
    def(
        Command::Search,
        "search",
        &["s"],
        "app-arg-text",
        "app-cmd-search",
        Completion::Nothing,
    ),
    def(
        Command::Strangers,
        "strangers",
        &[],
        "",
        "app-cmd-strangers",
        Completion::Nothing,
    ),
    def(
        Command::Plain,
        "plain",
        &[],
        "",
        "app-cmd-plain",
        Completion::Nothing,
    ),
    def(
        Command::Send,
        "send",
        &["file"],
        "app-arg-paths",
        "app-cmd-send",
        Completion::Path,
    ),
    def(
        Command::Accept,
        "accept",
        &[],
        "app-arg-dir",
        "app-cmd-accept",
        Completion::Path,
    ),
    def(
        Command::Decline,
        "decline",
        &[],
        "",
        "app-cmd-decline",
        Completion::Nothing,
    ),
    def(
        Command::Cancel,
        "cancel",
        &[],
        "",
        "app-cmd-cancel",
        Completion::Nothing,
    ),
    def(
        Command::Open,
        "open",
        &[],
        "",
        "app-cmd-open",
        Completion::Nothing,
    ),
    def(
        Command::Group,
        "group",
        &[],
        "app-arg-group",
        "app-cmd-group",
        Completion::Mention,
    ),
    def(
        Command::Invite,
        "invite",
        &[],
        "app-arg-people",
        "app-cmd-invite",
        Completion::Mention,
    ),
    def(
        Command::Leave,
        "leave",
        &[],
        "",
        "app-cmd-leave",
        Completion::Nothing,
    ),
    def(
        Command::Remove,
        "remove",
        &[],
        "app-arg-person",
        "app-cmd-remove",
        Completion::Mention,
    ),
    def(
        Command::Owner,
        "owner",
        &[],
        "app-arg-person",
        "app-cmd-owner",
        Completion::Mention,
    ),
    def(
        Command::Away,
        "away",
        &[],
        "app-arg-away",
        "app-cmd-away",
        Completion::Nothing,
    ),
    def(
        Command::Help,
        "help",
        &["h"],
        "",
        "app-cmd-help",
        Completion::Nothing,
    ),
    def(
        Command::Quit,
        "quit",
        &["q", "exit"],
        "",
        "app-cmd-quit",
        Completion::Nothing,
    ),
];

/// The command a name (or alias) runs.
pub fn find(name: &str) -> Option<&'static CommandDef> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

impl CommandDef {
    /// The argument as the help writes it in `lang` ("HOST:PORT"), empty if none.
    pub fn args(&self, lang: Lang) -> String {
        if self.args.is_empty() {
            String::new()
        } else {
            lang.text(self.args)
        }
    }

    /// `/name ARG`, as the help and the usage line write it in `lang`.
    pub fn usage(&self, lang: Lang) -> String {
        let args = self.args(lang);
        if args.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {args}", self.name)
        }
    }
}

/// The commands' lines in the help, in `lang`: (syntax, what it does).
pub fn help(lang: Lang) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|c| {
            let mut syntax = c.usage(lang);
            for a in c.aliases {
                syntax = format!("{syntax}, /{a}");
            }
            (syntax, lang.text(c.help))
        })
        .collect();
    out.push((
        tr!(lang, "app-help-slash-syntax"),
        tr!(lang, "app-help-slash"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_all_found() {
        let mut seen: Vec<&str> = Vec::new();
        for c in COMMANDS {
            for n in std::iter::once(&c.name).chain(c.aliases) {
                assert!(!seen.contains(n), "/{n} twice");
                seen.push(n);
                assert_eq!(find(n).map(|d| d.command), Some(c.command), "/{n}");
            }
        }
        assert!(find("frobnicate").is_none());
    }

    #[test]
    fn every_command_text_is_a_message_in_both_languages_and_translated() {
        for c in COMMANDS {
            for id in [c.help, c.args].into_iter().filter(|id| !id.is_empty()) {
                assert!(id.starts_with("app-"), "/{}: {id}", c.name);
                for lang in Lang::ALL {
                    assert!(lang.has(id), "{lang}: no {id}");
                }
            }
            assert_ne!(
                Lang::Zh.text(c.help),
                Lang::En.text(c.help),
                "/{}: what it does is not translated",
                c.name
            );
        }
        let en = help(Lang::En);
        let zh = help(Lang::Zh);
        assert_eq!(en.len(), COMMANDS.len() + 1);
        assert_eq!(
            en[0],
            ("/add HOST:PORT".to_string(), Lang::En.text("app-cmd-add"))
        );
        for ((_, en), (_, zh)) in en.iter().zip(&zh) {
            assert_ne!(en, zh);
        }
    }
}
