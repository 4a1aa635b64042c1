## zh-CN: cli

