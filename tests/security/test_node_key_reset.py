"""Finding 6: a node's tokens outlived a reset of its API key.

The old access token kept working and the old refresh token refreshed indefinitely, so
resetting a leaked key did not lock out whoever held it.
"""

from __future__ import annotations

from tests.security.conftest import LiveFactory


def test_key_reset_revokes_the_nodes_tokens(live: LiveFactory) -> None:
    # Prepare: the node logs in with its key, an attacker holds the same tokens
    server = live()
    world = server.world()
    root = world.api.token
    stolen = server.post("/token/node", json={"api_key": world.key_a}).json()
    refreshed = server.post("/token/refresh", token=stolen["refresh_token"]).json()
    assert server.get(f"/node/{world.node_a}", token=stolen["access_token"]).status_code == 200
    # Execute: the administrator resets the key over HTTP
    reset = server.post(f"/node/{world.node_a}/api_key", token=root)
    assert reset.status_code == 200, reset.text
    new_key = reset.json()["api_key"]
    # Assert: nothing issued under the old key works any more
    for access in (stolen["access_token"], refreshed["access_token"]):
        answer = server.get(f"/node/{world.node_a}", token=access)
        assert answer.status_code == 401 and "API key reset" in answer.json()["message"]
    for refresh in (stolen["refresh_token"], refreshed["refresh_token"]):
        assert server.post("/token/refresh", token=refresh).status_code == 401
    assert server.post("/token/node", json={"api_key": world.key_a}).status_code == 401
    # and the new key logs in, its tokens refresh and work
    fresh = server.post("/token/node", json={"api_key": new_key})
    assert fresh.status_code == 200
    renewed = server.post("/token/refresh", token=fresh.json()["refresh_token"])
    assert renewed.status_code == 200
    assert server.get(f"/node/{world.node_a}",
                      token=renewed.json()["access_token"]).status_code == 200
    # the other node was not affected
    other = server.post("/token/node", json={"api_key": world.key_b})
    assert other.status_code == 200


def test_key_reset_also_ends_the_tokens_of_its_runs(live: LiveFactory) -> None:
    """A container token the node obtained before the reset stops working with it."""
    server = live()
    world = server.world()
    node = server.post("/token/node", json={"api_key": world.key_a}).json()["access_token"]
    task = world.task(orgs=[world.org_a])
    run = server.get(f"/run?task_id={task['id']}", token=node).json()["data"][0]
    claim = server.post(f"/run/{run['id']}/claim", token=node)
    assert claim.status_code == 200, claim.text
    container = claim.json()["container_token"]
    assert server.get(f"/task/{task['id']}", token=container).status_code == 200
    assert server.post(f"/node/{world.node_a}/api_key",
                       token=world.api.token).status_code == 200
    answer = server.get(f"/task/{task['id']}", token=container)
    assert answer.status_code == 401 and "API key reset" in answer.json()["message"]
