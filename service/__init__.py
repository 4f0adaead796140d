"""Samkons service: the domain of joint consultations, its storage, HTTP API and app assembly."""
