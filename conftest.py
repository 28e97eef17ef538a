"""Root pytest configuration: registers the fixtures of the real parts."""

pytest_plugins = ["tests.fixtures.devcluster", "tests.fixtures.git", "tests.fixtures.ssh_server"]
