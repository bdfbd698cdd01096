"""Every bad input raises ValueError/TypeError naming the argument, the expected and the actual value."""
import pytest
import torch

import rnnkit

X = torch.randn(5, 3, 4)  # (T=5, B=3, I=4)


def test_input_of_wrong_rank():
    with pytest.raises(ValueError, match=r"LSTM: expected input with 3 dims \(T, B, I\) or 2 dims \(T, I\), "
                                         r"got shape \(5, 3, 4, 1\)"):
        rnnkit.LSTM(4, 6)(X.unsqueeze(-1))
    with pytest.raises(ValueError, match=r"expected input with 3 dims \(B, T, I\)"):
        rnnkit.GRU(4, 6, batch_first=True)(torch.randn(4))


def test_input_not_a_tensor():
    with pytest.raises(TypeError, match="RNN: expected input to be a torch.Tensor, got list"):
        rnnkit.RNN(4, 6)([[1.0]])


def test_wrong_feature_size():
    with pytest.raises(ValueError, match=r"GRU: expected input with 7 features \(input_size\) in its last dim, got 4"):
        rnnkit.GRU(7, 6)(X)


def test_h0_of_wrong_shape():
    with pytest.raises(ValueError, match=r"RNN: expected hx of shape \(2, 3, 6\) .* got \(1, 3, 6\)"):
        rnnkit.RNN(4, 6, num_layers=2)(X, torch.zeros(1, 3, 6))
    with pytest.raises(ValueError, match=r"LSTM: expected c0 of shape \(1, 3, 6\) .* got \(1, 3, 2\)"):
        rnnkit.LSTM(4, 6, proj_size=2)(X, (torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)))
    with pytest.raises(ValueError, match=r"expected hx of shape \(1, 6\)"):
        rnnkit.GRU(4, 6)(X[:, 0], torch.zeros(1, 3, 6))  # unbatched input, batched h0


def test_c0_missing_for_lstm():
    with pytest.raises(TypeError, match=r"LSTM: expected hx as a tuple \(h0, c0\) of 2 tensors, got a Tensor \(c0 missing\)"):
        rnnkit.LSTM(4, 6)(X, torch.zeros(1, 3, 6))
    with pytest.raises(ValueError, match=r"expected hx as a tuple \(h0, c0\) of 2 tensors, got 1"):
        rnnkit.LSTM(4, 6)(X, (torch.zeros(1, 3, 6),))


def test_dtype_mismatch_between_input_and_weights():
    with pytest.raises(TypeError, match=r"LSTM: expected input of dtype torch.float32 \(the dtype of the weights\), "
                                        r"got torch.float64"):
        rnnkit.LSTM(4, 6)(X.double())
    with pytest.raises(TypeError, match="expected hx of dtype torch.float32 .* got torch.float64"):
        rnnkit.GRU(4, 6)(X, torch.zeros(1, 3, 6, dtype=torch.float64))
    with pytest.raises(TypeError, match="expected a floating-point input, got torch.int64"):
        rnnkit.GRU(4, 6)(torch.ones(5, 3, 4, dtype=torch.int64))


def test_device_mismatch():
    with pytest.raises(ValueError, match=r"GRU: expected input on device cpu \(the device of the weights\), got meta"):
        rnnkit.GRU(4, 6)(torch.empty(5, 3, 4, device="meta"))
    with pytest.raises(ValueError, match="expected hx on device cpu .* got meta"):
        rnnkit.GRU(4, 6)(X, torch.empty(1, 3, 6, device="meta"))


@pytest.mark.parametrize("lengths,message", [
    ([5, 6, 2], r"expected every length <= T=5 \(the input's time steps\), got 6"),
    ([5, 0, 2], r"expected every length >= 1, got 0"),
    ([5, -1, 2], r"expected every length >= 1, got -1"),
    ([5, 2], r"expected lengths of shape \(3,\), one per sequence in the batch, got shape \(2,\)"),
], ids=["too-long", "zero", "negative", "wrong-count"])
def test_bad_lengths(lengths, message):
    with pytest.raises(ValueError, match="RNN: " + message):
        rnnkit.RNN(4, 6)(X, lengths=lengths)


def test_lengths_of_wrong_type():
    with pytest.raises(TypeError, match="expected lengths of an integer dtype, got torch.float32"):
        rnnkit.RNN(4, 6)(X, lengths=torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="lengths must be None for a PackedSequence"):
        packed = torch.nn.utils.rnn.pack_padded_sequence(X, [5, 4, 3])
        rnnkit.RNN(4, 6)(packed, lengths=[5, 4, 3])


