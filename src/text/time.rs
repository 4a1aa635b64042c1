//! Showing times, without a time-zone database: the runtime hands the app the local UTC
//! offset, and the calendar math is done here. The words (today, weekdays, months) are in
//! the user's language; [`format_time`] is digits only, the same in both.

use crate::i18n::Lang;
use crate::tr;

/// (year, month, day) of a count of days since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn local_parts(ms: i64, offset_s: i32) -> (i64, u32, u32, i64, i64) {
    let secs = ms.div_euclid(1000) + i64::from(offset_s);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, of_day / 3600, of_day % 3600 / 60)
}

/// The local day number of a time (days since 1970-01-01 in local time).
pub fn local_day(ms: i64, offset_s: i32) -> i64 {
    (ms.div_euclid(1000) + i64::from(offset_s)).div_euclid(86_400)
}

/// The day of the week of a local day number: 0 for Sunday to 6 for Saturday
/// (1970-01-01 was a Thursday).
pub fn weekday(day: i64) -> i64 {
    (day + 4).rem_euclid(7)
}

/// A date without its year: "Dec 2", "12月2日".
fn month_day(lang: Lang, month: u32, day: u32) -> String {
    let month = tr!(lang, "time-month", month = month);
    tr!(lang, "time-date-this-year", month = month, day = day)
}

/// A day separator's label: "Today", "Yesterday", the weekday within the week ("Wednesday"),
/// the date this year ("Dec 2"), or with its year before ("Dec 2, 2025"); in Chinese
/// "今天", "昨天", "星期三", "12月2日", "2025年12月2日".
pub fn day_label(lang: Lang, ms: i64, now_ms: i64, offset_s: i32) -> String {
    let day = local_day(ms, offset_s);
    let today = local_day(now_ms, offset_s);
    let (y, m, d) = civil_from_days(day);
    let (ny, _, _) = civil_from_days(today);
    match today - day {
        0 => tr!(lang, "time-today"),
        1 => tr!(lang, "time-yesterday"),
        2..=6 => tr!(lang, "time-weekday", weekday = weekday(day)),
        _ if y == ny => month_day(lang, m, d),
        _ => {
            let month = tr!(lang, "time-month", month = m);
            tr!(
                lang,
                "time-date-other-year",
                month = month,
                day = d,
                year = y.to_string()
            )
        }
    }
}

/// A short time for the conversation list (at most 9 columns, as "Yesterday" has always
/// been): "14:05" today, "Yesterday", "Wed" within the week, "Dec 2" this year, "2025"
/// before; in Chinese "14:05", "昨天", "星期三", "12月2日", "2025年".
pub fn short_label(lang: Lang, ms: i64, now_ms: i64, offset_s: i32) -> String {
    let (y, mo, d, h, mi) = local_parts(ms, offset_s);
    let (ny, _, _, _, _) = local_parts(now_ms, offset_s);
    let day = local_day(ms, offset_s);
    match local_day(now_ms, offset_s) - day {
        0 => format!("{h:02}:{mi:02}"),
        1 => tr!(lang, "time-yesterday"),
        2..=6 => tr!(lang, "time-weekday-short", weekday = weekday(day)),
        _ if y == ny => month_day(lang, mo, d),
        _ => tr!(lang, "time-year", year = y.to_string()),
    }
}

/// "14:05" for a time today, "11-24 14:05" earlier this year, "2025-11-24 14:05" before.
pub fn format_time(ms: i64, now_ms: i64, offset_s: i32) -> String {
    let (y, mo, d, h, mi) = local_parts(ms, offset_s);
    let (ny, nmo, nd, _, _) = local_parts(now_ms, offset_s);
    if (y, mo, d) == (ny, nmo, nd) {
        format!("{h:02}:{mi:02}")
    } else if y == ny {
        format!("{mo:02}-{d:02} {h:02}:{mi:02}")
    } else {
        format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02}")
    }
}

