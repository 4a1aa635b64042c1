# 群聊（issue 14）：成员变动的系统消息、回执和成员标记。其中的名字来自对方，由调用方清理。

group-created = { $who } 创建了群聊“{ $name }”
group-added = { $who } 邀请 { $whom } 加入了群聊
group-left = { $who } 退出了群聊
group-removed = { $who } 将 { $whom } 移出了群聊
group-renamed = { $who } 将群名改为“{ $name }”
group-handover = { $who } 将群主转让给 { $whom }
group-delivered = 已送达 { $n }/{ $m }
group-read-by = { $k } 人已读
group-all = 所有人
group-owner = 群主
group-member-changed = 密钥已变
group-member-unverified = 未验证
group-not-member = 你已不在此群聊中
group-only-owner = 只有群主可以这样做
group-too-many = 群聊最多 { $max } 人
