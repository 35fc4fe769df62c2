"""Published signal cubes: export a real run's cube, push and pull it through a local-folder stand-in of the Hub,
score attacks on it by task name, and get the records (and board entries) the run itself gives."""

import dataclasses
import fnmatch
import json
import re
import shlex
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from huggingface_hub import DatasetCard

import miabench
from miabench import cli, cubes, engine, harness, runner
from miabench.atomic import write_json
from miabench.cache import config_hash
from miabench.errors import UserError
from miabench.leaderboard import entries, hub, ledger, submit, validate, verify
from miabench.record import CubeSource, Package
from miabench.registry import attacks, tasks
from miabench.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]
TOY = Path(__file__).resolve().parent / "toy_attack"  # a third-party attack package, as an author publishes one
TOY_PACKAGE = Package(name="miabench-toy-attack", version="0.1.0")
SECRET = "hf_do_not_print_this_token"
SMALL = {"models": 4, "params": {"epochs": 1}}  # a real location run in seconds
# What differs between a run's record and the same models' record scored from their cube.
WHEN_AND_WHERE = {"created", "timings", "scores_file", "cube"}


class FolderHub:
    """The Hub as a local folder: each commit a full snapshot named by a 40-hex sha, as snapshot_download returns."""

    def __init__(self, root: Path, fail: bool = False):
        self.root, self.fail, self.commits, self.calls = root, fail, [], []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_commit(self, repo_id, operations, commit_message, repo_type, create_pr):
        if self.fail:
            raise RuntimeError(f"401 Client Error: Unauthorized (token {SECRET})")
        self.calls.append(("create_commit", repo_id, repo_type, create_pr))
        sha = f"{len(self.commits) + 1:040x}"
        target = self.root / repo_id / sha
        if self.commits:
            shutil.copytree(self.root / repo_id / self.commits[-1], target)
        for op in operations:
            (target / op.path_in_repo).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(op.path_or_fileobj, target / op.path_in_repo)
        self.commits.append(sha)
        return SimpleNamespace(commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{sha}", pr_url=None)

    def snapshot_download(self, repo_id, repo_type, allow_patterns=None, revision=None):
        assert repo_type == "dataset"
        sha = revision or self.commits[-1]
        source = self.root / repo_id / sha
        if not source.is_dir():
            raise RuntimeError(f"404 Revision Not Found for {repo_id}@{sha}")
        out = self.root.parent / "downloaded" / sha
        for path in source.rglob("*"):
            relative = path.relative_to(source).as_posix()
            if path.is_file() and (allow_patterns is None or any(fnmatch.fnmatch(relative, p) for p in allow_patterns)):
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out / relative)
        return str(out)


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    """A real location run (K = 4, one epoch), its cache and its exported cube."""
    root = tmp_path_factory.mktemp("cubes")
    records = miabench.evaluate(task="location", attacks=["loss", "lira"], track="cpu", data_dir=data_dir,
                                out=root / "run", cache_dir=root / "cache", progress=False, **SMALL)  # fmt: skip
    folder = cubes.export(root / "run", root / "exported", root / "cache")
    return SimpleNamespace(root=root, records={r.attack.name: r for r in records}, folder=folder)


@pytest.fixture
def folder_hub(tmp_path, monkeypatch):
    fake = FolderHub(tmp_path / "hub")
    monkeypatch.setattr(hub, "snapshot_download", fake.snapshot_download)
    return fake


@pytest.fixture
def toy_installed(tmp_path, monkeypatch):
    """The toy package of ``toy_attack/`` as pip installs it: its module and a dist-info naming its entry point
    on sys.path, read by a registry that loads again (and forgets it after the test)."""
    dist = tmp_path / "site" / f"miabench_toy_attack-{TOY_PACKAGE.version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {TOY_PACKAGE.name}\nVersion: {TOY_PACKAGE.version}\n")
    (dist / "entry_points.txt").write_text("[miabench.attacks]\ntoy-installed = toy_mia_attack:MarginAttack\n")
    monkeypatch.syspath_prepend(str(TOY))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for field in ("_entries", "_packages"):
        monkeypatch.setattr(attacks, field, dict(getattr(attacks, field)))
    monkeypatch.setattr(attacks, "_loaded", False)
    assert attacks.package("toy-installed") == (TOY_PACKAGE.name, TOY_PACKAGE.version)


@pytest.fixture
def published(run, folder_hub, monkeypatch):
    """The run's cube pushed to the (folder) Hub's standard repo, its commit pinned by the task version."""
    cubes.push(run.root / "exported", cubes.REPO, api=folder_hub)
    task_class = tasks.entry("location").component_class
    pinned = dataclasses.replace(task_class.metadata, cubes_revision=folder_hub.commits[-1])
    monkeypatch.setattr(task_class, "metadata", pinned)
    return folder_hub.commits[-1]


