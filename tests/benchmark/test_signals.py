"""The signals.npz format: a faithful round trip, and a one-line UserError for each malformed file."""

import io
import zipfile

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.signals import MAX_GIB, Signals

K, N, A, C = 4, 12, 2, 3


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "logits": rng.normal(size=(K, N, A, C)).astype(np.float32),
        "labels": rng.integers(0, C, size=N).astype(np.int64),
        "members": MembershipPlan.balanced(K, N, seed).members,
    }


@pytest.mark.parametrize("with_accuracy", [False, True])
def test_round_trip(tmp_path, with_accuracy):
    arrays = _arrays()
    test_logits = np.linspace(0, 1, K * 5 * C, dtype=np.float32).reshape(K, 5, C) if with_accuracy else None
    test_labels = np.arange(5) % C if with_accuracy else None
    signals = Signals(**arrays, test_logits=test_logits, test_labels=test_labels)
    path = tmp_path / "nested" / "signals.npz"
    signals.save(path)
    loaded = Signals.load(path)
    assert loaded.shape == (K, N, A, C)
    assert loaded.logits.dtype == np.float32
    assert loaded.labels.dtype == np.int64
    assert loaded.members.dtype == np.bool_
    np.testing.assert_array_equal(loaded.logits, arrays["logits"])
    np.testing.assert_array_equal(loaded.labels, arrays["labels"])
    np.testing.assert_array_equal(loaded.members, arrays["members"])
    if with_accuracy:
        np.testing.assert_array_equal(loaded.test_logits, test_logits)
        np.testing.assert_array_equal(loaded.test_labels, test_labels)
    else:
        assert loaded.test_logits is None and loaded.test_labels is None


def test_load_accepts_a_plain_numpy_savez(tmp_path):
    arrays = _arrays()
    np.savez(tmp_path / "s.npz", **arrays, extra=np.zeros(3))  # extra arrays are ignored
    loaded = Signals.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(loaded.members, arrays["members"])


def _nan(arrays):
    logits = arrays["logits"].copy()
    logits[1, 2, 0, 1] = np.nan
    return {"logits": logits}


def _inf(arrays):
    logits = arrays["logits"].copy()
    logits[0, 0, 1, 2] = np.inf
    logits[3, 5, 0, 0] = -np.inf
    return {"logits": logits}


def _nan_test_logits(arrays):
    test_logits = np.ones((K, 3, C), np.float32)
    test_logits[2, 1, 0] = np.nan
    return {"test_logits": test_logits, "test_labels": np.zeros(3, np.int64)}


def _out_of_range(arrays):
    labels = arrays["labels"].copy()
    labels[4] = C
    return {"labels": labels}


def _negative_label(arrays):
    labels = arrays["labels"].copy()
    labels[0] = -1
    return {"labels": labels}


# (name, how to change valid arrays, words the message must hold)
MALFORMED = [
    ("logits 3-D", lambda a: {"logits": a["logits"][..., 0]}, ["logits", "4 axes"]),
    ("integer logits", lambda a: {"logits": a["logits"].astype(np.int32)}, ["logits", "dtype int32", "float"]),
    (
        "one model",
        lambda a: {"logits": a["logits"][:1], "members": a["members"][:1]},
        ["1 model", "K >= 2"],
    ),
    ("one class", lambda a: {"logits": a["logits"][..., :1], "labels": a["labels"] * 0}, ["1 class"]),
    ("NaN", _nan, ["1 NaN or infinite"]),
    ("inf", _inf, ["2 NaN or infinite"]),
    ("NaN test_logits", _nan_test_logits, ["test_logits contain 1 NaN or infinite"]),
    ("no views", lambda a: {"logits": a["logits"][:, :, :0]}, ["logits", "no views (A)"]),
    ("no examples", lambda a: {k: v[..., :0] if k != "logits" else v[:, :0] for k, v in a.items()}, ["no examples"]),
    ("labels wrong length", lambda a: {"labels": a["labels"][:-1]}, ["labels", f"[{N}]"]),
    ("float labels", lambda a: {"labels": a["labels"].astype(np.float64)}, ["labels", "float64", "int64"]),
    ("labels out of range", _out_of_range, ["labels", f"0..{C - 1}"]),
    ("negative label", _negative_label, ["labels", f"0..{C - 1}"]),
    ("members int 0/1", lambda a: {"members": a["members"].astype(np.int64)}, ["members", "int64", "bool"]),
    ("members wrong shape", lambda a: {"members": a["members"][:, :-1]}, ["members", f"[{K}, {N}]"]),
    ("members transposed", lambda a: {"members": a["members"].T.copy()}, ["members", f"[{K}, {N}]"]),
    (
        "test_logits wrong shape",
        lambda a: {"test_logits": np.ones((K, 3, C + 1)), "test_labels": np.zeros(3, np.int64)},
        ["test_logits", f"[{K}, 3, {C}]"],
    ),
    ("test_logits alone", lambda a: {"test_logits": np.ones((K, 3, C))}, ["test_logits and test_labels together"]),
    (
        "test_labels out of range",
        lambda a: {"test_logits": np.ones((K, 3, C)), "test_labels": np.full(3, C)},
        ["test_labels", f"0..{C - 1}"],
    ),
]


