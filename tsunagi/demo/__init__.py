"""Sample shops, mails and CSV files: what `tsunagi demo` sends, and what tests and benchmarks build from."""
