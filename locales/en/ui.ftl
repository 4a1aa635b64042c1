## en: ui

## The screen is too small to draw.
ui-too-small = Terminal too small ({ $width }×{ $height }): lanchat needs { $min_width }×{ $min_height }

## How a peer's traffic is protected (peer info, F2). $noise names the cipher suite.
ui-enc-held = held: identity changed (other key { $key })
ui-enc-verified = { $noise } · verified
ui-enc-unverified = { $noise } · not verified (/verify)
ui-enc-blocked = blocked: nothing sent or taken (/trust)
ui-enc-no-handshake = no handshake with this key yet
ui-enc-raw = none: a plain-text UDP peer (nc, scripts)

## The sidebar.
ui-sidebar-title = Chats
ui-sidebar-title-narrow = Chats · { $key } closes
ui-sidebar-looking = Looking for peers…
ui-sidebar-no-discovery = Nobody yet. Discovery is off: add peers by address.
ui-mention-mark = @me
ui-preview-draft = [draft] { $text }
ui-preview-raw = plain UDP, unencrypted
ui-preview-empty = no messages yet
ui-preview-mine = You: { $text }
ui-strangers = Strangers ({ $n })
ui-strangers-never-answered = never answered

## The message pane's title.
ui-header-online = { $name } · online · { $addr }
ui-header-offline = { $name } · offline · last at { $addr }
ui-header-raw = { $name } · plain UDP, unencrypted
ui-header-raw-folded = { $name } · plain UDP, unencrypted · one of { $n } strangers (/strangers)

## The message pane with no conversation: three paragraphs.
ui-guide-none = No conversations yet.
ui-guide-discovery = Peers running lanchat on your network appear on the left by themselves. To reach one that discovery cannot see, type /add HOST:PORT.
ui-guide-no-discovery = Discovery is off (--no-discovery, or discovery = false), so nobody appears by themselves: type /add HOST:PORT to reach a peer by address.
ui-guide-plain = Plain-text UDP works too: nc -u { $host } { $port } sends straight into a chat here.
ui-say-hello = Say hello to { $name }.
## Scrolled up; the key that goes back down follows in parentheses.
ui-more-below = ↓ more below
ui-new-below = { $n ->
    [one] 1 new message ↓
   *[other] { $n } new messages ↓
}

## A message of mine: its delivery state.
ui-state-queued = queued
ui-state-sending = sending…
ui-state-sent = sent
ui-state-delivered = ✓ delivered
ui-state-read = ✓✓ read
ui-state-failed = ✗ failed
ui-recalled-mine = You recalled a message
ui-recalled-theirs = { $name } recalled a message
## The line above a reply.
ui-quote-recalled = (a recalled message)
ui-quote-me = You
ui-quote = ↱ { $who }: { $excerpt }
ui-quote-claimed = ↱ { $sender } quotes: { $excerpt }

## The input box.
ui-input-to = To { $name }
ui-input-none = Message
ui-reply-to-self = yourself
ui-replying = ↱ Replying to { $who }: { $excerpt }

## The status line: who I am, and hints of the keys that help now ($key is a key's name).
ui-status-key = key { $fp }
ui-status-online = { $n } online
ui-hint-help = { $key } help
ui-hint-search = { $key } search
ui-hint-quit = { $key } quit
ui-hint-doctor = nobody here? run: lanchat doctor
ui-hint-chats = { $key } chats
ui-hint-copy = { $key } copy
ui-hint-reply = { $key } reply
ui-hint-close = { $key } close
ui-hint-send = { $key } send
ui-hint-newline = { $key } newline
ui-hint-resend = { $key } resend
ui-hint-open = { $key } open
ui-hint-confirm = { $key } confirm
ui-hint-cancel-reply = { $key } cancel reply

## Search results.
ui-search-pending = Searching for “{ $query }”…
ui-search-title = “{ $query }”: { $n } found · ↑↓ choose · { $open } opens · { $close } closes
ui-search-none = Nothing found.

## The quick switcher and the list of strangers.
ui-switcher-strangers = Strangers ({ $n }) · { $open } opens · { $filter }▏
ui-switcher-title = Go to: { $filter }▏
ui-switcher-none = No conversation matches.

## /verify.
ui-verify-title = Verify { $name }
ui-verify-read = Read this code to { $name } (in person, by phone):
ui-verify-yours = Your key
ui-verify-theirs = Their key
ui-verify-keys = { $confirm }: the same on both screens, mark verified · { $close }: not now

## Who is this (F2).
ui-info-title = Who is this · { $close } closes
ui-info-shown-as = Shown as
ui-info-calls-itself = Calls itself
ui-info-address = Address
ui-info-status = Status
ui-info-online = online
ui-info-offline = offline
ui-info-last-seen = Last seen
ui-info-now = now
ui-info-never = never
ui-info-key = Key
ui-info-fingerprint = Fingerprint
ui-info-encryption = Encryption

## The help overlay.
ui-help-title = Keys and commands · { $close } closes
ui-help-title-scroll = Keys and commands { $from }–{ $to } of { $total } · ↑↓ PgUp PgDn · { $close } closes
