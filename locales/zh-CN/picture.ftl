## 聊天中的图片预览（issue 15）：图片为何显示为普通文件。

picture-too-large = 图片过大，无法预览（{ $width }×{ $height } 像素）
picture-over-limits = 图片过大，无法预览
picture-file-too-big = 超过 { $max } MiB，不预览
picture-unsupported = 不支持预览此格式（支持 PNG、JPEG、GIF、WebP、BMP）
picture-damaged = 图片已损坏或不完整
picture-unreadable = 无法读取图片：{ $error }
picture-failed = 无法生成预览
picture-busy = 等待预览的图片过多：下次显示时再试
