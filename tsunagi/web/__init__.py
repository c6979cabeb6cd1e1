"""The staff's web console: a presentation layer beside the CLI, calling the same domain functions."""
