## en: time
## Dates in the day separators and the conversation list (src/text/time.rs).

time-today = Today
time-yesterday = Yesterday
# $weekday: 0 is Sunday, 6 Saturday.
time-weekday = { $weekday ->
    [0] Sunday
    [1] Monday
    [2] Tuesday
    [3] Wednesday
    [4] Thursday
    [5] Friday
   *[6] Saturday
}
# The short form, for the conversation list (at most 9 columns, as "Yesterday" is).
time-weekday-short = { $weekday ->
    [0] Sun
    [1] Mon
    [2] Tue
    [3] Wed
    [4] Thu
    [5] Fri
   *[6] Sat
}
# $month: 1 to 12; what it gives is the $month of the dates below.
time-month = { $month ->
    [1] Jan
    [2] Feb
    [3] Mar
    [4] Apr
    [5] May
    [6] Jun
    [7] Jul
    [8] Aug
    [9] Sep
    [10] Oct
    [11] Nov
   *[12] Dec
}
# A date this year: "Dec 2".
time-date-this-year = { $month } { $day }
# A date in another year: "Dec 2, 2025".
time-date-other-year = { $month } { $day }, { $year }
# The conversation list's label for a time in another year.
time-year = { $year }