/// A time in UTC as ISO 8601 (for the exports): `2024-01-01T12:00:05Z`, or with `.123`
/// milliseconds.
pub fn iso_utc(ms: i64, millis: bool) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (of_day / 3600, of_day % 3600 / 60, of_day % 60);
    if millis {
        let frac = ms.rem_euclid(1000);
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn formats_relative_to_today_in_local_time() {
        // 2024-01-01 23:30 UTC.
        let t = 1_704_151_800_000;
        assert_eq!(format_time(t, t, 0), "23:30");
        // In UTC+8 that is already 07:30 on Jan 2.
        assert_eq!(format_time(t, t, 8 * 3600), "07:30");
        let next_day = t + 86_400_000;
        assert_eq!(format_time(t, next_day, 0), "01-01 23:30");
        let next_year = t + 400 * 86_400_000;
        assert_eq!(format_time(t, next_year, 0), "2024-01-01 23:30");
    }

    const DAY: i64 = 86_400_000;
    /// 2024-01-01 23:30 UTC, a Monday.
    const MONDAY: i64 = 1_704_151_800_000;

    #[test]
    fn weekdays_count_from_a_thursday() {
        assert_eq!(weekday(0), 4, "1970-01-01 was a Thursday");
        assert_eq!(weekday(local_day(MONDAY, 0)), 1);
        assert_eq!(weekday(-1), 3);
        // Seven different names, in both languages and both lengths.
        for lang in Lang::ALL {
            for id in ["time-weekday", "time-weekday-short"] {
                let mut names: Vec<String> = (0..7)
                    .map(|d| lang.text_with(id, &weekday_args(d)))
                    .collect();
                names.sort();
                names.dedup();
                assert_eq!(names.len(), 7, "{lang} {id}: {names:?}");
            }
        }
    }

    fn weekday_args(d: i64) -> crate::i18n::Args<'static> {
        let mut args = crate::i18n::Args::new();
        args.set("weekday", d);
        args
    }

    #[test]
    fn day_separators_say_today_yesterday_the_weekday_then_the_date() {
        let label = |lang, now| day_label(lang, MONDAY, now, 0);
        let cases = [
            (0, "Today", "今天"),
            (1, "Yesterday", "昨天"),
            (2, "Monday", "星期一"),
            (6, "Monday", "星期一"),
            (7, "Jan 1", "1月1日"),
            (400, "Jan 1, 2024", "2024年1月1日"),
        ];
        for (days, en, zh) in cases {
            assert_eq!(label(Lang::En, MONDAY + days * DAY), en, "{days} days on");
            assert_eq!(label(Lang::Zh, MONDAY + days * DAY), zh, "{days} days on");
        }
        // In UTC+8 that Monday evening is Tuesday morning, so "yesterday" a day later.
        assert_eq!(
            day_label(Lang::En, MONDAY, MONDAY + DAY, 8 * 3600),
            "Yesterday"
        );
        assert_eq!(
            day_label(Lang::Zh, MONDAY, MONDAY + 3 * DAY, 8 * 3600),
            "星期二"
        );
        // December, in another year: two-digit months and days.
        let dec_12 = MONDAY - 20 * DAY;
        assert_eq!(day_label(Lang::En, dec_12, MONDAY, 0), "Dec 12, 2023");
        assert_eq!(day_label(Lang::Zh, dec_12, MONDAY, 0), "2023年12月12日");
    }

    #[test]
    fn sidebar_labels_are_short_in_both_languages() {
        let cases = [
            (0, "23:30", "23:30"),
            (1, "Yesterday", "昨天"),
            (3, "Mon", "星期一"),
            (7, "Jan 1", "1月1日"),
            (400, "2024", "2024年"),
        ];
        for (days, en, zh) in cases {
            let now = MONDAY + days * DAY;
            assert_eq!(short_label(Lang::En, MONDAY, now, 0), en, "{days} days on");
            assert_eq!(short_label(Lang::Zh, MONDAY, now, 0), zh, "{days} days on");
        }
        // Every label of a year's days, seen from its last day, fits the list's time
        // column: 9 columns ("Yesterday", "12月12日" is 8).
        let new_year_eve = MONDAY + 365 * DAY;
        for lang in Lang::ALL {
            for days in 0..=366 {
                let label = short_label(lang, new_year_eve - days * DAY, new_year_eve, 0);
                assert!(super::super::width(&label) <= 9, "{lang}: {label:?}");
            }
        }
    }
}
