//! The translations are complete and consistent: both languages parse, have the same ids with
//! the same arguments, every id the code asks for exists, and the language is chosen as
//! documented.

use super::*;
use fluent_syntax::ast;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every message of one language: id -> the variables its value (and attributes) use.
fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (area, text) in AREAS.iter().zip(sources(lang)) {
        let resource = match fluent_syntax::parser::parse(*text) {
            Ok(r) => r,
            Err((_, errors)) => panic!("{lang} {area}.ftl does not parse: {errors:?}"),
        };
        for entry in resource.body {
            let ast::Entry::Message(m) = entry else {
                continue;
            };
            let id = m.id.name.to_owned();
            assert!(
                id.starts_with(&format!("{area}-")),
                "{lang} {area}.ftl: {id} must start with `{area}-`"
            );
            let mut vars = BTreeSet::new();
            if let Some(p) = &m.value {
                pattern_vars(p, &mut vars);
            }
            for a in &m.attributes {
                pattern_vars(&a.value, &mut vars);
            }
            assert!(
                out.insert(id.clone(), vars).is_none(),
                "{lang}: {id} is defined twice"
            );
        }
    }
    out
}

fn pattern_vars(p: &ast::Pattern<&str>, vars: &mut BTreeSet<String>) {
    for e in &p.elements {
        if let ast::PatternElement::Placeable { expression } = e {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &ast::Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        ast::Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        ast::Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &ast::InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
            for a in &arguments.named {
                inline_vars(&a.value, vars);
            }
        }
        _ => {}
    }
}

#[test]
fn both_languages_parse_and_have_the_same_messages_with_the_same_arguments() {
    let en = messages(Lang::En);
    let zh = messages(Lang::Zh);
    let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
    let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
    assert!(
        only_en.is_empty(),
        "not translated into Chinese: {only_en:?}"
    );
    assert!(only_zh.is_empty(), "in Chinese only: {only_zh:?}");
    for (id, vars) in &en {
        assert_eq!(Some(vars), zh.get(id), "{id}: the arguments differ");
    }
    // The bundles loaded everything the parser saw (no duplicate dropped, no syntax error).
    for lang in Lang::ALL {
        for id in en.keys() {
            assert!(lang.has(id), "{lang}: {id} did not load");
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The ids in every `tr!(lang, "id" ...)` of some code (comment lines skipped).
fn ids_in(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("tr!(") {
        // `include_str!(` is not a call of `tr!`.
        let before = rest[..i].chars().next_back();
        rest = &rest[i + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(q) = rest.find('"') else { break };
        let after = &rest[q + 1..];
        let Some(end) = after.find('"') else { break };
        out.push(after[..end].to_owned());
    }
    out
}

/// The ids the crate's code asks for, with the file that asks.
fn ids_used() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut out = Vec::new();
    for file in files {
        // This file's scanner names the macro in its own code.
        if file.ends_with("i18n/tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        for id in ids_in(&text) {
            out.push((file.display().to_string(), id));
        }
    }
    out
}

#[test]
fn the_scan_reads_tr_calls_and_nothing_else() {
    let sample = "let s = tr!(self.lang, \"app-x\", n = 1);\n\
                  // tr!(lang, \"app-comment\")\n\
                  let f = include_str!(\"file.ftl\");\n\
                  let t = crate::tr!(Lang::Zh, \"ui-y\");";
    assert_eq!(ids_in(sample), ["app-x", "ui-y"]);
}

#[test]
fn every_id_the_code_asks_for_exists() {
    let en = messages(Lang::En);
    let used = ids_used();
    let missing: Vec<_> = used.iter().filter(|(_, id)| !en.contains_key(id)).collect();
    assert!(missing.is_empty(), "ids with no message: {missing:?}");
}

#[test]
fn a_missing_id_shows_as_itself() {
    let en = messages(Lang::En);
    assert!(!en.contains_key("app-no-such-message"));
    assert_eq!(Lang::En.text("app-no-such-message"), "app-no-such-message");
}

#[test]
fn arguments_and_fallback() {
    assert_eq!(tr!(Lang::En, "i18n-example", name = "bob"), "hello, bob");
    assert_eq!(tr!(Lang::Zh, "i18n-example", name = "bob"), "你好，bob");
    // No isolation marks around placeables.
    assert!(!tr!(Lang::Zh, "i18n-example", name = "x").contains('\u{2068}'));
}

#[test]
fn the_language_comes_from_the_locale_variables_in_posix_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(Lang::from_locale(env(&[])), Lang::En);
    assert_eq!(Lang::from_locale(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
    assert_eq!(Lang::from_locale(env(&[("LANG", "zh_SG.UTF-8")])), Lang::Zh);
    assert_eq!(Lang::from_locale(env(&[("LANG", "zh_TW.UTF-8")])), Lang::En);
    assert_eq!(Lang::from_locale(env(&[("LANG", "C.UTF-8")])), Lang::En);
    assert_eq!(
        Lang::from_locale(env(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "en_US.UTF-8")])),
        Lang::En
    );
    assert_eq!(
        Lang::from_locale(env(&[
            ("LANG", "en_US.UTF-8"),
            ("LC_MESSAGES", "zh_CN.GB18030")
        ])),
        Lang::Zh
    );
    // An empty LC_ALL does not count.
    assert_eq!(
        Lang::from_locale(env(&[("LC_ALL", ""), ("LANG", "zh_CN.UTF-8")])),
        Lang::Zh
    );
    assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
    assert_eq!(Lang::parse("en"), Some(Lang::En));
    assert_eq!(Lang::parse("fr"), None);
    assert_eq!(Lang::parse(""), None);
}