def same_record(ours, theirs) -> None:
    """Everything but when, where and from what file the two records were made is equal."""
    a, b = ours.model_dump(), theirs.model_dump()
    for data in (a, b):
        data["task"].pop("data_source")
    assert {key: value for key, value in a.items() if key not in WHEN_AND_WHERE} == {
        key: value for key, value in b.items() if key not in WHEN_AND_WHERE
    }


def test_export_writes_the_cube_plan_config_and_a_hub_dataset_card(run):
    folder = run.folder
    assert folder.relative_to(run.root / "exported").parts[:2] == ("cpu", "location")
    assert {path.name for path in folder.iterdir()} == {"signals.npz", "plan.npz", "groups.npz", "config.json",
                                                         "README.md"}  # fmt: skip
    cube = cubes.load(folder)
    lira = run.records["lira"]
    assert cube.key == lira.timings.cache_key
    assert cube.config["task"]["version"] == "1.0" and cube.config["data_fingerprint"] == lira.task.data_fingerprint
    assert cube.config["recipe"]["epochs"] == 1 and cube.config["defense"]["name"] == "none"
    assert cube.config["seed"] == 0 and cube.run["track"]["name"] == "cpu"
    with np.load(folder / "plan.npz") as plan:
        assert np.array_equal(plan["members"], cube.signals.members) and int(plan["models"]) == 4
    assert cube.signals.test_logits.shape[:2] == (4, 1000)
    card = DatasetCard.load(folder / "README.md")  # the Hub's own parser of the front matter
    assert card.data.license == "other" and card.data.license_name == "none-stated"
    assert "location 1.0" in card.data.pretty_name and "membership-inference" in card.data.tags
    assert "@inproceedings{shokri2017membership" in card.text and "miabench score --cube" in card.text
    assert cube.config["data_fingerprint"] in card.text and "| signals.npz | logits | [4, 4010, 1, 30] |" in card.text


def test_records_scored_from_the_cube_are_the_runs(run, tmp_path):
    scored = cubes.score(cubes.load(run.folder), ["loss", "lira"], out=tmp_path / "scored")
    for record in scored:
        same_record(record, run.records[record.attack.name])
        assert record.config_hash == run.records[record.attack.name].config_hash
        assert record.task.data_source.startswith(f"signals cube local folder {run.folder}")
        assert record.cube.repo is None and record.cube.path == run.folder.relative_to(run.root / "exported").as_posix()
    assert (tmp_path / "scored" / "lira" / "scores.npz").is_file()


def test_push_then_pull_gives_the_same_cube_and_records_naming_it(run, tmp_path, folder_hub):
    url = cubes.push(run.root / "exported", "org/cubes", create_pr=True, api=folder_hub)
    sha = folder_hub.commits[-1]
    assert url.endswith(sha) and ("create_commit", "org/cubes", "dataset", True) in folder_hub.calls
    (pulled,) = cubes.pull("org/cubes", tmp_path / "pulled", sha)
    relative = run.folder.relative_to(run.root / "exported")
    assert pulled == tmp_path / "pulled" / relative
    (record,) = cubes.score(cubes.load(pulled), ["lira"])
    same_record(record, run.records["lira"])
    assert f"hf://datasets/org/cubes@{sha}/{relative.as_posix()}" in record.task.data_source
    assert cubes.load(run.folder).source.split("sha256 ")[1] in record.task.data_source  # which file, exactly
    sha256 = cubes.load(run.folder).origin["sha256"]
    assert record.cube == CubeSource(repo="org/cubes", revision=sha, path=relative.as_posix(), sha256=sha256)


