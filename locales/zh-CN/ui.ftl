## zh-CN: ui

## 终端太小，无法绘制。
ui-too-small = 终端太小（{ $width }×{ $height }）：lanchat 至少需要 { $min_width }×{ $min_height }

## 与对方通信的加密状态（对方信息，F2）。$noise 是加密套件名。
ui-enc-held = 已暂停：身份已变（另一个密钥 { $key }）
ui-enc-verified = { $noise } · 已验证
ui-enc-unverified = { $noise } · 未验证（/verify）
ui-enc-blocked = 已屏蔽：不收也不发（/trust）
ui-enc-no-handshake = 尚未与此密钥握手
ui-enc-raw = 无：UDP 明文联系人（nc、脚本）

## 侧栏。
ui-sidebar-title = 会话
ui-sidebar-title-narrow = 会话 · { $key } 关闭
ui-sidebar-looking = 正在寻找附近的联系人…
ui-sidebar-no-discovery = 还没有联系人。自动发现已关闭：请按地址添加。
ui-mention-mark = @我
ui-preview-draft = [草稿] { $text }
ui-preview-raw = UDP 明文，未加密
ui-preview-empty = 暂无消息
ui-preview-mine = 我：{ $text }
ui-strangers = 陌生人（{ $n }）
ui-strangers-never-answered = 从未回复

## 消息区标题。
ui-header-online = { $name } · 在线 · { $addr }
ui-header-offline = { $name } · 离线 · 上次地址 { $addr }
ui-header-raw = { $name } · UDP 明文，未加密
ui-header-raw-folded = { $name } · UDP 明文，未加密 · { $n } 个陌生人之一（/strangers）

## 没有会话时的消息区：三段。
ui-guide-none = 还没有会话。
ui-guide-discovery = 同一网络中运行 lanchat 的联系人会自动出现在左侧。自动发现找不到的，输入 /add 主机:端口 添加。
ui-guide-no-discovery = 自动发现已关闭（--no-discovery 或 discovery = false），不会有人自动出现：输入 /add 主机:端口 按地址添加联系人。
ui-guide-plain = 也支持 UDP 明文：nc -u { $host } { $port } 发来的文字会直接进入这里的会话。
ui-say-hello = 跟 { $name } 打个招呼吧。
## 向上滚动时；括号里跟着回到底部的按键。
ui-more-below = ↓ 下面还有
ui-new-below = { $n } 条新消息 ↓

## 我发出的消息：送达状态。
ui-state-queued = 待发送
ui-state-sending = 发送中…
ui-state-sent = 已发送
ui-state-delivered = ✓ 已送达
ui-state-read = ✓✓ 已读
ui-state-failed = ✗ 发送失败
ui-recalled-mine = 你撤回了一条消息
ui-recalled-theirs = “{ $name }”撤回了一条消息
## 回复上方的引用行。
ui-quote-recalled = （已撤回的消息）
ui-quote-me = 我
ui-quote = ↱ { $who }：{ $excerpt }
ui-quote-claimed = ↱ { $sender } 引用：{ $excerpt }

## 输入框。
ui-input-to = 发给 { $name }
ui-input-none = 消息
ui-reply-to-self = 自己
ui-replying = ↱ 回复 { $who }：{ $excerpt }

## 状态栏：我是谁，以及此刻最有用的按键（$key 是按键名）。
ui-status-key = 密钥 { $fp }
ui-status-online = { $n } 人在线
ui-hint-help = { $key } 帮助
ui-hint-search = { $key } 搜索
ui-hint-quit = { $key } 退出
ui-hint-doctor = 看不到别人？运行 lanchat doctor
ui-hint-chats = { $key } 会话
ui-hint-copy = { $key } 复制
ui-hint-reply = { $key } 回复
ui-hint-close = { $key } 关闭
ui-hint-send = { $key } 发送
ui-hint-newline = { $key } 换行
ui-hint-resend = { $key } 重发
ui-hint-open = { $key } 打开
ui-hint-confirm = { $key } 确认
ui-hint-cancel-reply = { $key } 取消回复

## 搜索结果。
ui-search-pending = 正在搜索“{ $query }”…
ui-search-title = “{ $query }”：找到 { $n } 条 · ↑↓ 选择 · { $open } 打开 · { $close } 关闭
ui-search-none = 没有找到。

## 快速切换和陌生人列表。
ui-switcher-strangers = 陌生人（{ $n }）· { $open } 打开 · { $filter }▏
ui-switcher-title = 转到：{ $filter }▏
ui-switcher-none = 没有匹配的会话。

## /verify。
ui-verify-title = 验证 { $name }
ui-verify-read = 把这串数字念给 { $name } 核对（当面或电话）：
ui-verify-yours = 我的密钥
ui-verify-theirs = 对方密钥
ui-verify-keys = { $confirm }：两边一致，标为已验证 · { $close }：暂不

## 对方信息（F2）。
ui-info-title = 对方信息 · { $close } 关闭
ui-info-shown-as = 显示为
ui-info-calls-itself = 自称
ui-info-address = 地址
ui-info-status = 状态
ui-info-online = 在线
ui-info-offline = 离线
ui-info-last-seen = 最后在线
ui-info-now = 现在
ui-info-never = 从未
ui-info-key = 密钥
ui-info-fingerprint = 指纹
ui-info-encryption = 加密

## 帮助。
ui-help-title = 按键与命令 · { $close } 关闭
ui-help-title-scroll = 按键与命令 { $from }–{ $to }/{ $total } · ↑↓ PgUp PgDn · { $close } 关闭
