"""Pure functions from bytes to records; cart mail specs and CSV layouts are data files here."""