def test_a_refused_push_is_one_line_without_the_token(run, monkeypatch, capsys, tmp_path):
    import huggingface_hub

    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda: FolderHub(tmp_path, fail=True))
    assert cli.main(["signals", "push", str(run.root / "exported"), "--repo", "org/cubes"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "cannot publish to org/cubes" in err and SECRET not in out + err


def test_a_damaged_or_edited_cube_is_refused_in_one_line(run, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(run.folder, damaged)
    with open(damaged / "signals.npz", "r+b") as handle:
        handle.seek(200)
        handle.write(b"\0" * 8)
    with pytest.raises(UserError, match="signals.npz is missing or not the file config.json names") as error:
        cubes.load(damaged)
    assert "\n" not in str(error.value)
    edited = tmp_path / "edited"
    shutil.copytree(run.folder, edited)
    text = (edited / "config.json").read_text().replace('"seed": 0', '"seed": 1')
    (edited / "config.json").write_text(text)
    with pytest.raises(UserError, match="does not hash to its cache key"):
        cubes.load(edited)
    with pytest.raises(UserError, match="not a miabench cube folder"):
        cubes.load(tmp_path)


def test_a_serving_defense_scores_the_same_models_and_a_training_one_is_refused(run):
    (rounded,) = cubes.score(cubes.load(run.folder), ["loss"], defense="rounding")
    assert rounded.defense.name == "rounding" and "--defense rounding" in rounded.scores_file.command
    assert rounded.config_hash == run.records["loss"].config_hash  # the board's: same models, told apart by name
    with pytest.raises(UserError, match="defense 'dpsgd' .* did not train the models"):
        cubes.score(cubes.load(run.folder), ["loss"], defense="dpsgd")


def test_score_by_name_pulls_the_cube_at_the_task_versions_pin(run, tmp_path, published):
    (record,) = cubes.score_by(["lira"], {"epochs": 1}, tmp_path / "out", task="location", models=4,
                               cache_dir=tmp_path / "cache")  # fmt: skip
    same_record(record, run.records["lira"])
    assert (tmp_path / "cache" / "cubes" / run.folder.relative_to(run.root / "exported") / "signals.npz").is_file()
    shutil.rmtree(tmp_path / "hub")  # offline now: the local store answers
    (again,) = cubes.score_by(["lira"], {"epochs": 1}, None, task="location", models=4, cache_dir=tmp_path / "cache")
    assert again.config_hash == record.config_hash


def test_score_by_name_without_a_cube_says_how_to_make_it(capsys, tmp_path):
    argv = ["score", "--task", "location", "--attack", "loss", "--models", "4", "--param", "epochs=1",
            "--cache-dir", str(tmp_path), "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no revision of miabench/signal-cubes is pinned for task version 1.0" in err
    assert f"'miabench run --task location --attack loss --models 4 --seed 0 --track cpu --param location.epochs=1 " \
           f"--out RUN --cache-dir {tmp_path}'" in err and "miabench signals export RUN" in err  # fmt: skip


@pytest.mark.parametrize("attack", ["lira", "loss", "rmia"])
def test_a_standard_setting_named_without_data_has_the_board_rows_config_hash(attack):
    """The key is computed from the pinned data alone, and the scored record's hash is the board row's."""
    (path,) = (ROOT / "leaderboard" / "entries" / "cpu" / "location").glob(f"{attack}--none--*.json")
    entry = entries.read(path)
    config, _, track = cubes.setting_key(RunSpec(task="location", attacks=(attack,), track="cpu"))
    assert track == "cpu" and config["models"] == 16 and config["recipe"]["epochs"] == 30
    assert config_hash({**config, "attack": {"name": attack, "params": entry.attack.params}}) == entry.config_hash


def test_standard_exports_each_committed_cpu_run_once_ready_to_push(run, data_dir, tmp_path):
    committed = tmp_path / "results" / "cpu" / "location-small"
    for name in ("loss", "lira"):  # two records of one cube: one folder
        (committed / name).mkdir(parents=True)
        shutil.copyfile(run.root / "run" / name / "result.json", committed / name / "result.json")
    (folder,) = cubes.standard(tmp_path / "out", tmp_path / "results", data_dir, run.root / "cache")
    assert folder.relative_to(tmp_path / "out") == run.folder.relative_to(run.root / "exported")
    assert cubes.load(folder).signals.logits.tobytes() == cubes.load(run.folder).signals.logits.tobytes()


def readme_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Compare a new attack in a minute")[1].split("\n## ")[0]
    return re.search(r"```bash\n(.+?)\n```", section, flags=re.DOTALL).group(1).splitlines()


def no_training(monkeypatch) -> None:
    """Make any training (or a harness run, which may train) fail the test."""

    def trains(*args, **kwargs):
        raise AssertionError("something trained: a cube entry is verified from its cube alone")

    for module, name in ((runner, "run"), (harness, "train_all"), (harness, "fit_group"), (engine, "train")):
        monkeypatch.setattr(module, name, trains)


def test_the_readme_compare_section_end_to_end(run, tmp_path, published, toy_installed, monkeypatch, capsys):
    """The README's commands, with the toy package installed: score by name from the published cube, submit,
    validate, build the board; then the maintainer verifies it from the pulled cube alone (nothing trains)."""
    monkeypatch.setattr(ledger, "LEDGER", tmp_path / "verified.json")
    monkeypatch.setattr(entries, "ENTRIES_DIR", tmp_path / "entries")
    monkeypatch.chdir(tmp_path)
    lines = readme_block()
    assert lines[0].startswith("pip install ")  # what the toy_installed fixture stands for
    for line in lines[1:]:
        argv = shlex.split(line.split("#")[0])[1:]
        argv = [word.replace("my-attack", "toy-installed") for word in argv]
        if argv[0] == "score":  # the small cube of the fixture stands for the K = 16 standard one
            argv += ["--models", "4", "--param", "epochs=1", "--cache-dir", str(tmp_path / "cache")]
        if argv[:2] == ["leaderboard", "build"]:
            argv += [str(tmp_path / "entries")]
        assert cli.main(argv) == 0, capsys.readouterr().err
    (path,) = (tmp_path / "entries" / "cpu" / "location").glob("toy-installed--none--*.json")
    entry = entries.read(path)
    assert validate.validate_file(path, entries.scores_beside(path)) == []
    cube = cubes.load(run.folder)
    assert entry.config_hash == config_hash({**cube.config, "attack": {"name": "toy-installed", "params": {}}})
    assert entry.attack.package == TOY_PACKAGE
    relative = run.folder.relative_to(run.root / "exported").as_posix()
    assert entry.cube == CubeSource(repo=cubes.REPO, revision=published, path=relative, sha256=cube.origin["sha256"])
    assert f"hf://datasets/miabench/signal-cubes@{published}" in entry.task.data_source
    board = (tmp_path / "leaderboard-site" / "leaderboard.md").read_text()
    assert "| attack package" in board and "| scored from" in board
    assert f"miabench-toy-attack 0.1.0 | cube miabench/signal-cubes@{published[:8]}" in board
    assert "miabench-toy-attack 0.1.0" in (tmp_path / "leaderboard-site" / "index.html").read_text()

    no_training(monkeypatch)  # the verifier has the toy package and the pulled cube only: no cache, no data
    verification = verify.verify(path, "tester", cache_dir=tmp_path / "verifier", ledger_path=ledger.LEDGER)
    assert max(verification.largest_difference.values()) == 0.0
    assert (tmp_path / "verifier" / "cubes" / relative / "signals.npz").is_file()  # pulled at the entry's revision
    assert ledger.status(entries.entry_key(entry), entry, ledger.load()) == "verified"
    assert entries.scores_beside(path).is_file()


@pytest.fixture
def cube_entry(run, tmp_path, published, toy_installed, monkeypatch) -> Path:
    """A pending board entry of the installed toy attack, scored by name from the published cube."""
    monkeypatch.setattr(ledger, "LEDGER", tmp_path / "verified.json")
    cubes.score_by(["toy-installed"], {"epochs": 1}, tmp_path / "scored", task="location", models=4,
                   cache_dir=tmp_path / "cache")  # fmt: skip
    (path,) = submit.submit(tmp_path / "scored", "tester", root=tmp_path / "entries")
    return path


def edited(path: Path, change) -> Path:
    data = entries.read(path).model_dump()
    change(data)
    write_json(path, data)
    return path


def test_verify_refuses_an_entry_whose_cube_is_not_the_published_one(cube_entry, tmp_path, monkeypatch):
    no_training(monkeypatch)
    path = edited(cube_entry, lambda data: data["cube"].update(sha256="0" * 64))
    message = r"has signals.npz sha256 [0-9a-f]{12}…, not the 000000000000… the record was scored from"
    with pytest.raises(UserError, match=message) as error:
        verify.verify(path, "tester", cache_dir=tmp_path / "verifier", ledger_path=ledger.LEDGER)
    assert "\n" not in str(error.value) and ledger.load() == {}


def test_verify_refuses_another_version_of_the_attack_package(cube_entry, tmp_path, monkeypatch):
    no_training(monkeypatch)
    path = edited(cube_entry, lambda data: data["attack"]["package"].update(version="0.0.9"))
    message = r"its attack 'toy-installed' is miabench-toy-attack 0.0.9 and here it is miabench-toy-attack 0.1.0: " \
              r"pip install 'miabench-toy-attack==0.0.9'"  # fmt: skip
    with pytest.raises(UserError, match=message) as error:
        verify.verify(path, "tester", cache_dir=tmp_path / "verifier", ledger_path=ledger.LEDGER)
    assert "\n" not in str(error.value) and ledger.load() == {}


def test_built_in_records_state_neither_package_nor_cube(run):
    """The fields are left out where they do not apply, so that every record written before them dumps, and
    hashes (config hash, ledger content hash), as written."""
    for record in run.records.values():
        data = record.to_json()
        assert "cube" not in data and "package" not in data["attack"]
        assert record.cube is None and record.attack.package is None
    (path,) = (ROOT / "leaderboard" / "entries" / "cpu" / "location").glob("lira--none--*.json")
    dumped, written = entries.read(path).model_dump(), json.loads(path.read_text())
    assert set(dumped) == set(written) and set(dumped["attack"]) == set(written["attack"])


def test_submitted_cube_records_are_valid_entries(run, tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "LEDGER", tmp_path / "verified.json")
    cubes.score(cubes.load(run.folder), ["loss", "lira"], out=tmp_path / "scored")
    for path in submit.submit(tmp_path / "scored", "tester", root=tmp_path / "entries"):
        assert validate.validate_file(path, entries.scores_beside(path)) == []
