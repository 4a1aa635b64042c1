## zh-CN: app

