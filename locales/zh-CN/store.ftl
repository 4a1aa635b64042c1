## 消息记录数据库的错误（出错后文件绝不会被删除或改动）。

store-not-lanchat = { $path }：不是 lanchat 的消息记录数据库（{ $reason }）；文件原样保留
store-too-new = { $path }：由更新版本的 lanchat 写入（数据库版本 { $found }，本程序最高认识 { $known }）；文件原样保留
store-damaged = { $path }：数据库已损坏（quick_check：{ $detail }）；文件原样保留
store-open = { $path }：无法打开消息记录数据库：{ $detail }
store-io = { $path }：{ $detail }
store-migrate = { $path }：升级到数据库版本 { $version } 失败：{ $detail }
store-write = 写出导出内容失败：{ $detail }
store-check-unfinished = 数据库检查没有完成
store-check-failed = 无法检查数据库：{ $detail }

## 导出消息记录时加上的字（Markdown 和纯文本格式）。

store-export-me = 我
store-export-recalled = （已撤回）
