"""Timed work: reminders, outbox delivery, state sweeps and retention, run by APScheduler."""
