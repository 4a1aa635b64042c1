## zh-CN: doctor

