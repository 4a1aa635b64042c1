//! The words on the screen, in the user's language: English or Simplified Chinese.
//!
//! Every user-facing string lives in a Fluent file under `locales/LANG/AREA.ftl` (one file
//! per area of the code, each message id prefixed by its area: `app-`, `ui-`, `keys-`, ...),
//! compiled into the binary. Code asks for a message by id with [`tr!`]:
//!
//! ```
//! use lanchat::{i18n::Lang, tr};
//! assert_eq!(tr!(Lang::En, "i18n-example", name = "alice"), "hello, alice");
//! assert_eq!(tr!(Lang::Zh, "i18n-example", name = "alice"), "你好，alice");
//! ```
//!
//! Fluent's plural and argument rules do the work (English "1 peer" / "2 peers"; Chinese
//! has no plural). Placeables are not wrapped in Unicode isolation marks: the terminal is
//! the only reader, and a bidi mark there is junk. Values that came from peers must be made
//! inert by the caller (`text::sanitize`) before or after formatting, as for any other text.
//!
//! This module is at the bottom of the layers: it knows no other module of the crate, does no
//! IO and reads no environment itself ([`Lang::from_locale`] is handed the variables).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::OnceLock;

/// Arguments for a message: `args.set("name", value)`; see [`tr!`].
pub type Args<'a> = FluentArgs<'a>;

/// The interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    /// Simplified Chinese (zh-CN).
    Zh,
}

/// Each language's files, in a fixed order; every language has the same set of areas.
const EN: &[&str] = &[
    include_str!("../../locales/en/app.ftl"),
    include_str!("../../locales/en/keys.ftl"),
    include_str!("../../locales/en/time.ftl"),
    include_str!("../../locales/en/ui.ftl"),
    include_str!("../../locales/en/runtime.ftl"),
    include_str!("../../locales/en/config.ftl"),
    include_str!("../../locales/en/cli.ftl"),
    include_str!("../../locales/en/doctor.ftl"),
    include_str!("../../locales/en/i18n.ftl"),
    include_str!("../../locales/en/store.ftl"),
    include_str!("../../locales/en/picture.ftl"),
    include_str!("../../locales/en/files.ftl"),
    include_str!("../../locales/en/group.ftl"),
    include_str!("../../locales/en/ipmsg.ftl"),
];
const ZH: &[&str] = &[
    include_str!("../../locales/zh-CN/app.ftl"),
    include_str!("../../locales/zh-CN/keys.ftl"),
    include_str!("../../locales/zh-CN/time.ftl"),
    include_str!("../../locales/zh-CN/ui.ftl"),
    include_str!("../../locales/zh-CN/runtime.ftl"),
    include_str!("../../locales/zh-CN/config.ftl"),
    include_str!("../../locales/zh-CN/cli.ftl"),
    include_str!("../../locales/zh-CN/doctor.ftl"),
    include_str!("../../locales/zh-CN/i18n.ftl"),
    include_str!("../../locales/zh-CN/store.ftl"),
    include_str!("../../locales/zh-CN/picture.ftl"),
    include_str!("../../locales/zh-CN/files.ftl"),
    include_str!("../../locales/zh-CN/group.ftl"),
    include_str!("../../locales/zh-CN/ipmsg.ftl"),
];

/// The names of the area files, in the order of [`EN`] and [`ZH`] (for tests and tools).
pub const AREAS: &[&str] = &[
    "app", "keys", "time", "ui", "runtime", "config", "cli", "doctor", "i18n", "store", "picture",
    "files", "group", "ipmsg",
];

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The tag `language` takes in config.toml.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// A `language` setting: "en" or "zh-CN" (case and `_` for `-` forgiven, and the
    /// obvious variants: "en-US", "zh", "zh-Hans", "zh_CN.UTF-8").
    pub fn parse(s: &str) -> Option<Lang> {
        let tag = s.split('.').next().unwrap_or("").replace('_', "-");
        let tag = tag.to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or("");
        match primary {
            "en" => Some(Lang::En),
            "zh" => {
                // Traditional-script locales are not Simplified Chinese: keep English for
                // them rather than show the wrong script.
                let rest: Vec<&str> = tag.split('-').skip(1).collect();
                let traditional = rest
                    .iter()
                    .any(|p| matches!(*p, "hant" | "tw" | "hk" | "mo"));
                (!traditional).then_some(Lang::Zh)
            }
            _ => None,
        }
    }

    /// The language the locale variables ask for, by POSIX precedence: the first of
    /// `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty decides. A `zh_*` locale
    /// (other than the traditional-script ones) gives Chinese; anything else, `C` and
    /// `POSIX` included, English.
    pub fn from_locale(env: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|v| env(v))
            .find(|v| !v.is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default()
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        static BUNDLES: [OnceLock<FluentBundle<FluentResource>>; 2] =
            [OnceLock::new(), OnceLock::new()];
        let (slot, files) = match self {
            Lang::En => (&BUNDLES[0], EN),
            Lang::Zh => (&BUNDLES[1], ZH),
        };
        slot.get_or_init(|| build(self, files))
    }

    /// Whether this language has a message with this id.
    pub fn has(self, id: &str) -> bool {
        self.bundle().has_message(id)
    }

    /// The message `id`, without arguments.
    pub fn text(self, id: &str) -> String {
        self.format(id, None)
    }

    /// The message `id` with its arguments.
    pub fn text_with(self, id: &str, args: &Args) -> String {
        self.format(id, Some(args))
    }

    /// Looks `id` up in this language, then in English; a missing id shows as itself (the
    /// tests make sure none is missing).
    fn format(self, id: &str, args: Option<&Args>) -> String {
        for lang in [self, Lang::En] {
            let bundle = lang.bundle();
            if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return bundle
                    .format_pattern(pattern, args, &mut errors)
                    .into_owned();
            }
        }
        id.to_owned()
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

fn build(lang: Lang, files: &[&str]) -> FluentBundle<FluentResource> {
    // A tag that cannot fail to parse; the default ("und") would only lose plural rules.
    let id: unic_langid::LanguageIdentifier = lang.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    bundle.set_use_isolating(false);
    for text in files {
        // A syntax error drops only the broken entry; `tests` fails on any.
        let resource = match FluentResource::try_new((*text).to_owned()) {
            Ok(r) => r,
            Err((r, _)) => r,
        };
        // A duplicate id keeps the first; `tests` fails on any.
        let _ = bundle.add_resource(resource);
    }
    bundle
}

/// A message in a language: `tr!(lang, "id")` or `tr!(lang, "id", name = value, ...)`, where
/// each value is anything Fluent takes (strings, numbers).
#[macro_export]
macro_rules! tr {
    ($lang:expr, $id:literal $(,)?) => {
        $crate::i18n::Lang::text($lang, $id)
    };
    ($lang:expr, $id:literal, $($key:ident = $value:expr),+ $(,)?) => {{
        let mut args = $crate::i18n::Args::new();
        $( args.set(stringify!($key), $value); )+
        $crate::i18n::Lang::text_with($lang, $id, &args)
    }};
}

/// The raw files, for the tests that hold the translations complete.
pub fn sources(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => EN,
        Lang::Zh => ZH,
    }
}

#[cfg(test)]
mod tests;
