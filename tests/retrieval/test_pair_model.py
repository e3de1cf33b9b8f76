"""The served pair model (ONNX Runtime, no torch) computes what the trained torch model computes:
the trained layers and head, dropped into the rebuilt e5, give the same logits and token offsets."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.environ.get("ASSISTANT_TEST_CHROMA_SERVER", "").strip() in ("1", "true", "yes"), reason="no Chroma involved")

QUESTION = "北京市对于因疫情影响暂停举办的展会项目有何支持政策？"
PASSAGES = [
    "北京市关于应对疫情的若干措施｜一、支持展会\n如年内继续在京举办且参展中小微企业数量超过参展企业总数50%的，按照不超过实际缴纳场租费用50%的标准给予支持。",
    "短文本",
]


@pytest.fixture(scope="module")
def model_dir():
    from assistant.retrieval.e5_build import build_model_dir

    return build_model_dir()


@pytest.mark.parametrize("objective", ["rerank", "read"])
def test_onnx_pair_model_matches_torch(model_dir, tmp_path, objective):
    torch = pytest.importorskip("torch")
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from assistant.retrieval.pair_model import PairModel, read_spec
    from assistant.training.data import PairExample
    from assistant.training.encoder import PairEncoder
    from assistant.training.train import TrainConfig, _pad, featurize, save_weights

    state = load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    torch.manual_seed(0)
    model = PairEncoder.from_state(state, config, depth=3, trainable=1).eval()
    with torch.no_grad():
        for p in model.upper_parameters():
            p.add_(torch.randn_like(p) * 0.05)
        for p in model.layer[2].parameters():
            p.copy_(p.half().float())  # the layers ship in fp16
    weights = tmp_path / f"{objective}.safetensors"
    save_weights(model, TrainConfig(objective=objective, max_tokens=48), weights)
    assert read_spec(weights).depth == 3 and read_spec(weights).objective == objective
    assert weights.stat().st_size < 8_000_000  # one layer and a head: what the repository carries

    features = featurize([PairExample(group="g", question=QUESTION, passage=p, label=1) for p in PASSAGES],
                         Tokenizer.from_file(str(model_dir / "tokenizer.json")), 48)
    ids, mask = _pad(features.ids)
    with torch.no_grad():
        rank, span = model.forward_upper(model.forward_lower(ids, mask), mask)
    out = PairModel(weights, model_dir.parent, precision="fp32").run(QUESTION, PASSAGES)
    assert out.offsets == features.offsets
    if objective == "rerank":
        assert np.allclose(out.rank, rank.numpy(), atol=1e-4)
    else:
        for i, row in enumerate(features.ids):
            assert np.allclose(out.span[i], span[i, : len(row)].numpy(), atol=1e-4)
    # the long passage was cut to 48 tokens on its side only; its offsets point into the passage
    a, b = next(o for o in out.offsets[0] if o[0] >= 0)
    assert PASSAGES[0][a:b].strip() and len(out.offsets[0]) == 48
