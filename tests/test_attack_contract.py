"""Every registered attack: finite, deterministic scores on any valid cube; `--attack all` runs them."""

import numpy as np
import pytest
from test_attacks import synthetic_cube

from miabench import scoring
from miabench.cli import main
from miabench.registry import attacks


def three_class_cube():
    logits, labels, plan = synthetic_cube(models=6, examples=240, auxiliary=40)
    rng = np.random.default_rng(1)
    wide = rng.normal(size=(6, 240, 2, 3)).astype(np.float32)  # two views, three classes
    wide[..., 1] += logits[..., 0, 1][..., None]
    return wide, (labels + rng.integers(0, 3, 240)) % 3, plan


@pytest.mark.parametrize("name", attacks.names())
def test_every_attack_gives_finite_deterministic_scores(name):
    logits, labels, plan = three_class_cube()
    first = scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    again = scoring.leave_one_out(attacks.create(name), logits, labels, plan)
    assert first.scores.shape == (6, 240)
    assert np.isfinite(first.scores).all()
    assert np.array_equal(first.scores, again.scores)


def test_attack_all_runs_every_supported_attack(capsys, data_dir, tmp_path):
    code = main(
        ["run", "--attack", "all", "--models", "4", "--param", "epochs=3", "--data-dir", str(data_dir),
         "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    for name in attacks.names():
        assert f"| {name} " in printed
        assert (tmp_path / "out" / name / "result.json").exists()


def test_attack_all_skips_what_the_setting_cannot_run(capsys, data_dir, tmp_path):
    with pytest.warns(UserWarning) as warned:
        code = main(
            ["run", "--attack", "all", "--models", "2", "--param", "epochs=1", "--param", "auxiliary_fraction=0",
             "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"),
             "--quiet"]
        )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| loss " in printed and "| lira " not in printed and "| rmia " not in printed
    skipped = [str(w.message) for w in warned]
    assert "skipped: attack 'lira' needs at least 2 reference model(s)" in "\n".join(skipped)
    assert "skipped: attack 'population' needs auxiliary examples" in "\n".join(skipped)
