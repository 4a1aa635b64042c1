# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lanchat_global_optspecs
    string join \n name= port= bind= peer= no-discovery discovery-port= no-ipmsg data-dir= config= V/version h/help
end

function __fish_lanchat_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lanchat_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lanchat_using_subcommand
    set -l cmd (__fish_lanchat_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lanchat -n "__fish_lanchat_needs_command" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_needs_command" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_needs_command" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_needs_command" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_needs_command" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_needs_command" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_needs_command" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_needs_command" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_needs_command" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_needs_command" -s V -l version -d 'Print version'
complete -c lanchat -n "__fish_lanchat_needs_command" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "fingerprint" -d 'Print this node\'s key fingerprint (creating the key on first use), to compare with what peers see.'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "pipe" -d 'Run without a screen: JSON lines on stdin and stdout (see the README).'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "doctor" -d 'Why can\'t I see anyone? Checks interfaces, ports, beacons, firewall and past peers, and says what to fix.'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "export" -d 'Write the message history (one conversation, or all) to stdout or a file.'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh or fish).'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "man" -d 'Print the manual page (roff) to stdout.'
complete -c lanchat -n "__fish_lanchat_needs_command" -f -a "help" -d 'Print this message or the help of the given command'
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand fingerprint" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand pipe" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l listen -d 'Seconds to listen for beacons (others send one every 30 s).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand doctor" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l conversation -d 'A peer\'s name or id, or ip:port for a plain-text peer (default: everything).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l format -d 'The format: md (Markdown), txt (plain text) or jsonl (JSON lines).' -r -f -a "md\t''
txt\t''
jsonl\t''"
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -s o -l output -d 'Write here instead of stdout.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand export" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand completions" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l lang -d 'The page\'s language: en or zh-CN.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l name -d 'Your display name (default: $USER).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l port -d 'Unicast port to listen on (default: 47475 if free, else any).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l bind -d 'Address to listen on; 127.0.0.1 keeps lanchat (and its discovery) on this host.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l peer -d 'A peer to reach by address when discovery cannot see it (repeatable).' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l discovery-port -d 'The port all local instances share for discovery beacons.' -r
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l data-dir -d 'Directory for this instance\'s state (identity, config, logs); lets several instances run on one host.' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l config -d 'Config file to read (default: config.toml in the config directory).' -r -F
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -s h -l help -d 'Print help'
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l no-discovery -d 'Do not announce or look for peers on the local network.'
complete -c lanchat -n "__fish_lanchat_using_subcommand man" -l no-ipmsg -d 'Do not speak IP Messenger (iptux, FeiQ) on port 2425.'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "fingerprint" -d 'Print this node\'s key fingerprint (creating the key on first use), to compare with what peers see.'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "pipe" -d 'Run without a screen: JSON lines on stdin and stdout (see the README).'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "doctor" -d 'Why can\'t I see anyone? Checks interfaces, ports, beacons, firewall and past peers, and says what to fix.'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "export" -d 'Write the message history (one conversation, or all) to stdout or a file.'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "completions" -d 'Print the completion script for a shell (bash, zsh or fish).'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "man" -d 'Print the manual page (roff) to stdout.'
complete -c lanchat -n "__fish_lanchat_using_subcommand help; and not __fish_seen_subcommand_from fingerprint pipe doctor export completions man help" -f -a "help" -d 'Print this message or the help of the given command'
