"""The console's views, one module a page (or a group of its actions); each exposes routes()."""
