"""Timed work: reminders, outbox delivery, state sweeps, survey links and retention, run by
APScheduler."""
