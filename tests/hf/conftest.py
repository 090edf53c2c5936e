"""The Hugging Face tests skip (with the reason) where transformers or datasets is missing."""

import pytest

pytest.importorskip("transformers", reason="the Hugging Face tests need transformers (pip install 'nbtrain[hf]')")
pytest.importorskip("datasets", reason="the Hugging Face tests need datasets (pip install 'nbtrain[hf]')")

import datasets
from hf_helpers import make_tokenizer

datasets.disable_progress_bars()


@pytest.fixture(scope="session")
def tokenizer():
    return make_tokenizer()
