"""A truncated or corrupted data file, in every loader, is one line: "<path> is damaged (<reason>): get it
again from <source> ...", not a traceback (miabench.data.reading)."""

import gzip
import io
import json
import tarfile

import numpy as np
import pytest

from miabench.errors import UserError
from miabench.tasks import cifar10_data, fashion_mnist, location, mnist, tabular, text_data


def cut(raw: bytes) -> bytes:
    """A download that stopped half way."""
    return raw[: len(raw) // 2]


def flip(raw: bytes) -> bytes:
    """One byte flipped in the middle."""
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :]


def write(path, payload: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def tgz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def random_bits(rows, width, seed=0) -> str:
    rng = np.random.default_rng(seed)
    return "".join(",".join(map(str, rng.integers(0, 2, width))) + "\n" for _ in range(rows))


def mnist_npz(tmp_path, damage):
    rng = np.random.default_rng(0)
    arrays = {name: rng.integers(0, 255, (200, 28, 28), dtype=np.uint8) for name in ("x_train", "x_test")}
    arrays |= {name: rng.integers(0, 10, 200, dtype=np.uint8) for name in ("y_train", "y_test")}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = write(tmp_path / mnist.RELATIVE_PATH, damage(buffer.getvalue()))
    return lambda: mnist.MnistTask().read(tmp_path), path, mnist.HUB_NAME


def fashion_idx(tmp_path, damage):
    raw = b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in (50, 28, 28)) + bytes(range(256)) * 150
    path = write(tmp_path / "train-images-idx3-ubyte.gz", damage(gzip.compress(raw)))
    return lambda: fashion_mnist.read_idx(path, fashion_mnist.IMAGES_MAGIC), path, "zalandoresearch/fashion-mnist"


def cifar_archive(tmp_path, damage, write_cifar_archive):
    colours = {f"train/cat/{n:04d}.jpg": (n, 2 * n, 3 * n) for n in range(20)}
    good = write_cifar_archive(tmp_path / "good.tar.xz", colours).read_bytes()
    path = write(tmp_path / "bad.tar.xz", damage(good))
    return lambda: cifar10_data.decode_archive(path, progress=False), path, cifar10_data.JPEG_ORIGIN


def location_tgz(tmp_path, damage):
    rows = "".join(f'"{1 + i % 30}",' + random_bits(1, location.NUM_FEATURES, i) for i in range(40))
    path = write(tmp_path / "dataset_location.tgz", damage(tgz({"bangkok": rows.encode()})))
    return lambda: location.read_location_tgz(path), path, location.URL


def location_bad_csv(tmp_path, damage):
    rows = '"1",0,1\n"2",1,0,1,1\n'  # a row with more fields than the first: a pandas ParserError
    path = write(tmp_path / "dataset_location.tgz", tgz({"bangkok": rows.encode()}))
    return lambda: location.read_location_tgz(path), path, location.URL


def purchase_tgz(tmp_path, damage):
    rows = "".join(f"{1 + i % 100}," + random_bits(1, tabular.PURCHASE_FEATURES, i) for i in range(40))
    path = write(tmp_path / "dataset_purchase.tgz", damage(tgz({"dataset_purchase": rows.encode()})))
    return lambda: tabular.read_purchase_tgz(path), path, tabular.PURCHASE_URL


ADULT_ROW = (
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, "
    "United-States, <=50K"
)


def adult_csv(tmp_path, damage):
    path = write(tmp_path / "adult.data", damage(f"{ADULT_ROW}\n{ADULT_ROW}, 1, 2\n".encode()))  # 17 fields
    return lambda: tabular.read_adult_file(path), path, tabular.ADULT_SOURCE


def goemotions_tsv(tmp_path, damage):
    for relative in text_data.GOEMOTIONS_FILES:
        write(tmp_path / relative, b"a comment\t9\tid1\n")
    path = write(tmp_path / text_data.GOEMOTIONS_FILES[1], b"a comment\t9\tid1\n\xff\xfe broken\t1\tid2\n")
    return lambda: text_data.read_goemotions(tmp_path), path, text_data.GOEMOTIONS_HUB


def dreaddit_csv(tmp_path, damage):
    for relative in text_data.DREADDIT_FILES:
        write(tmp_path / relative, b"text,label,post_id\nhello,1,a\n")
    path = write(tmp_path / text_data.DREADDIT_FILES[0], b'text,label,post_id\n"hello,1,a\nfoo,0,b\n')  # open quote
    return lambda: text_data.read_dreaddit(tmp_path), path, text_data.DREADDIT_HUB


def sdcnl_csv(tmp_path, damage):
    for relative in text_data.SDCNL_FILES:
        write(tmp_path / relative, b"title,selftext,is_suicide\nt,s,1\n")
    path = write(tmp_path / text_data.SDCNL_FILES[1], b'title,selftext,is_suicide\nt,s,1\n"t,s,1\n')  # open quote
    return lambda: text_data.read_sdcnl(tmp_path), path, text_data.SDCNL_URL


def esconv_json(tmp_path, damage):
    record = json.dumps({"emotion_type": "anxiety", "dialog": []}).encode()
    for relative in text_data.ESCONV_FILES:
        write(tmp_path / relative, record + b"\n")
    path = write(tmp_path / text_data.ESCONV_FILES[2], cut(record) + b"\xff\n")
    return lambda: text_data.read_esconv(tmp_path), path, "esconv"


def tweeteval_txt(tmp_path, damage):
    folder = tmp_path / "tweeteval" / "hate"
    for split in text_data.TWEETEVAL_SPLITS:
        write(folder / f"{split}_text.txt", b"a tweet\n")
        write(folder / f"{split}_labels.txt", b"1\n")
    path = write(folder / "val_labels.txt", b"\x001\n")  # a label that is no number
    return lambda: text_data.read_tweeteval(tmp_path, "hate"), path, text_data.TWEETEVAL_HUB


def davidson_csv(tmp_path, damage):
    path = write(tmp_path / text_data.DAVIDSON_FILE, b'tweet,class\n"a tweet,1\nb,2\n')  # an open quote
    return lambda: text_data.read_davidson(tmp_path), path, text_data.DAVIDSON_HUB


CASES = [
    ("mnist-cut", mnist_npz, cut),
    ("mnist-flip", mnist_npz, flip),
    ("fashion-cut", fashion_idx, cut),
    ("fashion-flip", fashion_idx, flip),
    ("cifar-cut", cifar_archive, cut),
    ("location-cut", location_tgz, cut),
    ("location-flip", location_tgz, flip),
    ("location-csv", location_bad_csv, None),
    ("purchase-cut", purchase_tgz, cut),
    ("adult-csv", adult_csv, lambda raw: raw),
    ("goemotions", goemotions_tsv, None),
    ("dreaddit", dreaddit_csv, None),
    ("sdcnl", sdcnl_csv, None),
    ("esconv", esconv_json, None),
    ("tweeteval", tweeteval_txt, None),
    ("davidson", davidson_csv, None),
]


@pytest.mark.parametrize("make, damage", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_damaged_file_is_one_line_naming_it_and_its_source(tmp_path, write_cifar_archive, make, damage):
    extra = (write_cifar_archive,) if make is cifar_archive else ()
    load, path, source = make(tmp_path, damage, *extra)
    with pytest.raises(UserError) as error:
        load()
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path} is damaged (") and "): get it again from " in message
    assert source in message
