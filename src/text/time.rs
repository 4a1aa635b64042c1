//! Showing times, without a time-zone database: the runtime hands the app the local UTC
//! offset, and the calendar math is done here.

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

/// A day separator's label: "Today", "Yesterday", or the date.
pub fn day_label(ms: i64, now_ms: i64, offset_s: i32) -> String {
    let day = local_day(ms, offset_s);
    let today = local_day(now_ms, offset_s);
    match today - day {
        0 => "Today".to_string(),
        1 => "Yesterday".to_string(),
        _ => {
            let (y, m, d) = civil_from_days(day);
            format!("{y}-{m:02}-{d:02}")
        }
    }
}

/// A short time for the conversation list: "14:05" today, "Yesterday", "11-24" this year,
/// "2025" before.
pub fn short_label(ms: i64, now_ms: i64, offset_s: i32) -> String {
    let (y, mo, d, h, mi) = local_parts(ms, offset_s);
    let (ny, _, _, _, _) = local_parts(now_ms, offset_s);
    match local_day(now_ms, offset_s) - local_day(ms, offset_s) {
        0 => format!("{h:02}:{mi:02}"),
        1 => "Yesterday".to_string(),
        _ if y == ny => format!("{mo:02}-{d:02}"),
        _ => format!("{y}"),
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
}
