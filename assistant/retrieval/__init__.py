"""Retrieval: embedders, the embedding cache, the Chroma-backed index."""
from assistant.retrieval.embedders import Embedder, get_embedder
from assistant.retrieval.index import KnowledgeIndex, ingest

__all__ = ["Embedder", "KnowledgeIndex", "get_embedder", "ingest"]
