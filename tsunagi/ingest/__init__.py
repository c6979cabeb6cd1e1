"""How raw input arrives and is made durable: SMTP receiver, spool queue, pipeline."""
