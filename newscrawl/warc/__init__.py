"""WARC archives: recording crawls, replaying them offline."""
