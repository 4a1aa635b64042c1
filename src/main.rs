//! The `lanchat` command: parse flags, set up paths and logging, start the runtime.

use anyhow::Context;
use lanchat::cli::{Command, Format};
use lanchat::config::{self, ConfigError, Overrides};
use lanchat::i18n::Lang;
use lanchat::tr;
use std::io::Write;
use std::process::ExitCode;

/// Logs to `lanchat.log` in `dir` (mode 0600; made so if it was not), rotated to
/// `lanchat.log.1` at [`lanchat::logfile::MAX_LOG_BYTES`]. Returns what was done about the
/// file's mode, to be logged once logging works.
fn init_logging(dir: &std::path::Path, lang: Lang) -> anyhow::Result<config::Tightened> {
    let path = dir.join(config::LOG_FILE);
    let (file, tightened) = lanchat::logfile::LogFile::open(&path, lanchat::logfile::MAX_LOG_BYTES)
        .with_context(|| tr!(lang, "cli-log-open", path = path.display().to_string()))?;
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
fn tighten_dirs(settings: &config::Settings) -> Result<(), ConfigError> {
    let mut dirs = vec![&settings.data_dir];
    if settings.config_dir != settings.data_dir {
        dirs.push(&settings.config_dir);
    }
    for dir in dirs {
        log_tightened(dir, config::tighten_private_dir(dir)?, 0o700);
    }
    Ok(())
}

/// A config error in the user's language, as an error to end with.
fn said(lang: Lang) -> impl Fn(ConfigError) -> anyhow::Error {
    move |e| anyhow::anyhow!(e.text(lang))
}

fn main() -> ExitCode {
    // The command line speaks the locale's language: config.toml, which may say otherwise,
    // is found through these very flags, so it is read after them.
    let lang = Lang::from_locale(|k| std::env::var(k).ok());
    match run(lang) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", tr!(lang, "cli-error", detail = format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn run(lang: Lang) -> anyhow::Result<ExitCode> {
    let cli = lanchat::cli::parse(lang);
    // These two need no config, data or home directory.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            std::io::stdout()
                .write_all(&lanchat::cli::completions(*shell, lang))
                .with_context(|| tr!(lang, "cli-stdout"))?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man { lang }) => {
            let page = lanchat::cli::man_page(*lang).context("man page")?;
            std::io::stdout()
                .write_all(&page)
                .with_context(|| tr!(*lang, "cli-stdout"))?;
            return Ok(ExitCode::SUCCESS);
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
            no_ipmsg: cli.no_ipmsg,
            data_dir: cli.data_dir,
            config: cli.config,
        },
        |k| std::env::var(k).ok(),
    )
    .map_err(said(lang))?;
    // From here on, the language config.toml chose, if it did.
    let lang = settings.language;
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
                    .map_err(said(lang))
                    .with_context(|| tr!(lang, "cli-create", path = path.display().to_string()))?;
                let path = path.display().to_string();
                match tightened {
                    config::Tightened::From(mode) => eprintln!(
                        "{}",
                        tr!(
                            lang,
                            "cli-tightened",
                            path = path,
                            mode = format!("{mode:o}")
                        )
                    ),
                    config::Tightened::NotOurs(mode) => eprintln!(
                        "{}",
                        tr!(
                            lang,
                            "cli-not-ours",
                            path = path,
                            mode = format!("{mode:o}")
                        )
                    ),
                    config::Tightened::No => {}
                }
                Box::new(std::io::BufWriter::new(file))
            }
            None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        };
        let n =
            lanchat::runtime::export::run(&settings, conversation.as_deref(), format, &mut out)?;
        eprintln!("{}", tr!(lang, "cli-exported", n = n));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Command::Doctor { listen }) = cli.command {
        let listen = std::time::Duration::try_from_secs_f64(listen)
            .with_context(|| tr!(lang, "cli-bad-listen"))?;
        let causes = lanchat::runtime::doctor::run_with(
            &settings,
            settings.language,
            listen,
            &mut std::io::stdout().lock(),
        )?;
        let problem = causes
            .iter()
            .any(|c| c.severity() == lanchat::runtime::doctor::Severity::Problem);
        return Ok(if problem {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if let Some(Command::Fingerprint) = cli.command {
        let identity = config::load_or_create_identity(&settings.config_dir).map_err(said(lang))?;
        println!("{}", lanchat::proto::fingerprint(&identity.public()));
        println!("key {}", identity.public().to_hex());
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = config::lock_data_dir(&settings.data_dir).map_err(said(lang))?;
    let log_tightened_from = init_logging(&settings.data_dir, lang)?;
    log_tightened(
        &settings.data_dir.join(config::LOG_FILE),
        log_tightened_from,
        0o600,
    );
    tighten_dirs(&settings).map_err(said(lang))?;
    let id = config::load_or_create_identity(&settings.config_dir).map_err(said(lang))?;
    tracing::info!(name = %settings.name, id = %id.public().short(), "starting");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .with_context(|| tr!(lang, "cli-async"))?;
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
    })?;
    Ok(ExitCode::SUCCESS)
}
