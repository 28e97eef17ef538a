from driftless.kube.discovery import ResourceType, parse_aggregated, parse_resource_list


def test_aggregated_document() -> None:
    doc = {
        "kind": "APIGroupDiscoveryList",
        "items": [
            {
                "metadata": {"name": "apps"},
                "versions": [
                    {
                        "version": "v1",
                        "resources": [
                            {
                                "resource": "deployments",
                                "responseKind": {
                                    "group": "apps",
                                    "version": "v1",
                                    "kind": "Deployment",
                                },
                                "scope": "Namespaced",
                            }
                        ],
                    }
                ],
            }
        ],
    }
    [rtype] = parse_aggregated(doc)
    assert rtype == ResourceType("apps", "v1", "Deployment", "deployments", True)
    assert rtype.path("ns", "web") == "/apis/apps/v1/namespaces/ns/deployments/web"


def test_legacy_list_skips_subresources() -> None:
    doc = {
        "groupVersion": "v1",
        "resources": [
            {"name": "namespaces", "kind": "Namespace", "namespaced": False},
            {"name": "namespaces/status", "kind": "Namespace", "namespaced": False},
        ],
    }
    [rtype] = parse_resource_list(doc)
    assert rtype.path(None, "x") == "/api/v1/namespaces/x"
    assert rtype.path("ignored") == "/api/v1/namespaces"
