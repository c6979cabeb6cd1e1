"""Turning outbox events into files and mails: stock feeds first."""
