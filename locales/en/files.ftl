# Files and pictures: bubbles, transfers, /send and friends.

files-kind-image = Picture
files-kind-video = Video
files-kind-audio = Audio
files-kind-archive = Archive
files-kind-document = Document
files-kind-other = File

files-preview = [File] { $name }
files-rate = { $rate }/s
files-left = { $time } left
files-status = { $n ->
    [one] 1 file
   *[other] { $n } files
} { $percent }% · { $rate }/s

files-key-hint = { $key } { $what }
files-accept = accept
files-decline = decline
files-open = open
files-hint-accept = { $key } accept
files-hint-stop = { $key } decline/cancel
files-hint-open = { $key } open

files-waiting-for-you = Waiting for you: /accept or /decline
files-waiting-for-answer = Waiting for an answer
files-starting = Accepted; starting when both are online
files-resumes = Accepted; resumes from { $percent }%
files-paused = Paused; it resumes by itself
files-saved-to = Saved to { $path }
files-sent = Sent
files-you-declined = You declined it
files-failed = Failed: { $problem }

files-problem-declined = Declined
files-problem-cancelled = Cancelled
files-problem-peer-cancelled = Cancelled by the other side
files-problem-peer-failed = The other side could not go on
files-problem-disk-full = no space left on this disk
files-problem-peer-disk-full = the receiver's disk is full
files-problem-permission = not allowed to write or read the file here
files-problem-peer-permission = the receiver may not write the file
files-problem-source-unreadable = the sender cannot read the file
files-problem-source-gone = the file is no longer there to send
files-problem-source-changed = the file changed since it was offered
files-problem-unknown = the sender no longer offers it
files-problem-busy = the sender is busy
files-problem-hash-mismatch = the file did not match its checksum and was discarded
files-problem-connection-lost = the connection was lost
files-problem-timed-out = the other side stopped answering
files-problem-protocol = the other side broke the protocol
files-problem-exists = a file with its name is in the way
files-problem-too-large = larger than max_file_size
files-problem-too-many = too many offers waiting
files-problem-not-sent = the offer could not be sent
files-problem-io = reading or writing failed
files-problem-folder = a folder, and lanchat does not take folders yet

files-preparing = Checking { $name } before offering it… { $percent }%
files-saved = Saved { $name }
files-not-sent = A file did not go through: { $reason }
files-not-to-plain = Files go only to lanchat peers (this chat is unencrypted plain text)
files-send-usage = Usage: /send PATH… (Tab completes paths)
files-too-many-paths = At most { $max } files at once
files-no-offer = No file here is waiting for an answer
files-nothing-to-cancel = No file here is being sent or received
files-nothing-to-open = No received file here to open
files-not-a-file = That message is not a file
files-paste-offer = Enter sends this file; Ctrl-U clears it
files-more-candidates = { "  " }(+{ $n } more)
files-no-such-file = No such file: { $path }
files-cannot-read = Not allowed to read { $path }
files-is-a-folder = { $path } is a folder: send the files in it, or an archive of it
files-not-a-regular-file = { $path } is not a regular file
files-too-large-to-send = { $path } is too large to send
files-cannot-send = Cannot send { $path }: { $reason }
files-not-done = Could not do that: { $reason }
files-opening = Opening { $name }…
files-no-opener = No { $opener } here to open files; the file is at { $path }
files-finishing = All through; saving and checking it…
