from driftless.diff.normalize import equivalent, normalize


def test_server_bookkeeping_is_ignored() -> None:
    predicted = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "2", "managedFields": [{"x": 1}]},
        "data": {"a": "1"},
    }
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "resourceVersion": "1", "uid": "u", "generation": 1},
        "data": {"a": "1"},
        "status": {"whatever": True},
    }
    assert equivalent(predicted, live)


def test_data_change_is_a_difference() -> None:
    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}}
    assert not equivalent(a, b)


def test_normalize_does_not_mutate_its_input() -> None:
    obj = {"metadata": {"name": "c", "uid": "u"}, "status": {}}
    normalize(obj)
    assert obj == {"metadata": {"name": "c", "uid": "u"}, "status": {}}
