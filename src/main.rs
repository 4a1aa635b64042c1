//! The `lanchat` command: parse flags, set up paths and logging, start the runtime.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lanchat::config::{self, Overrides};
use std::net::IpAddr;
use std::path::PathBuf;

/// Chat with people on your network, peer to peer, in the terminal.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Your display name (default: $USER).
    #[arg(long, global = true)]
    name: Option<String>,
    /// Unicast port to listen on (default: 47475 if free, else any).
    #[arg(long, global = true)]
    port: Option<u16>,
    /// Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.
    #[arg(long, global = true, value_name = "IP")]
    bind: Option<IpAddr>,
    /// A peer to reach by address when discovery cannot see it (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT", global = true)]
    peers: Vec<String>,
    /// Do not announce or look for peers on the local network.
    #[arg(long, global = true)]
    no_discovery: bool,
    /// The port all local instances share for discovery beacons.
    #[arg(long, global = true, value_name = "PORT")]
    discovery_port: Option<u16>,
    /// Directory for this instance's state (identity, config, logs); lets several
    /// instances run on one host.
    #[arg(long, global = true, env = "LANCHAT_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Config file to read (default: config.toml in the config directory).
    #[arg(long, global = true, env = "LANCHAT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print this node's key fingerprint (creating the key on first use), to compare with
    /// what peers see.
    Fingerprint,
    /// Run without a screen: JSON lines on stdin and stdout (see the README).
    Pipe,
    /// Why can't I see anyone? Checks interfaces, ports, beacons, firewall and past peers,
    /// and says what to fix.
    #[command(
        after_help = "Example:\n  lanchat doctor                 check, listening 1 s for beacons\n  \
                            lanchat doctor --listen 35     listen through a whole beacon round\n  \
                            lanchat --port 5000 doctor     check with the settings you start with"
    )]
    Doctor {
        /// Seconds to listen for beacons (others send one every 30 s).
        #[arg(long, value_name = "SECS", default_value_t = 1.0)]
        listen: f64,
    },
    /// Write the message history (one conversation, or all) to stdout or a file.
    Export {
        /// A peer's name or id, or ip:port for a plain-text peer (default: everything).
        #[arg(long, value_name = "WHO")]
        conversation: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    #[value(name = "md")]
    Markdown,
    #[value(name = "txt")]
    Text,
    #[value(name = "jsonl")]
    JsonLines,
}

/// Logs to `lanchat.log` in `dir` (mode 0600; made so if it was not). Returns what was done
/// about the file's mode, to be logged once logging works.
fn init_logging(dir: &std::path::Path) -> anyhow::Result<config::Tightened> {
    let path = dir.join(config::LOG_FILE);
    let (file, tightened) = config::open_private_file(&path, true)
        .with_context(|| format!("cannot open log file {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("LANCHAT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .init();
    Ok(tightened)
}

/// Logs what tightening `path` did.
fn log_tightened(path: &std::path::Path, tightened: config::Tightened, private: u32) {
    match tightened {
        config::Tightened::No => {}
        config::Tightened::From(mode) => tracing::warn!(
            path = %path.display(),
            "others could reach this (mode {mode:o}); made it {private:o}"
        ),
        config::Tightened::NotOurs(mode) => tracing::warn!(
            path = %path.display(),
            "others can reach this (mode {mode:o}), and it belongs to another user: left as is"
        ),
    }
}

/// Makes the data and config directories private (0700) if they are ours and were not,
/// logging what it did.
fn tighten_dirs(settings: &config::Settings) -> anyhow::Result<()> {
    let mut dirs = vec![&settings.data_dir];
    if settings.config_dir != settings.data_dir {
        dirs.push(&settings.config_dir);
    }
    for dir in dirs {
        log_tightened(dir, config::tighten_private_dir(dir)?, 0o700);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = config::resolve(
        Overrides {
            name: cli.name,
            port: cli.port,
            bind: cli.bind,
            peers: cli.peers,
            no_discovery: cli.no_discovery,
            discovery_port: cli.discovery_port,
            data_dir: cli.data_dir,
            config: cli.config,
        },
        |k| std::env::var(k).ok(),
    )?;
    if let Some(Command::Export {
        conversation,
        format,
        output,
    }) = &cli.command
    {
        // Reading needs no lock: the database allows a reader beside a running instance.
        let format = match format {
            Format::Markdown => lanchat::store::ExportFormat::Markdown,
            Format::Text => lanchat::store::ExportFormat::Text,
            Format::JsonLines => lanchat::store::ExportFormat::JsonLines,
        };
        let mut out: Box<dyn std::io::Write> = match output {
            // The history is private: a new file is made 0600, and an existing one of ours
            // that others could read is made so before anything is written to it.
            Some(path) => {
                let (file, tightened) = config::open_private_file(path, false)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                match tightened {
                    config::Tightened::From(mode) => eprintln!(
                        "{} was readable by others (mode {mode:o}); made it 600",
                        path.display()
                    ),
                    config::Tightened::NotOurs(mode) => eprintln!(
                        "warning: {} belongs to another user and others can read it (mode \
                         {mode:o})",
                        path.display()
                    ),
                    config::Tightened::No => {}
                }
                Box::new(std::io::BufWriter::new(file))
            }
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let n =
            lanchat::runtime::export::run(&settings, conversation.as_deref(), format, &mut out)?;
        eprintln!("{n} messages exported");
        return Ok(());
    }
    if let Some(Command::Doctor { listen }) = cli.command {
        let listen = std::time::Duration::try_from_secs_f64(listen).context("--listen")?;
        let causes = lanchat::runtime::doctor::run_with(
            &settings,
            settings.language,
            listen,
            &mut std::io::stdout().lock(),
        )?;
        let problem = causes
            .iter()
            .any(|c| c.severity() == lanchat::runtime::doctor::Severity::Problem);
        std::process::exit(i32::from(problem));
    }
    if let Some(Command::Fingerprint) = cli.command {
        let identity = config::load_or_create_identity(&settings.config_dir)?;
        println!("{}", lanchat::proto::fingerprint(&identity.public()));
        println!("key {}", identity.public().to_hex());
        return Ok(());
    }
    let _lock = config::lock_data_dir(&settings.data_dir)?;
    let log_tightened_from = init_logging(&settings.data_dir)?;
    log_tightened(
        &settings.data_dir.join(config::LOG_FILE),
        log_tightened_from,
        0o600,
    );
    tighten_dirs(&settings)?;
    let id = config::load_or_create_identity(&settings.config_dir)?;
    tracing::info!(name = %settings.name, id = %id.public().short(), "starting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            None => lanchat::runtime::tui::run_terminal(settings, id).await,
            Some(Command::Pipe) => lanchat::runtime::pipe::run_stdio(settings, id).await,
            Some(Command::Export { .. } | Command::Fingerprint | Command::Doctor { .. }) => Ok(()), // handled above
        }
    })
}
