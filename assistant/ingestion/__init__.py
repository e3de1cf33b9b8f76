"""Ingestion: knowledge files → typed clauses (pure parsing functions)."""
from assistant.ingestion.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from assistant.ingestion.pipeline import parse_document, parse_file

__all__ = ["SUPPORTED_SUFFIXES", "LoadError", "load_file", "parse_document", "parse_file"]
