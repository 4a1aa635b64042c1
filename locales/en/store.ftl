## The history database's errors (the file is never deleted or changed after one).

store-not-lanchat = { $path }: not a lanchat history database ({ $reason }); the file was left untouched
store-too-new = { $path }: written by a newer lanchat (schema version { $found }, this build knows up to { $known }); the file was left untouched
store-damaged = { $path }: the database is damaged (quick_check: { $detail }); the file was left untouched
store-open = { $path }: cannot open the history database: { $detail }
store-io = { $path }: { $detail }
store-migrate = { $path }: upgrading to schema version { $version } failed: { $detail }
store-write = writing the export failed: { $detail }
store-check-unfinished = the database check did not finish
store-check-failed = cannot check the database: { $detail }

## Words an export adds to the history (Markdown and text).

store-export-me = me
store-export-recalled = (recalled)
