## zh-CN: keys

