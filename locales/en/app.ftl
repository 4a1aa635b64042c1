## en: app
## The model's words (src/app/): notices in the status line, the banner over a chat, the
## slash commands and the help's headings.

## Notices (src/app/mod.rs).
app-paste-cut = Paste cut: the input holds at most { $kib } KiB
app-not-sent = Not sent: { $error }
app-not-saved = Not saved: { $error }
app-input-full = The input is full
app-resend = { $n ->
    [0] No failed messages here
    [one] Sending the failed message again
   *[other] Sending { $n } failed messages again
}
app-no-conversation = No conversation is open: pick one with Tab, or /add HOST:PORT
app-too-long = Message too long: { $bytes } bytes, at most { $limit } in one message
app-unknown-command = Unknown command /{ $name }; F1 lists the commands
app-open-first = Open a conversation first
# $usage: the command and its argument, "/add HOST:PORT".
app-usage = Usage: { $usage }
app-looking = Looking for a peer at { $addr }…
app-no-strangers = No strangers: every plain-text address here is one you wrote to
app-copied = Copied to the clipboard
app-nothing-to-copy = Nothing to copy: that message was recalled
app-nothing-unread = Nothing unread
app-search-prompt = Type what to look for, then Enter

## Replies and recalls (src/app/reply.rs).
app-reply-recalled = That message was recalled
app-replying = Replying: Enter sends, Esc cancels
app-recall-nothing = Nothing of mine here to recall
app-recall-not-mine = Only your own messages can be recalled
app-recall-already = Already recalled
app-recall-plain = A plain-text peer cannot take a recall: what it got, it keeps
app-recall-too-late = Only messages sent in the last 2 minutes can be recalled
app-recalled = You recalled a message
# Desktop notifications; $name is the sender's.
app-notify-mention = { $name } mentioned you
app-notify-plain = { $name }: new plain-text message
app-notify-message = { $name }: new message

## Keys and trust (src/app/trust.rs).
app-identity-held = Identity changed: nothing is sent until you decide. /trust accepts the new key, /block refuses it; /verify shows the fingerprints
app-plain-refused = Not sent: { $addr } is { $name }'s lanchat address and text here would go unencrypted. Write to { $name } in the encrypted chat instead (Ctrl-K { $name }), or /plain to send here in the clear anyway
app-plain-encrypted-chat = This chat is encrypted; /plain is for a plain-text chat at a lanchat peer's address
app-plain-allowed = Plain text allowed here until you quit: what you send goes unencrypted to { $addr }
app-plain-refused-again = Plain text refused here again
app-plain-peer-no-key = A plain-text peer has no key: its messages are unencrypted and anyone can send them
app-trust-nothing = Nothing to decide: this key is already accepted
app-key-accepted = Key accepted
app-key-blocked = Key blocked: nothing is sent to it or taken from it (/trust undoes)
app-no-handshake = No handshake with this peer yet: its key is not proven; try when it is online
app-decide-first = Decide on the identity change first: /trust or /block
app-marked-verified = Marked verified

## The banner over a chat (src/app/view.rs); $new and $old are fingerprints.
app-banner-key-changed = ⚠ { $name }'s key changed: now { $new }, was { $old }. Held until you /trust or /block it (/verify compares).
app-banner-plain-chosen = ⚠ { $addr } is { $name }'s encrypted lanchat address. Text here goes unencrypted and can be forged: you chose /plain: you send here anyway.
app-banner-plain-other = ⚠ { $addr } is { $name }'s encrypted lanchat address. Text here goes unencrypted and can be forged: write to { $name } instead (/plain overrides).

## The help (src/app/view.rs, keymap.rs, commands.rs).
app-help-heading = { $title }:
app-help-unbound = (unbound)
app-help-slash-syntax = //text
app-help-slash = send text that starts with a slash

## The slash commands: what each does, and its argument as the help writes it. The command
## names (/add, /pin) are typed, and the same in every language.
app-cmd-add = reach a peer discovery cannot see
app-cmd-pin = pin this chat (again: undo)
app-cmd-mute = mute this chat (again: undo)
app-cmd-rename = my name for this chat (no NAME: undo)
app-cmd-recall = recall my last message (within 2 min)
app-cmd-verify = compare keys, mark verified
app-cmd-trust = accept a (new) key
app-cmd-block = refuse a (new) key
app-cmd-search = search all chats
app-cmd-strangers = plain-text senders never answered
app-cmd-plain = send here unencrypted anyway
app-cmd-help = this help
app-cmd-quit = quit
app-arg-host-port = HOST:PORT
app-arg-name = NAME
app-arg-text = TEXT
app-cmd-send = send files here
app-cmd-accept = accept a file offer
app-cmd-decline = decline a file offer
app-cmd-cancel = stop a file transfer
app-cmd-open = open a received file
app-arg-paths = PATH…
app-arg-dir = [DIR]
app-cmd-group = make a group with these people
app-cmd-invite = add people to this group
app-cmd-leave = leave this group
app-cmd-remove = remove a member (owner only)
app-cmd-owner = pass ownership on (owner only)
app-arg-group = NAME @who…
app-arg-people = @who…
app-arg-person = @who
app-arg-away = [TEXT]
app-cmd-away = away, TEXT as auto-reply; again: back
