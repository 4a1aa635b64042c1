## en: keys
## The help overlay: what each group of keys does (src/keys.rs). Key names (Ctrl-N, Enter)
## and config.toml's action names are not in here: they are never translated.

## The main screen.
keys-send = send, or run a /command
keys-newline = a new line in the message
keys-next-prev-chat = next / previous chat
keys-complete = complete /cmd or @name; else next
keys-jump = chat 1 … 9 of the list
keys-next-unread = next chat with unread messages
keys-switcher = switcher (empty input; else kill)
keys-peer-info = who is this peer
keys-sidebar = show / hide the chat list
keys-pick = pick a message: copy, reply, recall
keys-history = what I sent before, to the input
keys-scroll-line = scroll by a line
keys-scroll-page = scroll by a page
keys-oldest-latest = first / latest message
keys-move-char = move by character
keys-line-ends = to start / end of the input
keys-move-word = move by word
keys-delete = delete before / at the cursor
keys-delete-word = delete a word back / forward
keys-kill-yank = kill to the start, put back
keys-resend = send failed messages again
keys-search = search all chats (Chinese too)
keys-help = this help (also ? on an empty input)
keys-dismiss = close, cancel a reply
keys-quit = quit

## Lines shared by the modes over the main screen.
keys-choose = choose
keys-open = open it
keys-take-back = take back a typed letter
keys-close = close
keys-this-help = this help

## Each mode: its heading, then its own lines.
keys-mode-picked = A picked message; other keys let go of it and do their job
keys-picked-move = pick an earlier / later one
keys-picked-copy = copy it to the clipboard
keys-picked-reply = reply to it
keys-picked-recall = recall it (mine, within 2 min)
keys-picked-accept = accept a file offered to me
keys-picked-stop = decline or stop a file
keys-picked-open = open a file
keys-picked-close = let go
keys-mode-search = Search results
keys-choose-ten = choose, ten at a time
keys-search-open = show it in its chat
keys-mode-switcher = The switcher; typing filters it
keys-mode-strangers = The list of strangers; typing filters it
keys-mode-verify = Verifying a key
keys-verify-confirm = the codes match: mark verified
keys-verify-close = not now
keys-mode-peer-info = Who is this; other keys do their job
keys-mode-chat-list = The chat list over the messages; other keys do their job
keys-chat-list-move = open the previous / next chat
keys-chat-list-close = close the list
keys-mode-help = This help
keys-help-top = back to the top

## Mistakes in a key written in config.toml's [keys].

keys-bad-key = bad key { $key }: { $why } (e.g. "ctrl-n", "alt-enter", "f1")
keys-bad-empty = empty
keys-bad-modifier = unknown modifier { $modifier }
keys-bad-function = function keys are f1 to f12
keys-bad-unknown = unknown key { $key }
keys-bad-plain = a plain character is for typing; add ctrl- or alt-
