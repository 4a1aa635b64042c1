## zh-CN: cli
## 命令行帮助（`lanchat --help`、各命令的 `--help`、补全脚本和手册页）。

cli-about = 在终端里与局域网中的人点对点聊天，无需服务器。
cli-usage-heading = 用法:
cli-options-heading = 选项
cli-commands-heading = 命令
cli-arguments-heading = 参数
cli-examples-heading = 示例:
cli-help = 显示帮助
cli-version = 显示版本
cli-help-command = 显示本帮助或指定命令的帮助

cli-name = 你的名字（默认：$USER）。
cli-port = 监听的单播端口（默认：47475，被占用时随机选一个）。
cli-bind = 监听地址；127.0.0.1 让 lanchat（包括发现）只留在本机。
cli-peer = 按地址添加自动发现找不到的联系人（可重复）。
cli-no-discovery = 不在局域网中广播自己，也不查找别人。
cli-discovery-port = 本机所有实例共用的发现端口。
cli-data-dir = 本实例的状态目录（身份密钥、配置、日志）；可让一台主机运行多个实例。
cli-config = 要读取的配置文件（默认：配置目录中的 config.toml）。

cli-examples =
    lanchat                                  # 开始聊天
    lanchat --name alice                     # 换个名字
    lanchat --peer 10.1.2.3:47475            # 添加一个自动发现找不到的联系人
    lanchat --data-dir /tmp/bob --name bob   # 本机的第二个实例
    lanchat --bind 127.0.0.1                 # 只留在本机，发现也是
    lanchat export --help                    # 某个命令的帮助
    LANG=en_US.UTF-8 lanchat --help          # 英文帮助

cli-fingerprint = 显示本节点的密钥指纹（首次使用时创建密钥），用来与对方看到的比对。
cli-fingerprint-examples =
    lanchat fingerprint                       # 你的指纹：念给运行 /verify 的对方听
    lanchat fingerprint --data-dir /tmp/bob   # 另一个实例的指纹

cli-pipe = 不显示界面运行：标准输入输出上每行一个 JSON（见 README）。
cli-pipe-examples =
    lanchat pipe --name bot --data-dir /tmp/bot
    echo '{"{"}"cmd":"send","to":"alice","text":"hi"{"}"}' | lanchat pipe --data-dir /tmp/bot

cli-doctor = 为什么看不到别人？检查网卡、端口、广播信号、防火墙和以前的联系人，并说明怎么修。
cli-doctor-listen = 监听广播信号的秒数（其他人每 30 秒发一次）。
cli-doctor-examples =
    lanchat doctor                   # 检查，监听广播信号 1 秒
    lanchat doctor --listen 35       # 监听一整轮广播
    lanchat --port 5000 doctor       # 用你平时启动时的设置检查

cli-export = 把消息记录（一个会话或全部）写到标准输出或文件。
cli-export-conversation = 联系人的名字或 ID，明文联系人用 ip:端口（默认：全部）。
cli-export-format = 格式：md（Markdown）、txt（纯文本）或 jsonl（JSON 行）。
cli-export-output = 写到这个文件，而不是标准输出。
cli-export-examples =
    lanchat export                                    # 全部，Markdown，到标准输出
    lanchat export --conversation alice --format txt  # 一个会话，纯文本
    lanchat export --format jsonl -o history.jsonl    # JSON 行，写到文件

cli-completions = 显示某个 shell（bash、zsh 或 fish）的补全脚本。
cli-completions-shell = 要补全的 shell。
cli-completions-examples =
    lanchat completions bash > ~/.local/share/bash-completion/completions/lanchat
    lanchat completions zsh > ~/.zfunc/_lanchat    # $fpath 中的某个目录
    lanchat completions fish > ~/.config/fish/completions/lanchat.fish

cli-man = 把手册页（roff）写到标准输出。
cli-man-lang = 手册页的语言：en 或 zh-CN。
cli-man-examples =
    lanchat man | man -l -                                   # 立即阅读
    lanchat man > ~/.local/share/man/man1/lanchat.1          # 之后：man lanchat
    lanchat man --lang zh-CN > ~/.local/share/man/zh_CN/man1/lanchat.1

## 选项说明后面的注记（clap 自己只会写英文）。
cli-note-env = 环境变量：{ $name }
cli-note-default = 默认：{ $value }
cli-note-possible = 可选：{ $values }
cli-note-list-separator = 、

## 命令本身在终端上说的话（聊天界面之外）。

cli-error = 错误：{ $detail }
cli-log-open = 无法打开日志文件 { $path }
cli-stdout = 无法写入标准输出
cli-create = 无法创建 { $path }
cli-tightened = { $path } 原先别人也能读取（权限 { $mode }），已改为 600
cli-not-ours = 警告：{ $path } 属于其他用户，且别人能读取（权限 { $mode }）
cli-exported = 已导出 { $n } 条消息
cli-bad-listen = --listen 需要秒数，例如 1 或 35
cli-async = 无法启动异步运行时
cli-no-ipmsg = 不使用飞鸽传书协议（iptux、飞秋，端口 2425）。
