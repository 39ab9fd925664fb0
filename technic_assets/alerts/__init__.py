"""Alerts after each evening run: the message text, its delivery (Slack webhook, SMTP) and the sensors."""
