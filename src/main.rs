//! The `lanchat` command: parse flags, set up paths and logging, start the runtime.

use anyhow::Context;
use lanchat::cli::{Command, Format};
use lanchat::config::{self, Overrides};
use lanchat::i18n::Lang;
use std::io::Write;

/// Logs to `lanchat.log` in `dir` (mode 0600; made so if it was not), rotated to
/// `lanchat.log.1` at [`lanchat::logfile::MAX_LOG_BYTES`]. Returns what was done about the
/// file's mode, to be logged once logging works.
fn init_logging(dir: &std::path::Path) -> anyhow::Result<config::Tightened> {
    let path = dir.join(config::LOG_FILE);
    let (file, tightened) = lanchat::logfile::LogFile::open(&path, lanchat::logfile::MAX_LOG_BYTES)
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
    // The command line speaks the locale's language: config.toml, which may say otherwise,
    // is found through these very flags, so it is read after them.
    let lang = Lang::from_locale(|k| std::env::var(k).ok());
    let cli = lanchat::cli::parse(lang);
    // These two need no config, data or home directory.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            std::io::stdout()
                .write_all(&lanchat::cli::completions(*shell, lang))
                .context("cannot write to stdout")?;
            return Ok(());
        }
        Some(Command::Man { lang }) => {
            let page = lanchat::cli::man_page(*lang).context("cannot render the man page")?;
            std::io::stdout()
                .write_all(&page)
                .context("cannot write to stdout")?;
            return Ok(());
        }
        _ => {}
    }
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
            // Handled above.
            Some(
                Command::Export { .. }
                | Command::Fingerprint
                | Command::Doctor { .. }
                | Command::Completions { .. }
                | Command::Man { .. },
            ) => Ok(()),
        }
    })
}
