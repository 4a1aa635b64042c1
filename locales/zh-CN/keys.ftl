## zh-CN: keys
## 帮助里每组按键的作用（src/keys.rs）。按键名（Ctrl-N、Enter）和 config.toml 里的动作名
## 不在这里：它们不翻译。

## 主界面。
keys-send = 发送，或执行 /命令
keys-newline = 在消息里换行
keys-next-prev-chat = 下一个 / 上一个会话
keys-complete = 补全 /命令 或 @名字；否则下一个会话
keys-jump = 列表中第 1 … 9 个会话
keys-next-unread = 下一个有未读消息的会话
keys-switcher = 快速切换（输入为空时；否则删到行尾）
keys-peer-info = 对方信息
keys-sidebar = 显示 / 隐藏会话列表
keys-pick = 选择消息：复制、回复、撤回
keys-history = 调出之前发送的内容
keys-scroll-line = 滚动一行
keys-scroll-page = 滚动一页
keys-oldest-latest = 最早 / 最新的消息
keys-move-char = 按字符移动
keys-line-ends = 移到输入框开头 / 末尾
keys-move-word = 按词移动
keys-delete = 删除光标前 / 光标处的字符
keys-delete-word = 向前 / 向后删除一个词
keys-kill-yank = 删除到开头 / 粘贴回来
keys-resend = 重发发送失败的消息
keys-search = 搜索所有会话（支持中文）
keys-help = 本帮助（输入为空时也可按 ?）
keys-dismiss = 关闭，取消回复
keys-quit = 退出

## 主界面之上各模式共用的行。
keys-choose = 选择
keys-open = 打开
keys-take-back = 删除一个字
keys-close = 关闭
keys-this-help = 本帮助

## 各模式：标题，然后是它自己的行。
keys-mode-picked = 已选中一条消息；其他键会取消选择并照常生效
keys-picked-move = 选上一条 / 下一条
keys-picked-copy = 复制到剪贴板
keys-picked-reply = 回复
keys-picked-recall = 撤回（仅限自己 2 分钟内的消息）
keys-picked-accept = 接收文件
keys-picked-stop = 拒绝或取消文件
keys-picked-open = 打开文件
keys-picked-close = 取消选择
keys-mode-search = 搜索结果
keys-choose-ten = 选择，一次十条
keys-search-open = 在会话中查看
keys-mode-switcher = 快速切换；输入文字即可筛选
keys-mode-strangers = 陌生人列表；输入文字即可筛选
keys-mode-verify = 验证密钥
keys-verify-confirm = 两边数字一致：标为已验证
keys-verify-close = 暂不
keys-mode-peer-info = 对方信息；其他键照常生效
keys-mode-chat-list = 会话列表盖在消息上；其他键照常生效
keys-chat-list-move = 打开上一个 / 下一个会话
keys-chat-list-close = 关闭列表
keys-mode-help = 本帮助
keys-help-top = 回到顶部

## config.toml 的 [keys] 中按键写法的错误。

keys-bad-key = 按键 { $key } 有误：{ $why }（例如 "ctrl-n"、"alt-enter"、"f1"）
keys-bad-empty = 是空的
keys-bad-modifier = 未知的修饰键 { $modifier }
keys-bad-function = 功能键只有 f1 到 f12
keys-bad-unknown = 未知的按键 { $key }
keys-bad-plain = 单个字符是用来打字的；请加上 ctrl- 或 alt-