@pytest.mark.parametrize("change, words", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_file_is_a_user_error(tmp_path, change, words):
    arrays = _arrays()
    arrays.update(change(arrays))
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)  # written raw: Signals.save would fix the dtypes
    with pytest.raises(UserError) as error:
        Signals.load(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message


def test_validate_names_the_source():
    arrays = _arrays()
    arrays["members"] = arrays["members"].astype(np.int8)
    with pytest.raises(UserError, match="^my cube: members has dtype int8"):
        Signals(**arrays).validate("my cube")


@pytest.mark.parametrize("missing", ["members", "labels", "logits"])
def test_missing_array(tmp_path, missing):
    arrays = _arrays()
    del arrays[missing]
    np.savez(tmp_path / "s.npz", **arrays)
    with pytest.raises(UserError, match=f"missing array\\(s\\) {missing};"):
        Signals.load(tmp_path / "s.npz")


def _text(tmp_path):
    path = tmp_path / "signals.npz"
    path.write_text("logits,labels,members\n1,2,3\n")
    return path


def _empty(tmp_path):
    path = tmp_path / "signals.npz"
    path.write_bytes(b"")
    return path


def _npy(tmp_path):
    path = tmp_path / "signals.npy"
    np.save(path, np.zeros((2, 3)))
    return path


def _truncated(tmp_path):
    path = tmp_path / "signals.npz"
    np.savez(path, **_arrays())
    path.write_bytes(path.read_bytes()[:100])
    return path


@pytest.mark.parametrize("write", [_text, _empty, _npy, _truncated])
def test_not_an_npz_file(tmp_path, write):
    path = write(tmp_path)
    with pytest.raises(UserError) as error:
        Signals.load(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    assert "npz" in message


def test_missing_path(tmp_path):
    path = tmp_path / "nowhere" / "signals.npz"
    with pytest.raises(UserError, match="does not exist"):
        Signals.load(path)
    with pytest.raises(UserError, match="does not exist"):
        Signals.load(tmp_path)  # a directory is not a signals file either


def _headers_only(path, layout):
    """A .npz file whose members are .npy headers declaring ``layout`` ({name: (shape, dtype)}) and no data."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (shape, dtype) in layout.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
            )
            archive.writestr(f"{name}.npy", header.getvalue())
    return path


def test_a_file_declaring_more_than_the_cap_is_refused_from_its_headers(tmp_path):
    k, n, a, c = 64, 50_000, 625, 100  # 745 GiB of float32 logits
    layout = {"logits": ((k, n, a, c), np.float32), "labels": ((n,), np.int64), "members": ((k, n), bool)}
    path = _headers_only(tmp_path / "huge.npz", layout)
    assert path.stat().st_size < 1000
    with pytest.raises(UserError) as error:
        Signals.load(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    assert "745.1 GiB" in message and f"over the {MAX_GIB} GiB" in message and "write fewer" in message


def test_shapes_that_disagree_are_refused_before_loading(tmp_path):
    # Headers only: loading any array would fail with "not a readable .npz file".
    layout = {"logits": ((K, N, A, C), np.float32), "labels": ((N,), np.int64), "members": ((K, N + 1), bool)}
    with pytest.raises(UserError, match=f"members has shape \\({K}, {N + 1}\\), expected \\[K, N\\]"):
        Signals.load(_headers_only(tmp_path / "s.npz", layout))
