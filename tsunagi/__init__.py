"""tsunagi: Email/CSV ingestion appliance for Japanese multi-channel e-commerce."""
