"""Two server processes sharing Redis: what one process's code sends, sockets on both get.

The test process joins the cluster by switching its own channel layer to the same
Redis pub/sub layer the servers build from ``REDIS_URL``.
"""

import pytest

from tests.factories import make_learner
from tests.live_server import live_servers


@pytest.fixture
def cluster(transactional_db, redis_url):
    """Two servers on the test database and the same Redis."""
    with live_servers() as start:
        yield start(redis_url=redis_url), start(redis_url=redis_url)


@pytest.fixture
def user(transactional_db):
    return make_learner()
