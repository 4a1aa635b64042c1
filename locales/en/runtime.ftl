## en: runtime

## Errors that end the program (printed on exit).
runtime-open-history = cannot open the message history
runtime-start-history = cannot start the message history
runtime-terminal-setup = could not set up the terminal
runtime-terminal-read = could not read the terminal
runtime-terminal-reading = reading the terminal
runtime-no-sockets = could not open UDP sockets on { $bind } (port { $port })
runtime-no-sockets-default = could not open UDP sockets on { $bind } (port default)

## Notices on the status line ($detail and $error are what the system said).
runtime-probing = Probing { $addr } ({ $query }) for a lanchat peer…
# When what was typed is already the address.
runtime-probing-addr = Probing { $addr } for a lanchat peer…
runtime-add-peer-failed = cannot add peer: { $error }
runtime-no-ipv4 = { $query }: no IPv4 address
runtime-recall-not-sent = The recall was not sent: { $error }
runtime-discovery-off = discovery is off: cannot use port { $port }: { $detail }
runtime-send-failed = send failed: { $detail }
runtime-known-peers-not-saved = could not save known peers: { $detail }
runtime-store-behind = history not saved: the store is behind or gone
runtime-plain-flood = plain text is arriving faster than it can be saved (a flood?): some is dropped

## lanchat export.
runtime-read-peers = cannot read peers
## $who is what was asked for, in quotes.
runtime-export-ambiguous = { $who } names several peers; use an id
runtime-export-unknown = no conversation with { $who } (a peer name, a peer id, or ip:port)
runtime-export-failed = export failed
runtime-export-write = cannot write the export
