## Picture previews in the chat (issue 15): why a picture shows as a plain file bubble.

picture-too-large = too large to preview ({ $width }×{ $height } pixels)
picture-over-limits = too large to preview
picture-file-too-big = larger than { $max } MiB: not previewed
picture-unsupported = not a picture lanchat previews (PNG, JPEG, GIF, WebP, BMP)
picture-damaged = the picture is damaged or incomplete
picture-unreadable = cannot read the picture: { $error }
picture-failed = the preview could not be made
picture-busy = too many pictures waiting: shown when next in view
