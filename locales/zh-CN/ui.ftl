## zh-CN: ui

