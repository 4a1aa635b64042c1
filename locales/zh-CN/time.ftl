## zh-CN: time

