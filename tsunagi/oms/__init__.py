"""The domain: products, stock, orders, allocation, ledger and outbox; knows nothing of mail or files."""
