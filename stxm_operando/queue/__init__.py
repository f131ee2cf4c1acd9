"""bluesky-queueserver integration: a startup module and the command that serves it."""
