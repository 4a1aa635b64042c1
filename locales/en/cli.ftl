## en: cli
## The command line's help (`lanchat --help`, each command's `--help`, the completions and
## the manual page). Examples are indented by the code; keep each line one command and an
## optional `# comment`.

cli-about = Chat with people on your network, peer to peer, in the terminal.
cli-usage-heading = Usage:
# clap adds the colon after these three.
cli-options-heading = Options
cli-commands-heading = Commands
cli-arguments-heading = Arguments
cli-examples-heading = Examples:
cli-help = Print help
cli-version = Print version
cli-help-command = Print this message or the help of the given command

cli-name = Your display name (default: $USER).
cli-port = Unicast port to listen on (default: 47475 if free, else any).
cli-bind = Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.
cli-peer = A peer to reach by address when discovery cannot see it (repeatable).
cli-no-discovery = Do not announce or look for peers on the local network.
cli-discovery-port = The port all local instances share for discovery beacons.
cli-data-dir = Directory for this instance's state (identity, config, logs); lets several instances run on one host.
cli-config = Config file to read (default: config.toml in the config directory).

cli-examples =
    lanchat                                  # start the chat
    lanchat --name alice                     # under another name
    lanchat --peer 10.1.2.3:47475            # also reach a peer discovery cannot see
    lanchat --data-dir /tmp/bob --name bob   # a second instance on this host
    lanchat --bind 127.0.0.1                 # stay on this host, discovery too
    lanchat export --help                    # a command's help
    LANG=zh_CN.UTF-8 lanchat --help          # this help in Simplified Chinese

cli-fingerprint = Print this node's key fingerprint (creating the key on first use), to compare with what peers see.
cli-fingerprint-examples =
    lanchat fingerprint                       # yours: read it to a peer who runs /verify
    lanchat fingerprint --data-dir /tmp/bob   # another instance's

cli-pipe = Run without a screen: JSON lines on stdin and stdout (see the README).
cli-pipe-examples =
    lanchat pipe --name bot --data-dir /tmp/bot
    echo '{"{"}"cmd":"send","to":"alice","text":"hi"{"}"}' | lanchat pipe --data-dir /tmp/bot

cli-doctor = Why can't I see anyone? Checks interfaces, ports, beacons, firewall and past peers, and says what to fix.
cli-doctor-listen = Seconds to listen for beacons (others send one every 30 s).
cli-doctor-examples =
    lanchat doctor                   # check, listening 1 s for beacons
    lanchat doctor --listen 35       # listen through a whole beacon round
    lanchat --port 5000 doctor       # check with the settings you start with

cli-export = Write the message history (one conversation, or all) to stdout or a file.
cli-export-conversation = A peer's name or id, or ip:port for a plain-text peer (default: everything).
cli-export-format = The format: md (Markdown), txt (plain text) or jsonl (JSON lines).
cli-export-output = Write here instead of stdout.
cli-export-examples =
    lanchat export                                    # everything, Markdown, to stdout
    lanchat export --conversation alice --format txt  # one conversation as plain text
    lanchat export --format jsonl -o history.jsonl    # JSON lines, to a file

cli-completions = Print the completion script for a shell (bash, zsh or fish).
cli-completions-shell = The shell to complete for.
cli-completions-examples =
    lanchat completions bash > ~/.local/share/bash-completion/completions/lanchat
    lanchat completions zsh > ~/.zfunc/_lanchat    # a directory in $fpath
    lanchat completions fish > ~/.config/fish/completions/lanchat.fish

cli-man = Print the manual page (roff) to stdout.
cli-man-lang = The page's language: en or zh-CN.
cli-man-examples =
    lanchat man | man -l -                                   # read it now
    lanchat man > ~/.local/share/man/man1/lanchat.1          # then: man lanchat
    lanchat man --lang zh-CN > ~/.local/share/man/zh_CN/man1/lanchat.1

## Clap's notes after an option's help, in languages other than English (in English clap
## writes them itself, in these words).
cli-note-env = env: { $name }=
cli-note-default = default: { $value }
cli-note-possible = possible values: { $values }
cli-note-list-separator = {", "}

## What the command itself says on the terminal (outside the chat screen).

cli-error = Error: { $detail }
cli-log-open = cannot open log file { $path }
cli-stdout = cannot write to stdout
cli-create = cannot create { $path }
cli-tightened = { $path } was readable by others (mode { $mode }); made it 600
cli-not-ours = warning: { $path } belongs to another user and others can read it (mode { $mode })
cli-exported = { $n ->
    [one] 1 message exported
   *[other] { $n } messages exported
}
cli-bad-listen = --listen takes a number of seconds, such as 1 or 35
cli-async = cannot start the async runtime
cli-no-ipmsg = Do not speak IP Messenger (iptux, FeiQ) on port 2425.
