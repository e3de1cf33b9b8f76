"""Answering: intent detection, follow-up resolution, the extractive composer, refusals."""
