//! The slash commands: one table that Tab completion, the help and the dispatch in
//! [`App::command`](super::App) all read.

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
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandDef {
    pub command: Command,
    /// `/name`; Tab completes it.
    pub name: &'static str,
    /// Other names that run it (not completed, not offered).
    pub aliases: &'static [&'static str],
    /// The argument as the help writes it (`HOST:PORT`), empty if none.
    pub args: &'static str,
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
        "HOST:PORT",
        "reach a peer discovery cannot see",
        Completion::PeerAddress,
    ),
    def(
        Command::Pin,
        "pin",
        &[],
        "",
        "pin this chat (again: undo)",
        Completion::Nothing,
    ),
    def(
        Command::Mute,
        "mute",
        &[],
        "",
        "mute this chat (again: undo)",
        Completion::Nothing,
    ),
    def(
        Command::Rename,
        "rename",
        &[],
        "NAME",
        "my name for this chat (no NAME: undo)",
        Completion::Nothing,
    ),
    def(
        Command::Recall,
        "recall",
        &[],
        "",
        "recall my last message (within 2 min)",
        Completion::Nothing,
    ),
    def(
        Command::Verify,
        "verify",
        &[],
        "",
        "compare keys, mark verified",
        Completion::Nothing,
    ),
    def(
        Command::Trust,
        "trust",
        &[],
        "",
        "accept a (new) key",
        Completion::Nothing,
    ),
    def(
        Command::Block,
        "block",
        &[],
        "",
        "refuse a (new) key",
        Completion::Nothing,
    ),
    def(
        Command::Search,
        "search",
        &["s"],
        "TEXT",
        "search all chats",
        Completion::Nothing,
    ),
    def(
        Command::Strangers,
        "strangers",
        &[],
        "",
        "plain-text senders never answered",
        Completion::Nothing,
    ),
    def(
        Command::Plain,
        "plain",
        &[],
        "",
        "send here unencrypted anyway",
        Completion::Nothing,
    ),
    def(
        Command::Help,
        "help",
        &["h"],
        "",
        "this help",
        Completion::Nothing,
    ),
    def(
        Command::Quit,
        "quit",
        &["q", "exit"],
        "",
        "quit",
        Completion::Nothing,
    ),
];

/// The command a name (or alias) runs.
pub fn find(name: &str) -> Option<&'static CommandDef> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
}

/// The commands' lines in the help: (syntax, what it does).
pub fn help() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|c| {
            let mut syntax = format!("/{}", c.name);
            if !c.args.is_empty() {
                syntax = format!("{syntax} {}", c.args);
            }
            for a in c.aliases {
                syntax = format!("{syntax}, /{a}");
            }
            (syntax, c.help.to_string())
        })
        .collect();
    out.push((
        "//text".to_string(),
        "send text that starts with a slash".to_string(),
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
}
