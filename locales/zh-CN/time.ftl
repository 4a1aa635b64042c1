## zh-CN: time
## 日分隔线和会话列表里的日期（src/text/time.rs）。

time-today = 今天
time-yesterday = 昨天
# $weekday：0 为星期日，6 为星期六。
time-weekday = { $weekday ->
    [0] 星期日
    [1] 星期一
    [2] 星期二
    [3] 星期三
    [4] 星期四
    [5] 星期五
   *[6] 星期六
}
time-weekday-short = { $weekday ->
    [0] 星期日
    [1] 星期一
    [2] 星期二
    [3] 星期三
    [4] 星期四
    [5] 星期五
   *[6] 星期六
}
time-month = { $month }月
time-date-this-year = { $month }{ $day }日
time-date-other-year = { $year }年{ $month }{ $day }日
time-year = { $year }年
