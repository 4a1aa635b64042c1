# Groups (issue 14): the system lines a membership change shows, receipts, and the
# members' marks. Names in them come from peers: the caller sanitises them.

group-created = { $who } created the group "{ $name }"
group-added = { $who } added { $whom }
group-left = { $who } left
group-removed = { $who } removed { $whom }
group-renamed = { $who } renamed the group to "{ $name }"
group-handover = { $who } made { $whom } the owner
group-delivered = delivered to { $n }/{ $m }
group-read-by = { $k ->
    [one] read by 1
   *[other] read by { $k }
}
group-all = all
group-owner = owner
group-member-changed = key changed
group-member-unverified = unverified
group-not-member = You are no longer in this group
group-only-owner = Only the owner can do that
group-too-many = A group has at most { $max } members
