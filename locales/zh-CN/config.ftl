## zh-CN: config

## config.toml 中的错误：所在行，以及错在哪里。
config-line = 第 { $line } 行：{ $message }
## $value 是写下的设置值（带引号）。
config-unknown-language = 未知语言 { $value }；lanchat 支持 "en" 和 "zh-CN"
## $name 是写下的动作名（带引号）；$list 是 lanchat 认识的名字。
config-unknown-action = [keys] 中有未知动作 { $name }；可用的动作有：{ $list }
config-unknown-mode = 未知模式 [keys.{ $name }]；可用的模式有：{ $list }
config-unknown-mode-action = [keys.{ $mode }] 中有未知动作 { $name }；它的动作有：{ $list }
config-key-type = 按键须写成字符串，如 "ctrl-n"，或字符串列表
config-name-too-long = 名字有 { $bytes } 字节；最多 { $max } 字节

## 读取文件之前或之后发现的错误（$detail 是系统给出的原因）。
config-io = { $path }：{ $detail }
config-no-home = 没有数据目录：请用 --data-dir 或 LANCHAT_DATA_DIR 指定
config-locked = 已有一个 lanchat 在使用数据目录 { $dir }；请给这个实例另指定 --data-dir
config-locked-pid = 已有一个 lanchat 在使用数据目录 { $dir }（pid { $pid }）；请给这个实例另指定 --data-dir

config-readable-key = { $path } 别人也能读取（权限 { $mode }）；请对它执行 chmod 600
config-not-a-key = { $path }：不是 lanchat 身份密钥（应为 64 位十六进制数字）；把它移开即可生成新的
config-no-random = 无法为新身份取得随机数：{ $detail }
config-line-in = { $path }：第 { $line } 行：{ $message }
config-peers-key = 应为 64 位十六进制的密钥
config-peers-level = 应为 unverified、verified、blocked 或 forgotten
config-peers-ip = 应为 IP 地址或 -
config-peers-name = 应为带引号的名字
