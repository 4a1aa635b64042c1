//! The command line: flags and subcommands, their help in the user's language, and the
//! shell completions and manual page made from them.
//!
//! The shape of the command (which flags, which subcommands, their types) is the derive
//! below; every text a user reads in `--help` comes from the `cli-` messages through
//! [`command`], so the derive carries no doc comments (they would be English only).
//!
//! The language of the command line cannot come from `config.toml`: the flags say where that
//! file is, so it is read after them. `main` asks for the locale's language
//! ([`Lang::from_locale`]) instead.
//!
//! What stays English: clap's error messages ("error: unexpected argument …", with their
//! "Usage:" line), and in English clap's own words around our texts (`[default: md]`,
//! `[possible values: …]`, `[env: …]`), which in other languages are ours ([`own_notes`]).
//! The headings, the usage line's label and the help texts of `-h` and `-V` are ours and
//! translated.

use crate::i18n::Lang;
use crate::tr;
use clap::{Arg, ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::net::IpAddr;
use std::path::PathBuf;

/// The parsed command line.
#[derive(Debug, Parser)]
#[command(name = "lanchat", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[arg(long, global = true)]
    pub name: Option<String>,
    #[arg(long, global = true)]
    pub port: Option<u16>,
    #[arg(long, global = true, value_name = "IP")]
    pub bind: Option<IpAddr>,
    #[arg(long = "peer", value_name = "HOST:PORT", global = true)]
    pub peers: Vec<String>,
    #[arg(long, global = true)]
    pub no_discovery: bool,
    #[arg(long, global = true, value_name = "PORT")]
    pub discovery_port: Option<u16>,
    #[arg(long, global = true)]
    pub no_ipmsg: bool,
    #[arg(long, global = true, env = "LANCHAT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[arg(long, global = true, env = "LANCHAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The subcommands; none starts the chat screen.
#[derive(Debug, Subcommand)]
pub enum Command {
    Fingerprint,
    Pipe,
    Doctor {
        #[arg(long, value_name = "SECS", default_value_t = 1.0)]
        listen: f64,
    },
    Export {
        #[arg(long, value_name = "WHO")]
        conversation: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    Man {
        #[arg(long, value_name = "LANG", value_parser = parse_lang, default_value = "en")]
        lang: Lang,
    },
}

/// What `lanchat export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[value(name = "md")]
    Markdown,
    #[value(name = "txt")]
    Text,
    #[value(name = "jsonl")]
    JsonLines,
}

/// The shells `lanchat completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    /// Where the generated copy is kept in the source tree (`assets/completions/`), which
    /// is also the name each shell looks for.
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "lanchat.bash",
            Shell::Zsh => "_lanchat",
            Shell::Fish => "lanchat.fish",
        }
    }
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("{s:?}: \"en\" or \"zh-CN\""))
}

/// Where `-h` and `-V` go in the help: after everything else.
const LAST: usize = 10_000;

