"""pytest plugin (entry point ``v6lib_mock``): the ``mock_network`` fixture factory.

Installed with v6lib, so an algorithm package's tests can ask for ``mock_network``
without a conftest. Imports of the mock happen inside the fixture, so loading the plugin
costs nothing for test runs that never use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from v6lib.mock.network import MockNetwork

__all__ = ["mock_network"]


@pytest.fixture
def mock_network() -> Iterator[Callable[..., MockNetwork]]:
    """A factory: ``mock_network(module, datasets, **options) -> MockNetwork``.

    Every network made through the factory is closed (thread pools and temporary folders
    released) when the test ends.
    """
    from v6lib.mock.network import MockNetwork

    made: list[MockNetwork] = []

    def factory(module: Any, datasets: Any, **options: Any) -> MockNetwork:
        network = MockNetwork(module, datasets, **options)
        made.append(network)
        return network

    yield factory
    for network in made:
        network.close()
