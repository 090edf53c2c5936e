"""Safe saving of transformers runs (issue 20 item 4): safetensors weights plus the model's config, no
pickle; nbtrain.load rebuilds the model from its config class, by name, executing nothing in the file."""

import json
import zipfile

import numpy as np
import pytest
import torch
from hf_helpers import sentiment_dict, tiny_bert

import nbtrain
from nbtrain.core.errors import RunFileError


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tokenizer):
    dd = sentiment_dict(tokenizer, n=200)
    run = nbtrain.train(dd, model=tiny_bert(tokenizer), epochs=1, display="none")
    path = run.save(tmp_path_factory.mktemp("hf") / "sentiment.nbtrain")
    return run, path, dd


def test_the_run_file_holds_safetensors_and_the_config_and_no_pickle(saved):
    from safetensors.torch import load as st_load

    run, path, _ = saved
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"meta.json", "weights.safetensors", "hf_model.json"} <= names
        assert "weights.pt" not in names and not any(n.endswith(".pkl") for n in names)
        weights = st_load(z.read("weights.safetensors"))  # safetensors' own reader
        model_meta = json.loads(z.read("hf_model.json"))
    state = run.model.state_dict()
    assert set(weights) == set(state)
    assert all(torch.equal(weights[k], state[k].cpu()) for k in state)
    assert model_meta["class"] == "BertForSequenceClassification" and model_meta["config_class"] == "BertConfig"
    assert model_meta["config"]["hidden_size"] == 32


def test_load_rebuilds_the_model_from_its_config_and_predicts_the_same(saved):
    run, path, dd = saved
    loaded = nbtrain.load(path)
    assert type(loaded.model).__name__ == "BertForSequenceClassification"
    assert list(loaded.classes) == ["neg", "pos"]
    t = dd["test"].with_format("torch", columns=["input_ids", "attention_mask"])[:5]
    x = {"input_ids": t["input_ids"], "attention_mask": t["attention_mask"]}
    with torch.no_grad():
        want = run.model.eval()(**x).logits.argmax(1).numpy()
    assert np.array_equal(loaded.predict(x), np.array(["neg", "pos"])[want])


def _rewrite(path, out, **changes):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["hf_model.json"])
    meta.update(changes)
    members["hf_model.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(out, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(**{"class": "os.system"}), "not a class name of transformers; refused"),
        (dict(**{"class": "Popen"}), "transformers exports no class 'Popen'; refused"),
        (dict(**{"class": "BertConfig"}), "are not a transformers model and config"),
        (dict(config="oops"), "hf_model.json is malformed"),
    ],
)
def test_a_tampered_model_description_is_refused(saved, tmp_path, changes, match):
    _, path, _ = saved
    bad = _rewrite(path, tmp_path / "bad.nbtrain", **changes)
    with pytest.raises(RunFileError, match=match):
        nbtrain.load(bad)