/// The whole command with every help text in `lang`, examples included.
pub fn command(lang: Lang) -> clap::Command {
    let heading = tr!(lang, "cli-options-heading");
    let global = |id_text: String| {
        let heading = heading.clone();
        move |a: Arg| a.help(id_text).help_heading(heading)
    };
    let cmd = Cli::command()
        .about(tr!(lang, "cli-about"))
        .after_help(examples(lang, examples_of(lang, None)))
        .mut_arg("name", global(tr!(lang, "cli-name")))
        .mut_arg("port", global(tr!(lang, "cli-port")))
        .mut_arg("bind", global(tr!(lang, "cli-bind")))
        .mut_arg("peers", global(tr!(lang, "cli-peer")))
        .mut_arg("no_discovery", global(tr!(lang, "cli-no-discovery")))
        .mut_arg("discovery_port", global(tr!(lang, "cli-discovery-port")))
        .mut_arg("no_ipmsg", global(tr!(lang, "cli-no-ipmsg")))
        .mut_arg("data_dir", global(tr!(lang, "cli-data-dir")))
        .mut_arg("config", global(tr!(lang, "cli-config")))
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(tr!(lang, "cli-version"))
                .display_order(LAST - 1)
                .help_heading(heading.clone()),
        )
        .disable_version_flag(true)
        .mut_subcommand("fingerprint", |s| {
            s.about(tr!(lang, "cli-fingerprint"))
                .after_help(examples(lang, examples_of(lang, Some("fingerprint"))))
        })
        .mut_subcommand("pipe", |s| {
            s.about(tr!(lang, "cli-pipe"))
                .after_help(examples(lang, examples_of(lang, Some("pipe"))))
        })
        .mut_subcommand("doctor", |s| {
            s.about(tr!(lang, "cli-doctor"))
                .after_help(examples(lang, examples_of(lang, Some("doctor"))))
                .mut_arg("listen", |a| a.help(tr!(lang, "cli-doctor-listen")))
        })
        .mut_subcommand("export", |s| {
            s.about(tr!(lang, "cli-export"))
                .after_help(examples(lang, examples_of(lang, Some("export"))))
                .mut_arg("conversation", |a| {
                    a.help(tr!(lang, "cli-export-conversation"))
                })
                .mut_arg("format", |a| a.help(tr!(lang, "cli-export-format")))
                .mut_arg("output", |a| a.help(tr!(lang, "cli-export-output")))
        })
        .mut_subcommand("completions", |s| {
            s.about(tr!(lang, "cli-completions"))
                .after_help(examples(lang, examples_of(lang, Some("completions"))))
                .mut_arg("shell", |a| a.help(tr!(lang, "cli-completions-shell")))
        })
        .mut_subcommand("man", |s| {
            s.about(tr!(lang, "cli-man"))
                .after_help(examples(lang, examples_of(lang, Some("man"))))
                .mut_arg("lang", |a| a.help(tr!(lang, "cli-man-lang")))
        });
    let mut cmd = with_own_words(cmd, lang);
    // Build now, so that the `help` subcommand clap adds exists and gets our words too.
    cmd.build();
    cmd.mut_subcommand("help", |s| {
        s.about(tr!(lang, "cli-help-command"))
            .help_template(template(lang))
            .subcommand_help_heading(tr!(lang, "cli-commands-heading"))
            .mut_subcommand("help", |h| h.about(tr!(lang, "cli-help-command")))
    })
}

/// The examples of the whole command (`None`) or of one subcommand: a command per line, with
/// an optional `# comment`.
fn examples_of(lang: Lang, sub: Option<&str>) -> String {
    match sub {
        None => tr!(lang, "cli-examples"),
        Some("fingerprint") => tr!(lang, "cli-fingerprint-examples"),
        Some("pipe") => tr!(lang, "cli-pipe-examples"),
        Some("doctor") => tr!(lang, "cli-doctor-examples"),
        Some("export") => tr!(lang, "cli-export-examples"),
        Some("completions") => tr!(lang, "cli-completions-examples"),
        Some("man") => tr!(lang, "cli-man-examples"),
        Some(_) => String::new(),
    }
}

/// Examples under their heading, indented as clap indents options.
fn examples(lang: Lang, body: String) -> String {
    let mut out = tr!(lang, "cli-examples-heading");
    for line in body.lines() {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

fn template(lang: Lang) -> String {
    format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        tr!(lang, "cli-usage-heading")
    )
}

/// Gives `cmd` and each of its subcommands our `-h` (its text translated), our headings
/// and our usage label in place of clap's English ones.
fn with_own_words(cmd: clap::Command, lang: Lang) -> clap::Command {
    // (Each subcommand's own arguments; the global ones are propagated, notes and all.)
    let heading = tr!(lang, "cli-options-heading");
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut cmd = cmd
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(tr!(lang, "cli-help"))
                .display_order(LAST)
                .help_heading(heading.clone()),
        )
        .help_template(template(lang))
        .subcommand_help_heading(tr!(lang, "cli-commands-heading"));
    // The subcommands' own arguments (the global ones already have the heading).
    let own: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.get_help_heading().is_none())
        .map(|a| a.get_id().to_string())
        .collect();
    if lang != Lang::En {
        cmd = own_notes(cmd, lang);
    }
    for id in own {
        let heading = if cmd
            .get_arguments()
            .any(|a| a.get_id() == id.as_str() && a.is_positional())
        {
            tr!(lang, "cli-arguments-heading")
        } else {
            heading.clone()
        };
        cmd = cmd.mut_arg(id, |a| a.help_heading(heading));
    }
    for name in subs {
        cmd = cmd.mut_subcommand(name, |s| with_own_words(s, lang));
    }
    cmd
}

