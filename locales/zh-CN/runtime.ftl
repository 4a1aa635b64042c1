## zh-CN: runtime

