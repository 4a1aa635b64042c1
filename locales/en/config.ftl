## en: config

## A mistake in config.toml: the line it is on, and what is wrong.
config-line = line { $line }: { $message }
## $value is the setting as written, in quotes.
config-unknown-language = unknown language { $value }; lanchat speaks "en" and "zh-CN"
## $name is the action as written, in quotes; $list the names lanchat knows.
config-unknown-action = unknown action { $name } in [keys]; the actions are: { $list }
config-unknown-mode = unknown mode [keys.{ $name }]; the modes are: { $list }
config-unknown-mode-action = unknown action { $name } in [keys.{ $mode }]; its actions are: { $list }
config-key-type = a key is a string such as "ctrl-n", or a list of them
config-name-too-long = name is { $bytes } bytes; at most { $max }

## Errors found before or after reading the file ($detail is what the system said).
config-io = { $path }: { $detail }
config-no-home = no data directory: set --data-dir or LANCHAT_DATA_DIR
config-locked = another lanchat is already running with data dir { $dir }; give this one its own --data-dir
config-locked-pid = another lanchat is already running with data dir { $dir } (pid { $pid }); give this one its own --data-dir

config-readable-key = { $path } is readable by others (mode { $mode }); run chmod 600 on it
config-not-a-key = { $path }: not a lanchat identity key (expected 64 hex digits); move it aside to create a new one
config-no-random = no randomness for a new identity: { $detail }
config-line-in = { $path }: line { $line }: { $message }
config-peers-key = expected a key of 64 hex digits
config-peers-level = expected unverified, verified, blocked or forgotten
config-peers-ip = expected an IP address or -
config-peers-name = expected a quoted name
