## zh-CN: app
## 模型层的文字（src/app/）：状态栏提示、会话上方的横幅、斜杠命令和帮助的标题。

## 提示（src/app/mod.rs）。
app-paste-cut = 粘贴被截断：输入框最多容纳 { $kib } KiB
app-not-sent = 未发送：{ $error }
app-not-saved = 未保存：{ $error }
app-input-full = 输入框已满
app-resend = { $n ->
    [0] 这里没有发送失败的消息
   *[other] 正在重发 { $n } 条发送失败的消息
}
app-no-conversation = 没有打开的会话：按 Tab 选一个，或用 /add 主机:端口
app-too-long = 消息太长：{ $bytes } 字节，单条最多 { $limit } 字节
app-unknown-command = 未知命令 /{ $name }；按 F1 查看命令列表
app-open-first = 请先打开一个会话
# $usage：命令及其参数，如“/add 主机:端口”。
app-usage = 用法：{ $usage }
app-looking = 正在查找 { $addr } 上的联系人…
app-no-strangers = 没有陌生人：这里的明文地址你都回复过
app-copied = 已复制到剪贴板
app-nothing-to-copy = 没有可复制的内容：该消息已撤回
app-nothing-unread = 没有未读消息
app-search-prompt = 输入要搜索的内容，然后按 Enter

## 回复和撤回（src/app/reply.rs）。
app-reply-recalled = 该消息已撤回
app-replying = 正在回复：Enter 发送，Esc 取消
app-recall-nothing = 这里没有可撤回的消息
app-recall-not-mine = 只能撤回自己的消息
app-recall-already = 已经撤回过了
app-recall-plain = 明文联系人无法撤回：对方已收到的消息会一直保留
app-recall-too-late = 只能撤回 2 分钟内发送的消息
app-recalled = 你撤回了一条消息
# 桌面通知；$name 是发送者。
app-notify-mention = { $name } 提到了你
app-notify-plain = { $name }：新明文消息
app-notify-message = { $name }：新消息

## 密钥与信任（src/app/trust.rs）。
app-identity-held = 对方身份已变更：在你决定前不会发送任何消息。/trust 接受新密钥，/block 拒绝；/verify 查看指纹
app-plain-refused = 未发送：{ $addr } 是 { $name } 的 lanchat 地址，在这里发送不加密。请改到与 { $name } 的加密会话中发送（Ctrl-K { $name }），或用 /plain 仍以明文发送
app-plain-encrypted-chat = 此会话已加密；/plain 只用于 lanchat 联系人地址上的明文会话
app-plain-allowed = 退出前允许在此明文发送：内容将不加密地发往 { $addr }
app-plain-refused-again = 这里已重新禁止明文
app-plain-peer-no-key = 明文联系人没有密钥：消息未加密，任何人都能冒充
app-trust-nothing = 无需决定：该密钥已被接受
app-key-accepted = 已接受密钥
app-key-blocked = 已屏蔽密钥：不再与它收发任何消息（/trust 可撤销）
app-no-handshake = 尚未与对方握手：其密钥未经证实；请在对方在线时再试
app-decide-first = 请先处理身份变更：/trust 或 /block
app-marked-verified = 验证完成

## 会话上方的横幅（src/app/view.rs）；$new 和 $old 是指纹。
app-banner-key-changed = ⚠ { $name } 的密钥已变更：现为 { $new }，原为 { $old }。在你 /trust 或 /block 前暂停发送（/verify 可比对）。
app-banner-plain-chosen = ⚠ { $addr } 是 { $name } 的加密 lanchat 地址。这里的消息不加密，可被伪造：你已选择 /plain，仍在这里发送。
app-banner-plain-other = ⚠ { $addr } 是 { $name } 的加密 lanchat 地址。这里的消息不加密，可被伪造：请改为发给 { $name }（/plain 可强制在此发送）。

## 帮助（src/app/view.rs、keymap.rs、commands.rs）。
app-help-heading = { $title }：
app-help-unbound = （未绑定）
app-help-slash-syntax = //文字
app-help-slash = 发送以斜杠开头的文字

## 斜杠命令：各自的作用，以及帮助里写的参数。命令名（/add、/pin）是输入的内容，在所有语言中相同。
app-cmd-add = 添加自动发现找不到的联系人
app-cmd-pin = 置顶此会话（再次执行即取消）
app-cmd-mute = 此会话消息免打扰（再次执行即取消）
app-cmd-rename = 设置此会话的备注名（不带名称即取消）
app-cmd-recall = 撤回我的上一条消息（2 分钟内）
app-cmd-verify = 比对密钥，标为已验证
app-cmd-trust = 接受（新）密钥
app-cmd-block = 拒绝（新）密钥
app-cmd-search = 搜索所有会话
app-cmd-strangers = 从未回复过的明文发送者
app-cmd-plain = 仍在此以明文发送
app-cmd-help = 本帮助
app-cmd-quit = 退出
app-arg-host-port = 主机:端口
app-arg-name = 名称
app-arg-text = 文字
app-cmd-send = 在此发送文件
app-cmd-accept = 接收文件
app-cmd-decline = 拒绝文件
app-cmd-cancel = 取消文件传输
app-cmd-open = 打开收到的文件
app-arg-paths = 路径…
app-arg-dir = [目录]
app-cmd-group = 和这些人建一个群聊
app-cmd-invite = 邀请人加入本群
app-cmd-leave = 退出本群
app-cmd-remove = 把成员移出本群（仅群主）
app-cmd-owner = 转让群主（仅群主）
app-arg-group = 群名 @谁…
app-arg-people = @谁…
app-arg-person = @谁
app-arg-away = [文字]
app-cmd-away = 离开，文字作自动回复；再输一次返回
