# 文件和图片：气泡、传输、/send 等命令。

files-kind-image = 图片
files-kind-video = 视频
files-kind-audio = 音频
files-kind-archive = 压缩包
files-kind-document = 文档
files-kind-other = 文件

files-preview = [文件] { $name }
files-rate = { $rate }/秒
files-left = 剩余 { $time }
files-status = { $n } 个文件 { $percent }% · { $rate }/秒

files-key-hint = { $key } { $what }
files-accept = 接收
files-decline = 拒绝
files-open = 打开
files-hint-accept = { $key } 接收
files-hint-stop = { $key } 拒绝/取消
files-hint-open = { $key } 打开

files-waiting-for-you = 等你回应：/accept 或 /decline
files-waiting-for-answer = 等待对方接收
files-starting = 已接收，双方在线时开始
files-resumes = 已接收，将从 { $percent }% 继续
files-paused = 已暂停，会自动继续
files-saved-to = 已保存到 { $path }
files-sent = 已发送
files-you-declined = 你已拒绝
files-failed = 失败：{ $problem }

files-problem-declined = 对方已拒绝
files-problem-cancelled = 已取消
files-problem-peer-cancelled = 对方已取消
files-problem-peer-failed = 对方无法继续
files-problem-disk-full = 本机磁盘已满
files-problem-peer-disk-full = 接收方磁盘已满
files-problem-permission = 本机无权读写该文件
files-problem-peer-permission = 接收方无权写入该文件
files-problem-source-unreadable = 发送方无法读取该文件
files-problem-source-gone = 要发送的文件已不在原处
files-problem-source-changed = 文件在发出后被修改了
files-problem-unknown = 发送方已不再提供该文件
files-problem-busy = 发送方正忙
files-problem-hash-mismatch = 文件校验不符，已丢弃
files-problem-connection-lost = 连接已断开
files-problem-timed-out = 对方没有响应
files-problem-protocol = 对方违反了协议
files-problem-exists = 已有同名文件挡住了
files-problem-too-large = 超过 max_file_size 限制
files-problem-too-many = 等待中的文件太多
files-problem-not-sent = 文件邀请发送失败
files-problem-io = 读写失败
files-problem-folder = 是文件夹，lanchat 暂不接收文件夹

files-preparing = 正在校验 { $name }，稍后发出… { $percent }%
files-saved = 已保存 { $name }
files-not-sent = 文件未能收发：{ $reason }
files-not-to-plain = 文件只能发给 lanchat 用户（此会话是未加密的纯文本）
files-send-usage = 用法：/send 路径…（Tab 补全路径）
files-too-many-paths = 一次最多 { $max } 个文件
files-no-offer = 这里没有等你回应的文件
files-nothing-to-cancel = 这里没有正在收发的文件
files-nothing-to-open = 这里没有可打开的已收文件
files-not-a-file = 这条消息不是文件
files-paste-offer = 按 Enter 发送此文件；Ctrl-U 清除
files-more-candidates = { "  " }（还有 { $n } 个）
files-no-such-file = 没有这个文件：{ $path }
files-cannot-read = 无权读取 { $path }
files-is-a-folder = { $path } 是文件夹：请发送其中的文件或其压缩包
files-not-a-regular-file = { $path } 不是普通文件
files-too-large-to-send = { $path } 太大，无法发送
files-cannot-send = 无法发送 { $path }：{ $reason }
files-not-done = 操作失败：{ $reason }
files-opening = 正在打开 { $name }…
files-no-opener = 这里没有 { $opener } 可打开文件；文件在 { $path }
files-finishing = 已传完，正在保存并校验…
