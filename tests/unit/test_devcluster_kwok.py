"""kwok's stage config and fake Nodes."""

from __future__ import annotations

from pathlib import Path

import yaml

from driftless.devcluster import kwok


def test_collect_stages_joins_the_default_stage_files(tmp_path: Path) -> None:
    for index, rel in enumerate(kwok.STAGE_FILES):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: Stage\nmetadata:\n  name: s{index}\n")
    docs = list(yaml.safe_load_all(kwok.collect_stages(tmp_path)))
    assert [d["metadata"]["name"] for d in docs] == [f"s{i}" for i in range(len(kwok.STAGE_FILES))]


def test_fake_node_is_selected_by_kwok() -> None:
    node = kwok.fake_node("n0")
    assert node["metadata"]["annotations"] == {kwok.NODE_ANNOTATION: kwok.NODE_ANNOTATION_VALUE}
    selector = f"--manage-nodes-with-annotation-selector={kwok.NODE_ANNOTATION}=fake"
    assert selector in kwok.args(Path("k"), Path("s"))
