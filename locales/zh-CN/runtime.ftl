## zh-CN: runtime

## 使程序退出的错误（退出时打印）。
runtime-open-history = 无法打开消息记录
runtime-start-history = 无法启动消息记录
runtime-terminal-setup = 无法设置终端
runtime-terminal-read = 无法读取终端
runtime-terminal-reading = 读取终端时出错
runtime-no-sockets = 无法在 { $bind } 上打开 UDP 套接字（端口 { $port }）
runtime-no-sockets-default = 无法在 { $bind } 上打开 UDP 套接字（默认端口）

## 状态栏上的提示（$detail 和 $error 是系统给出的原因）。
runtime-probing = 正在探测 { $addr }（{ $query }）上的 lanchat 联系人…
runtime-probing-addr = 正在探测 { $addr } 上的 lanchat 联系人…
runtime-add-peer-failed = 无法添加联系人：{ $error }
runtime-no-ipv4 = { $query }：没有 IPv4 地址
runtime-recall-not-sent = 撤回没有发出：{ $error }
runtime-discovery-off = 自动发现已关闭：无法使用端口 { $port }：{ $detail }
runtime-send-failed = 发送失败：{ $detail }
runtime-known-peers-not-saved = 无法保存已知联系人：{ $detail }
runtime-store-behind = 消息记录未保存：存储跟不上或已停止
runtime-plain-flood = 明文消息来得比保存得快（遭遇刷屏？）：部分已丢弃

## lanchat export（导出）。
runtime-read-peers = 无法读取联系人列表
## $who 是所要找的对象（带引号）。
runtime-export-ambiguous = { $who } 对应多个联系人；请改用 id
runtime-export-unknown = 没有与 { $who } 的会话（可以是联系人名字、联系人 id 或 ip:端口）
runtime-export-failed = 导出失败
runtime-export-write = 无法写入导出内容
