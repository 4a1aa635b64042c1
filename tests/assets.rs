//! What an installer takes from `assets/`: the shell completions and the manual page, kept
//! as generated from the command line itself, and `config.example.toml`, which must name
//! every setting the program reads.
//!
//! `LANCHAT_BLESS=1 cargo test --test assets` rewrites the generated files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lanchat::cli::{self, Shell};
use lanchat::config::{self, FileConfig};
use lanchat::i18n::Lang;
use serde::de::{self, Deserialize, Visitor};
use std::path::{Path, PathBuf};

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// Compares each generated file with its copy under `assets/`, or writes the copies when
/// `LANCHAT_BLESS` is set.
fn check_generated(files: &[(PathBuf, Vec<u8>)]) {
    let bless = std::env::var_os("LANCHAT_BLESS").is_some_and(|v| !v.is_empty());
    let mut stale = Vec::new();
    for (path, fresh) in files {
        if bless {
            std::fs::write(path, fresh).unwrap();
            continue;
        }
        if std::fs::read(path).ok().as_ref() != Some(fresh) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "these files are out of date with the command line (src/cli.rs, locales/en/cli.ftl):\n  \
         {}\nrefresh them with: LANCHAT_BLESS=1 cargo test --test assets",
        stale.join("\n  ")
    );
}

#[test]
fn the_completions_and_the_man_page_in_assets_are_up_to_date() {
    let mut files: Vec<(PathBuf, Vec<u8>)> = Shell::ALL
        .iter()
        .map(|&shell| {
            (
                assets().join("completions").join(shell.file_name()),
                cli::completions(shell, Lang::En),
            )
        })
        .collect();
    files.push((
        assets().join("man/lanchat.1"),
        cli::man_page(Lang::En).unwrap(),
    ));
    for (path, fresh) in &files {
        assert!(fresh.len() > 500, "{} came out empty", path.display());
    }
    check_generated(&files);
}

/// The names of a struct's fields, as its `Deserialize` (the derive) knows them: serde hands
/// them to `deserialize_struct`, and this deserializer keeps them and stops there.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    struct Fields<'a>(&'a mut &'static [&'static str]);
    impl<'de> de::Deserializer<'de> for Fields<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

/// The example with its settings switched on: a line `#name = …` or `#[keys]` (a `#`
/// right before a setting) loses its `#`; prose (`# …`) stays a comment.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_config_names_every_setting_and_each_example_is_valid() {
    let path = assets().join("config.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // As shipped it changes nothing: copying it is safe.
    assert_eq!(
        config::parse_file(&path, &text).unwrap(),
        FileConfig::default()
    );

    let on = uncommented(&text);
    // Every value shown is one the program takes (unknown names are errors too).
    let parsed = config::parse_file(&path, &on).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(parsed, FileConfig::default());

    let fields = field_names::<FileConfig>();
    assert!(
        fields.contains(&"name") && fields.contains(&"keys"),
        "FileConfig's fields: {fields:?}"
    );
    let table: toml::Table = on.parse().unwrap();
    let missing: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| !table.contains_key(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "assets/config.example.toml does not show these settings of config.toml: {missing:?}; \
         add each, commented out (`#{} = …`), with what it does and its default",
        missing.first().unwrap_or(&"")
    );

    // [keys]: the main screen's table and a mode's, each with a binding, and every mode's
    // table named.
    assert!(!parsed.keys.base.is_empty() && !parsed.keys.modes.is_empty());
    for mode in lanchat::keys::MODES {
        let table = format!("[keys.{}]", mode.name);
        assert!(text.contains(&table), "{table} is not mentioned");
    }
}

#[test]
fn the_uncommenting_and_the_field_names_can_fail() {
    // A setting the example lacks would be missed: the scan sees names, not prose.
    let on = uncommented("# a comment about port\n#port = 1\n# [not a table]\n");
    let table: toml::Table = on.parse().unwrap();
    assert!(table.contains_key("port") && !table.contains_key("name"));
    // The field list comes from the derive, so it follows the struct.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        a: u8,
        b_c: Option<String>,
    }
    assert_eq!(field_names::<Two>(), ["a", "b_c"]);
}

/// The real binary, with no home directory and the locale given (the commands that print
/// help, completions and the manual need no config, data or home directory).
fn lanchat(locale: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lanchat"))
        .args(args)
        .env_remove("HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", locale)
        .output()
        .unwrap()
}

#[test]
fn the_binary_prints_the_completions_the_man_page_and_help_in_the_locale_language() {
    for shell in Shell::ALL {
        let name = format!("{shell:?}").to_lowercase();
        let out = lanchat("C", &["completions", &name]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(out.stdout, cli::completions(shell, Lang::En), "{name}");
    }
    let man = lanchat("C", &["man"]);
    assert!(man.status.success(), "{man:?}");
    assert_eq!(man.stdout, cli::man_page(Lang::En).unwrap());
    let zh_man = lanchat("C", &["man", "--lang", "zh-CN"]);
    assert_eq!(zh_man.stdout, cli::man_page(Lang::Zh).unwrap());

    let help = lanchat("zh_CN.UTF-8", &["export", "--help"]);
    assert!(help.status.success(), "{help:?}");
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.contains("用法: lanchat export") && text.contains("示例:"),
        "{text}"
    );
    let help = lanchat("en_US.UTF-8", &["--help"]);
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.contains("Usage: lanchat") && text.contains("Examples:"),
        "{text}"
    );
}
