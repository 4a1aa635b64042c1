# IP Messenger, iptux and FeiQ peers (issue 16).
ipmsg-shake = (shook the window)
ipmsg-recall = An IP Messenger peer cannot take a recall: what it got, it keeps
ipmsg-away-default = I am away from my desk
ipmsg-away-on = Away: { $text }
ipmsg-away-off = Back: no longer away
ipmsg-preview = IP Messenger, unencrypted
ipmsg-header = { $name } · { $client }, unencrypted
ipmsg-header-offline = { $name } · { $client }, offline, unencrypted
ipmsg-info-client = Client
ipmsg-info-user = User
ipmsg-info-host = Host
ipmsg-info-group = Group
ipmsg-info-encoding = Encoding
ipmsg-info-away = Away
ipmsg-enc-none = none: an IP Messenger peer (unauthenticated)
ipmsg-off = IP Messenger (iptux, FeiQ) is off: cannot use port { $port }: { $detail }