def test_batch_first_mismatch_detected_from_h0():
    # the caller holds (B=3, T=5, I) data but forgot batch_first=True
    x = torch.randn(3, 5, 4)
    with pytest.raises(ValueError, match=r"its batch size 3 matches the input's dim 0: did you mean batch_first=True\?"):
        rnnkit.GRU(4, 6)(x, torch.zeros(1, 3, 6))
    with pytest.raises(ValueError, match=r"did you mean batch_first=False\?"):
        rnnkit.GRU(4, 6, batch_first=True)(X, torch.zeros(1, 3, 6))  # X is (T=5, B=3, I)


def test_proj_size_not_below_hidden_size():
    with pytest.raises(ValueError, match=r"LSTM: expected proj_size < hidden_size \(6\), got proj_size=6"):
        rnnkit.LSTM(4, 6, proj_size=6)
    with pytest.raises(ValueError, match=r"LSTMCell: expected proj_size < hidden_size \(6\), got 8"):
        rnnkit.LSTMCell(4, 6, proj_size=8)


@pytest.mark.parametrize("dropout", [-0.1, 1.5])
def test_dropout_outside_unit_interval(dropout):
    with pytest.raises(ValueError, match=rf"GRU: expected dropout in \[0, 1\], got {dropout}"):
        rnnkit.GRU(4, 6, num_layers=2, dropout=dropout)


def test_dropout_of_wrong_type():
    with pytest.raises(TypeError, match="expected dropout to be a number in"):
        rnnkit.GRU(4, 6, num_layers=2, dropout="0.5")


def test_unknown_init_lists_valid_names():
    with pytest.raises(ValueError, match="LSTM: unknown init 'glorot'; valid names are default, orthogonal, identity, "
                                         "xavier, chrono"):
        rnnkit.LSTM(4, 6, init="glorot")
    with pytest.raises(TypeError, match="expected init to be a name"):
        rnnkit.LSTM(4, 6, init=3)


def test_unknown_engine_lists_valid_names():
    with pytest.raises(ValueError, match="RNN: unknown engine 'cudnn'; valid values are 'auto', 'native', 'fused', 'triton', 'bptt', 'scan', 'reference'"):
        rnnkit.RNN(4, 6, engine="cudnn")


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'; valid values are 'tanh', 'relu'"):
        rnnkit.RNN(4, 6, nonlinearity="sigmoid")


@pytest.mark.parametrize("kwargs,name", [
    ({"input_size": 4.0, "hidden_size": 6}, "input_size"),
    ({"input_size": 4, "hidden_size": "6"}, "hidden_size"),
    ({"input_size": 4, "hidden_size": 6, "num_layers": 1.5}, "num_layers"),
    ({"input_size": 4, "hidden_size": 6, "proj_size": 2.0}, "proj_size"),
    ({"input_size": True, "hidden_size": 6}, "input_size"),
], ids=["input_size-float", "hidden_size-str", "num_layers-float", "proj_size-float", "input_size-bool"])
def test_non_integer_sizes(kwargs, name):
    with pytest.raises(TypeError, match=f"LSTM: expected {name} to be an int, got"):
        rnnkit.LSTM(**kwargs)


def test_non_positive_sizes():
    with pytest.raises(ValueError, match="GRU: expected hidden_size >= 1, got 0"):
        rnnkit.GRU(4, 0)
    with pytest.raises(ValueError, match="ElmanCell: expected input_size >= 1, got -2"):
        rnnkit.ElmanCell(-2, 3)


def test_bad_spectral_radius():
    with pytest.raises(ValueError, match="RNN: expected spectral_radius > 0, got -1"):
        rnnkit.RNN(4, 6, spectral_radius=-1)
    with pytest.raises(ValueError, match=r"needs square recurrent blocks, got \(6, 2\)"):
        rnnkit.LSTM(4, 6, proj_size=2, spectral_radius=0.9)


def test_cell_input_checks():
    with pytest.raises(ValueError, match=r"GRUCell: expected input with 1 or 2 dims \(\(I,\) or \(B, I\)\), got shape \(5, 3, 4\)"):
        rnnkit.GRUCell(4, 6)(X)
    with pytest.raises(ValueError, match="LSTMCell: expected input with 3 features, got 4"):
        rnnkit.LSTMCell(3, 6)(X[0])
