"""LanguageModel: shapes, weight tying, resets, full-text evaluation; sampling."""
import math

import pytest
import torch

from rnnkit.models import LanguageModel, evaluate_nats, sample


def test_logits_shape_state_and_tied_weights():
    torch.manual_seed(0)
    lm = LanguageModel(11, 6, 6, num_layers=2, tie_weights=True)
    logits, (h, c) = lm(torch.randint(11, (7, 3, 1)))
    assert logits.shape == (7, 3, 11) and h.shape == c.shape == (2, 3, 6)
    assert lm.head.weight is lm.embed.weight
    with pytest.raises(ValueError, match="tie_weights needs embed_size == hidden_size, got embed_size=4"):
        LanguageModel(11, 4, 6, tie_weights=True)
    with pytest.raises(ValueError, match="expected int64 ids of shape \\(T, B\\) or \\(T, B, 1\\), got torch.float32"):
        lm(torch.zeros(7, 3))


def test_a_reset_restarts_one_sample_as_if_from_scratch():
    torch.manual_seed(0)
    lm = LanguageModel(5, 3, 4, cell="gru").double()
    ids = torch.randint(5, (6, 2))
    resets = torch.zeros(6, 2, dtype=torch.bool)
    resets[3, 1] = True
    logits, _ = lm(ids, None, resets)
    fresh, _ = lm(ids[3:, 1:])
    assert torch.allclose(logits[3:, 1:], fresh, atol=1e-12)
    assert torch.allclose(logits[:, :1], lm(ids[:, :1])[0], atol=1e-12)


def test_evaluate_nats_carries_the_state_through_the_text():
    torch.manual_seed(0)
    lm = LanguageModel(5, 3, 4)
    ids = torch.randint(5, (41,))
    by_chunks = evaluate_nats(lm, ids, lanes=1, length=7)
    logits, _ = lm(ids[:-1, None])
    whole = torch.nn.functional.cross_entropy(logits[:, 0], ids[1:]).item()
    assert by_chunks == pytest.approx(whole, rel=1e-5)
    assert evaluate_nats(LanguageModel(5, 3, 4), ids, lanes=4) == pytest.approx(math.log(5), abs=0.3)


def test_sampling_is_seeded_greedy_at_zero_temperature_and_respects_top_k_and_exclude():
    torch.manual_seed(0)
    lm = LanguageModel(9, 4, 8)
    prompt = torch.tensor([1, 2, 3])
    a = sample(lm, prompt, 20, temperature=1.0, seed=3)
    assert a.shape == (20,) and torch.equal(a, sample(lm, prompt, 20, temperature=1.0, seed=3))
    greedy = sample(lm, prompt, 5, temperature=0)
    logits, _ = lm(prompt[:, None])
    assert greedy[0] == logits[-1, 0].argmax()
    top1 = sample(lm, prompt, 5, temperature=2.0, top_k=1, seed=9)
    assert torch.equal(top1, greedy)
    assert 0 not in sample(lm, prompt, 50, temperature=5.0, exclude=(0,)).tolist()
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"expected a finite temperature >= 0, got {bad}"):
            sample(lm, prompt, 3, temperature=bad)
    with pytest.raises(ValueError, match="expected a finite temperature >= 0, got -1"):
        sample(lm, prompt, 5, temperature=-1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(cell="nope"),
     "LanguageModel: unknown cell 'nope'; valid values are 'rnn', 'tanh', 'relu', 'lstm', 'gru', 'mingru', 'minlstm'"),
    (dict(dropout=2.0), "LanguageModel: expected dropout in [0, 1], got 2.0"),
])
def test_bad_settings_are_refused_naming_the_class_and_the_setting(kwargs, message):
    with pytest.raises(ValueError) as exc:
        LanguageModel(10, 4, 4, **kwargs)
    assert str(exc.value) == message
