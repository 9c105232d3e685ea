"""The NAT lab's marker: `pytest -m natlab` runs the lab's CI subset alone."""


def pytest_configure(config):
    config.addinivalue_line("markers", "natlab: runs in the NAT lab's network namespaces")
