"""The ground floor: clock, durable files, Japanese text and codecs, file-transfer sessions; imports nothing of ours."""
