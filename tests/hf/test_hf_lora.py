"""LoRA with peft (issue 20 item 3): a PeftModel trains its adapters only; run.save writes the adapters
(a small safetensors file) plus the base model's class and config; loading puts them back onto a base
model given with model=."""

import warnings
import zipfile

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert

import nbtrain
from nbtrain.core.errors import RunFileError

peft = pytest.importorskip("peft", reason="the LoRA tests need peft (pip install 'nbtrain[hf]')")


def _lora(base):
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], modules_to_save=["classifier"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return peft.get_peft_model(base, config)


def test_lora_trains_the_adapters_only_and_saves_them_alone(tokenizer, tmp_path):
    dd = sentiment_dict(tokenizer, n=300)
    torch.manual_seed(0)
    base = tiny_bert(tokenizer)
    frozen_before = {k: v.detach().clone() for k, v in base.state_dict().items() if "classifier" not in k}
    model = _lora(base)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "classifier" in n for n in trainable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(dd, model=model, epochs=4, lr=1e-2, display="none")
    assert run.status == "completed"
    after = model.get_base_model().state_dict()
    for k, v in frozen_before.items():  # the base weights did not move (peft renames the wrapped ones)
        key = k if k in after else k.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        assert torch.equal(after[key], v), k
    path = run.save(tmp_path / "lora.nbtrain")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"adapter.safetensors", "peft_config.json", "hf_model.json"} <= names
        assert "weights.pt" not in names and "weights.safetensors" not in names
        adapter_bytes = z.getinfo("adapter.safetensors").file_size
    full = sum(v.numel() * v.element_size() for v in frozen_before.values())
    assert adapter_bytes < full / 4  # the adapters, not the model

    # loading puts the adapters back onto the same base weights: the same predictions
    torch.manual_seed(0)
    fresh = tiny_bert(tokenizer)
    fresh.load_state_dict(frozen_before, strict=False)  # the base weights the adapters were trained on
    loaded = nbtrain.load(path, model=fresh)
    t = dd["test"].with_format("torch", columns=["input_ids", "attention_mask"])[:8]
    x = {"input_ids": t["input_ids"], "attention_mask": t["attention_mask"]}
    with torch.no_grad():
        want = model.eval()(**x).logits.argmax(1).numpy()
    assert np.array_equal(loaded.predict(x), np.array(["neg", "pos"])[want])


def test_loading_adapters_without_a_base_model_says_what_to_pass(tokenizer, tmp_path):
    dd = sentiment_dict(tokenizer, n=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = nbtrain.train(dd, model=_lora(tiny_bert(tokenizer)), epochs=1, display="none")
    path = run.save(tmp_path / "lora.nbtrain")
    with pytest.raises(RunFileError, match="LoRA adapters only: pass the base model"):
        nbtrain.load(path)
