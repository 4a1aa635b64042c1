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
group-header = { $name } · { $n ->
    [one] 1 member
   *[other] { $n } members
} · { $online } online
group-header-gone = { $name } · not a member any more
group-members-title = Members · { $close } closes
group-read-by-title = Who has read it · { $close } closes
group-more = … { $n } more
group-me = (you)
group-asking = asking…
group-read-list = Read ({ $k })
group-unread-list = Not read ({ $k })
group-not-delivered = not delivered
group-no-such = Nobody called @{ $name }
group-ambiguous = More than one is called @{ $name }: use the start of the key
group-open-first = Open a group first
group-already-in = They are in this group already
group-all-owner = Only the owner can mention @all
group-read-by-mine = Only for your own messages in a group
group-preview = { $name }: { $text }
group-too-many-groups = You can be in at most { $max } groups
group-cannot-recall = Only your own messages, within 2 minutes
group-refused = Not done: { $reason }
group-name-it = Type the group's name, then Enter
group-no-files = Files cannot go to a group yet
