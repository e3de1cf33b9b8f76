"""The rebuilt e5 encoder in torch, for training only: a pair (question, passage) goes through the
first `depth` layers; the lower ones stay frozen (their outputs can be computed once and cached),
the top `trainable` ones and the heads learn. Parameter names are Hugging Face XLMRobertaModel's, so
a trained layer drops into the state dict the ONNX graph is built from (assistant/retrieval/pair_model.py).

Written here rather than taken from transformers: its attention-mask API changed between releases, and
this module must compute exactly what the ONNX graph computes."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

EPS = 1e-12



class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.self = nn.ModuleDict({"query": nn.Linear(hidden, hidden), "key": nn.Linear(hidden, hidden), "value": nn.Linear(hidden, hidden)})
        self.output = nn.ModuleDict({"dense": nn.Linear(hidden, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=EPS)})

    def forward(self, x: torch.Tensor, mask: torch.Tensor, dropout: float) -> torch.Tensor:
        b, t, h = x.shape
        split = lambda y: y.view(b, t, self.heads, h // self.heads).transpose(1, 2)  # noqa: E731
        q, k, v = (split(self.self[n](x)) for n in ("query", "key", "value"))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout if self.training else 0.0)
        ctx = ctx.transpose(1, 2).reshape(b, t, h)
        out = F.dropout(self.output["dense"](ctx), dropout, self.training)
        return self.output["LayerNorm"](out + x)


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.attention = Attention(hidden, heads)
        self.intermediate = nn.ModuleDict({"dense": nn.Linear(hidden, ffn)})
        self.output = nn.ModuleDict({"dense": nn.Linear(ffn, hidden), "LayerNorm": nn.LayerNorm(hidden, eps=EPS)})

    def forward(self, x: torch.Tensor, mask: torch.Tensor, dropout: float = 0.0) -> torch.Tensor:
        x = self.attention(x, mask, dropout)
        y = F.gelu(self.intermediate["dense"](x))
        y = F.dropout(self.output["dense"](y), dropout, self.training)
        return self.output["LayerNorm"](y + x)


class PairEncoder(nn.Module):
    """Embeddings + `depth` layers + a relevance head on the first token (<s>) and a start/end head
    on every token. `forward_lower` runs the frozen part, `forward_upper` the trained part."""

    def __init__(self, config: dict, depth: int, trainable: int, dropout: float = 0.1) -> None:
        super().__init__()
        if not 1 <= trainable <= depth <= config["num_hidden_layers"]:
            raise ValueError(f"need 1 <= trainable ({trainable}) <= depth ({depth}) <= {config['num_hidden_layers']}")
        H = config["hidden_size"]
        self.depth, self.trainable, self.dropout = depth, trainable, dropout
        self.word = nn.Embedding(config["vocab_size"], H)
        self.position = nn.Embedding(config["max_position_embeddings"], H)
        self.token_type = nn.Embedding(config["type_vocab_size"], H)
        self.emb_norm = nn.LayerNorm(H, eps=EPS)
        self.layer = nn.ModuleList(Layer(H, config["num_attention_heads"], config["intermediate_size"]) for _ in range(depth))
        self.rank = nn.Linear(H, 1)
        self.span = nn.Linear(H, 2)
        nn.init.normal_(self.rank.weight, std=0.02), nn.init.zeros_(self.rank.bias)
        nn.init.normal_(self.span.weight, std=0.02), nn.init.zeros_(self.span.bias)

    # ------------------------------------------------------------------ weights

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], config: dict, depth: int, trainable: int, dropout: float = 0.1) -> "PairEncoder":
        model = cls(config, depth, trainable, dropout)
        own = {
            "word.weight": "embeddings.word_embeddings.weight",
            "position.weight": "embeddings.position_embeddings.weight",
            "token_type.weight": "embeddings.token_type_embeddings.weight",
            "emb_norm.weight": "embeddings.LayerNorm.weight",
            "emb_norm.bias": "embeddings.LayerNorm.bias",
        }
        tensors = {}
        for name in model.state_dict():
            if name.startswith(("rank.", "span.")):
                continue
            source = own.get(name) or "encoder." + name
            tensors[name] = torch.from_numpy(np.ascontiguousarray(state[source], dtype=np.float32))
        model.load_state_dict(tensors, strict=False)
        for p in model.parameters():
            p.requires_grad = False
        for p in model.upper_parameters():
            p.requires_grad = True
        return model

    def upper_parameters(self):
        for layer in self.layer[self.depth - self.trainable :]:
            yield from layer.parameters()
        yield from self.rank.parameters()
        yield from self.span.parameters()

    def trained_state(self, heads: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The trained layers under their Hugging Face names, plus the heads asked for: what ships."""
        out = {}
        for i in range(self.depth - self.trainable, self.depth):
            for name, value in self.layer[i].state_dict().items():
                out[f"encoder.layer.{i}.{name}"] = value.detach().cpu().numpy().astype(np.float32)
        for head in heads:
            for name, value in getattr(self, head).state_dict().items():
                out[f"head.{head}.{name}"] = value.detach().cpu().numpy().astype(np.float32)
        return out

    # ------------------------------------------------------------------ forward

    @staticmethod
    def attention_mask(mask: torch.Tensor) -> torch.Tensor:
        """[batch, tokens] 0/1 → an additive [batch, 1, 1, tokens] mask (padding never attended)."""
        return ((1.0 - mask[:, None, None, :].float()) * -1e4).to(torch.float32)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(2, ids.shape[1] + 2, device=ids.device)[None, :]  # XLM-R numbers from padding_idx + 1
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))
        return self.emb_norm(x)

    @torch.no_grad()
    def forward_lower(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x, m = self.embed(ids), self.attention_mask(mask)
        for layer in self.layer[: self.depth - self.trainable]:
            x = layer(x, m)
        return x

    def forward_upper(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(relevance logit [batch], start/end logits [batch, tokens, 2]; padding at -inf)."""
        m = self.attention_mask(mask)
        x = hidden
        for layer in self.layer[self.depth - self.trainable :]:
            x = layer(x, m, self.dropout if self.training else 0.0)
        rank = self.rank(x[:, 0]).squeeze(-1)
        span = self.span(x).masked_fill(~mask.bool()[..., None], -math.inf)
        return rank, span
