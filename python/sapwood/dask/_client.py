"""Finding the Dask client a fit runs on, and turning inputs into per-partition futures."""

from __future__ import annotations

from typing import Any


def get_client(client: Any = None) -> Any:
    """The client to run on: ``client`` when given, else the current default client.

    Raises
    ------
    ValueError
        When there is no client, or the client is closed.
    """
    from distributed import Client, default_client

    if client is None:
        try:
            client = default_client()
        except ValueError:
            raise ValueError(
                "no Dask client: start one first, e.g. "
                "`from distributed import Client, LocalCluster; "
                "client = Client(LocalCluster())`, or pass client=..."
            ) from None
    if not isinstance(client, Client):
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
    if client.status in ("closing", "closed"):
        raise ValueError("the Dask client is closed; start a new one or pass an open client=")
    return client