/// Clap's bracketed notes after an argument's help (its environment variable, its default,
/// its possible values), written by us in `lang` instead: `[默认：md]`.
fn own_notes(mut cmd: clap::Command, lang: Lang) -> clap::Command {
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| {
            let takes_values = a.get_action().takes_values();
            let mut notes = Vec::new();
            if let Some(env) = a.get_env()
                && !a.is_hide_env_set()
            {
                notes.push(tr!(
                    lang,
                    "cli-note-env",
                    name = env.to_string_lossy().into_owned()
                ));
            }
            let defaults: Vec<String> = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if takes_values && !defaults.is_empty() && !a.is_hide_default_value_set() {
                notes.push(tr!(lang, "cli-note-default", value = defaults.join(" ")));
            }
            let possible: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_owned())
                .collect();
            if takes_values && !possible.is_empty() && !a.is_hide_possible_values_set() {
                notes.push(tr!(
                    lang,
                    "cli-note-possible",
                    values = possible.join(tr!(lang, "cli-note-list-separator").as_str())
                ));
            }
            if notes.is_empty() {
                return a;
            }
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let notes: Vec<String> = notes.into_iter().map(|n| format!("[{n}]")).collect();
            a.help(format!("{help} {}", notes.join(" ")))
                .hide_env(true)
                .hide_default_value(true)
                .hide_possible_values(true)
        });
    }
    cmd
}

/// Parses the process's arguments with help in `lang`; on a mistake, or for `--help` and
/// `--version`, prints and exits as clap does.
pub fn parse(lang: Lang) -> Cli {
    match try_parse_from(lang, std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    }
}

/// Parses `args` (the program name first) with help in `lang`.
pub fn try_parse_from<I, T>(lang: Lang, args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command(lang);
    let matches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// The completion script for `shell`, its descriptions in `lang`.
pub fn completions(shell: Shell, lang: Lang) -> Vec<u8> {
    let mut cmd = command(lang);
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "lanchat", &mut out);
    out
}

/// The manual page, lanchat(1), in roff, its texts in `lang`: clap_mangen's sections for
/// the command itself, then each subcommand with its own options and examples (rather than
/// references to pages of their own), then the examples as written (not filled).
pub fn man_page(lang: Lang) -> std::io::Result<Vec<u8>> {
    use clap_mangen::roff::{Roff, bold, italic, roman};
    let mut cmd = command(lang);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;

    let examples = |roff: &mut Roff, text: &str| {
        roff.control("RS", ["4"]).control("nf", []);
        for line in text.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []).control("RE", []);
    };
    let mut roff = Roff::new();
    let global: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
    roff.control(
        "SH",
        [tr!(lang, "cli-commands-heading").to_uppercase().as_str()],
    );
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        roff.control("SS", [format!("lanchat {}", sub.get_name()).as_str()]);
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        for arg in sub
            .get_arguments()
            .filter(|a| !global.contains(&a.get_id().as_str()))
        {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| format!("<{v}>"));
            let mut head = Vec::new();
            if let Some(short) = arg.get_short() {
                head.push(bold(format!("-{short}")));
                head.push(roman(", "));
            }
            if let Some(long) = arg.get_long() {
                head.push(bold(format!("--{long}")));
                head.push(roman(" "));
            }
            head.push(italic(value.unwrap_or_default()));
            roff.control("TP", []).text(head);
            if let Some(help) = arg.get_help() {
                roff.text([roman(help.to_string())]);
            }
        }
        roff.control("PP", []);
        roff.text([roman(tr!(lang, "cli-examples-heading"))]);
        examples(&mut roff, &examples_of(lang, Some(sub.get_name())));
    }
    let heading = tr!(lang, "cli-examples-heading");
    roff.control(
        "SH",
        [heading.trim_end_matches(':').to_uppercase().as_str()],
    );
    examples(&mut roff, &examples_of(lang, None));
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
