"""DensePose-COCO json: round trips, the real annotation, clear errors on malformed files."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from mobile_densepose.data.dataset import record_target
from mobile_densepose.data.densepose_coco import (
    DensePoseFormatError,
    ImageRecord,
    PersonAnnotation,
    decode_dp_masks,
    encode_dp_masks,
    load_densepose_coco,
    write_densepose_coco,
)
from shared_utils.testing import shared_fixtures_dir


def _record() -> ImageRecord:
    masks = np.zeros((256, 256), np.int64)
    masks[10:100, 20:80] = 1
    masks[120:200, 30:60] = 14
    person = PersonAnnotation(
        id=7,
        bbox=np.array([5.0, 6.0, 50.0, 80.0]),
        dp_xy=np.array([[10.0, 20.0], [200.5, 250.0]]),
        dp_I=np.array([1, 24]),
        dp_uv=np.array([[0.1, 0.2], [0.9, 1.0]]),
        dp_masks=masks,
    )
    return ImageRecord(
        3, "a.png", 64, 96, [person, PersonAnnotation(8, np.array([1.0, 1.0, 5.0, 5.0]))]
    )


def test_round_trip(tmp_path: Path) -> None:
    write_densepose_coco(tmp_path / "a.json", [_record()])
    (rec,) = load_densepose_coco(tmp_path / "a.json")
    p, q = rec.people
    ref = _record().people[0]
    assert p.has_dp and not q.has_dp
    np.testing.assert_allclose(p.dp_xy, ref.dp_xy)
    np.testing.assert_array_equal(p.dp_I, ref.dp_I)
    np.testing.assert_array_equal(p.dp_masks, ref.dp_masks)
    t = record_target(rec)
    np.testing.assert_allclose(t["boxes"].numpy(), [[5, 6, 55, 86], [1, 1, 6, 6]])
    assert t["has_dp"].tolist() == [True, False]
    assert t["dp_instance"].tolist() == [0, 0]


def test_rle_round_trip() -> None:
    labels = np.random.default_rng(0).integers(0, 15, size=(256, 256))
    assert np.array_equal(decode_dp_masks(encode_dp_masks(labels), "x"), labels)


def test_real_annotation_round_trip(tmp_path: Path) -> None:
    root = shared_fixtures_dir()
    path = None if root is None else root / "densepose-demo" / "demo_dp_single_ann.pkl"
    if path is None or not path.exists():
        pytest.skip("real DensePose annotation fixture ../shared/fixtures/densepose-demo is absent")
    with open(path, "rb") as f:
        ann = pickle.load(f, encoding="latin1")
    h, w = ann["ICrop"].shape[:2]
    data = {
        "images": [{"id": 1, "file_name": "demo_im.jpg", "width": 1000, "height": 800}],
        "annotations": [{
            "id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [100.0, 50.0, float(w), float(h)],
            "dp_x": (ann["x"] / w * 256).tolist(), "dp_y": (ann["y"] / h * 256).tolist(),
            "dp_I": ann["I"].tolist(), "dp_U": ann["U"].tolist(), "dp_V": ann["V"].tolist(),
        }],
    }  # fmt: skip
    (tmp_path / "dp.json").write_text(json.dumps(data))
    (rec,) = load_densepose_coco(tmp_path / "dp.json")
    p = rec.people[0]
    assert p.dp_I is not None and p.dp_xy is not None and p.dp_uv is not None
    assert p.dp_I.shape == (125,) and set(p.dp_I.tolist()) <= set(range(1, 25))
    np.testing.assert_allclose(p.dp_xy[:, 0] / 256 * w, ann["x"])
    np.testing.assert_allclose(p.dp_uv[:, 1], ann["V"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dp_U": None}, "'dp_U' missing"),
        ({"dp_I": [0, 3]}, "'dp_I': values must be integers in 1..24"),
        ({"dp_V": [0.5, 1.5]}, "'dp_V': values must lie in [0, 1]"),
        ({"dp_U": [0.1]}, "'dp_U': 1 values, dp_x has 2"),
        ({"bbox": [0, 0, -1, 5]}, "'bbox': width and height must be > 0"),
        ({"dp_masks": [[]] * 3}, "'dp_masks': expected a list of 14 RLEs"),
        ({"dp_masks": [{"size": [10, 10], "counts": "a"}] + [[]] * 13}, "'dp_masks[0].size'"),
    ],
)
def test_malformed_annotations_name_file_and_field(
    tmp_path: Path, change: dict, message: str
) -> None:
    ann = {"id": 42, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "dp_x": [1.0, 2.0], "dp_y": [1.0, 2.0], "dp_I": [1, 2], "dp_U": [0.1, 0.2], "dp_V": [0.3, 0.4]}  # fmt: skip
    for k, v in change.items():
        if v is None:
            del ann[k]
        else:
            ann[k] = v
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {"images": [{"id": 1, "file_name": "x", "width": 5, "height": 5}], "annotations": [ann]}
        )
    )
    with pytest.raises(DensePoseFormatError) as err:
        load_densepose_coco(path)
    assert str(path) in str(err.value) and "annotation 42" in str(err.value)
    assert message in str(err.value)


def test_missing_top_level_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(DensePoseFormatError, match="'annotations'"):
        load_densepose_coco(path)
