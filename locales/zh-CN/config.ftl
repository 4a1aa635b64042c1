## zh-CN: config

