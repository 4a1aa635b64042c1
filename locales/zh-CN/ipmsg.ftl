# 飞鸽传书（IP Messenger）、iptux 与飞秋联系人（issue 16）。
ipmsg-shake = （发送了窗口抖动）
ipmsg-recall = 飞鸽/飞秋联系人无法撤回：对方已收到的消息会一直保留
ipmsg-away-default = 我暂时不在座位上
ipmsg-away-on = 离开：{ $text }
ipmsg-away-off = 已返回：不再离开
ipmsg-preview = 飞鸽传书，未加密
ipmsg-header = { $name } · { $client }，未加密
ipmsg-header-offline = { $name } · { $client }，离线，未加密
ipmsg-info-client = 客户端
ipmsg-info-user = 用户
ipmsg-info-host = 主机
ipmsg-info-group = 分组
ipmsg-info-encoding = 编码
ipmsg-info-away = 离开
ipmsg-enc-none = 无：飞鸽/飞秋联系人（未验证身份）
ipmsg-off = 飞鸽/飞秋（iptux、FeiQ）已关闭：无法使用端口 { $port }：{ $detail }
