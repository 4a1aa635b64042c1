use super::*;

/// Every argument and command of `cmd` and below, with the text a user reads for it.
fn texts(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
    let here = format!("{path} {}", cmd.get_name());
    out.push((
        here.clone(),
        cmd.get_about().map(|s| s.to_string()).unwrap_or_default(),
    ));
    for arg in cmd.get_arguments() {
        out.push((
            format!("{here} {}", arg.get_id()),
            arg.get_help().map(|s| s.to_string()).unwrap_or_default(),
        ));
    }
    for sub in cmd.get_subcommands() {
        texts(sub, &here, out);
    }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

#[test]
fn every_argument_and_command_has_help_in_both_languages() {
    for lang in Lang::ALL {
        let mut all = Vec::new();
        texts(&command(lang), "", &mut all);
        // The root, five commands and clap's `help`; the flags of each.
        assert!(all.len() > 20, "{all:?}");
        for (what, text) in &all {
            assert!(!text.trim().is_empty(), "{lang}: no help for {what}");
            // Nothing left over in the other language: a new flag without its `cli-`
            // message would show the derive's (empty) help or English here.
            let chinese = text.chars().any(is_cjk);
            assert_eq!(chinese, lang == Lang::Zh, "{lang}: {what}: {text}");
        }
    }
}

#[test]
fn the_help_is_translated_headings_and_examples_included() {
    let zh = command(Lang::Zh).render_help().to_string();
    for word in [
        "用法:",
        "选项:",
        "命令:",
        "示例:",
        "显示帮助",
        "显示版本",
        "开始聊天",
    ] {
        assert!(zh.contains(word), "{word} missing in:\n{zh}");
    }
    for english in ["Usage:", "Options:", "Commands:", "Print help"] {
        assert!(!zh.contains(english), "{english} left in:\n{zh}");
    }
    let en = command(Lang::En).render_help().to_string();
    for word in [
        "Usage: lanchat",
        "Options:",
        "Commands:",
        "Examples:",
        "-h, --help",
        "Print help",
        "-V, --version",
        "--peer 10.1.2.3:47475",
    ] {
        assert!(en.contains(word), "{word} missing in:\n{en}");
    }
}

#[test]
fn clap_notes_are_ours_in_chinese_and_clap_s_in_english() {
    let help = |lang: Lang, sub: Option<&str>| {
        let mut cmd = command(lang);
        cmd.build();
        match sub {
            Some(name) => cmd
                .find_subcommand_mut(name)
                .expect("a command")
                .render_help()
                .to_string(),
            None => cmd.render_help().to_string(),
        }
    };
    let zh = [
        None,
        Some("export"),
        Some("doctor"),
        Some("completions"),
        Some("man"),
    ]
    .map(|sub| help(Lang::Zh, sub))
    .join("\n");
    for note in [
        "[环境变量：LANCHAT_DATA_DIR]",
        "[默认：md] [可选：md、txt、jsonl]",
        "[默认：1]",
        "[可选：bash、zsh、fish]",
        "[默认：en]",
    ] {
        assert!(zh.contains(note), "{note} missing in:\n{zh}");
    }
    for english in ["[default:", "[possible values:", "[env:"] {
        assert!(!zh.contains(english), "{english} left in:\n{zh}");
    }
    let en = help(Lang::En, Some("export"));
    assert!(
        en.contains("[default: md] [possible values: md, txt, jsonl]"),
        "{en}"
    );
    assert!(help(Lang::En, None).contains("[env: LANCHAT_DATA_DIR=]"));
}

#[test]
fn each_command_has_examples_in_its_help() {
    for lang in Lang::ALL {
        let mut cmd = command(lang);
        let heading = tr!(lang, "cli-examples-heading");
        for name in ["fingerprint", "pipe", "export", "completions", "man"] {
            let sub = cmd.find_subcommand_mut(name).expect("a command");
            let help = sub.render_help().to_string();
            let after = help.split(&heading).nth(1).unwrap_or("");
            assert!(
                after.contains(&format!("lanchat {name}")),
                "{lang} {name}:\n{help}"
            );
        }
    }
}

#[test]
fn flags_parse_as_before() {
    let cli = try_parse_from(
        Lang::Zh,
        [
            "lanchat",
            "export",
            "--format",
            "jsonl",
            "-o",
            "out",
            "--name",
            "bob",
            "--peer",
            "10.0.0.1:5",
            "--peer",
            "h:6",
        ],
    )
    .expect("parses");
    assert_eq!(cli.name.as_deref(), Some("bob"));
    assert_eq!(cli.peers, ["10.0.0.1:5", "h:6"]);
    match cli.command {
        Some(Command::Export { format, output, .. }) => {
            assert_eq!(format, Format::JsonLines);
            assert_eq!(output, Some(PathBuf::from("out")));
        }
        other => panic!("{other:?}"),
    }
    let man = try_parse_from(Lang::En, ["lanchat", "man", "--lang", "zh_CN"]).expect("parses");
    assert!(matches!(man.command, Some(Command::Man { lang: Lang::Zh })));
    let shell = try_parse_from(Lang::En, ["lanchat", "completions", "fish"]).expect("parses");
    assert!(matches!(
        shell.command,
        Some(Command::Completions { shell: Shell::Fish })
    ));
    assert!(try_parse_from(Lang::En, ["lanchat", "completions", "tcsh"]).is_err());
    assert!(try_parse_from(Lang::En, ["lanchat", "--port", "x"]).is_err());
    let help = try_parse_from(Lang::Zh, ["lanchat", "pipe", "-h"]).expect_err("help exits");
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    assert!(help.to_string().contains("不显示界面"), "{help}");
}

#[test]
fn the_generated_scripts_know_the_commands() {
    for shell in Shell::ALL {
        let text = String::from_utf8(completions(shell, Lang::En)).expect("utf-8");
        for word in ["fingerprint", "export", "data-dir", "jsonl"] {
            assert!(text.contains(word), "{shell:?} lacks {word}");
        }
    }
    let man = String::from_utf8(man_page(Lang::En).expect("renders")).expect("utf-8");
    assert!(man.contains(".TH lanchat 1"), "{man}");
    assert!(man.contains("discovery beacons"), "{man}");
    let zh = String::from_utf8(man_page(Lang::Zh).expect("renders")).expect("utf-8");
    assert!(zh.contains("发现端口"), "{zh}");
}
