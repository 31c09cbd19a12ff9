"""Inventory in the pure domain: the stock ledger's arithmetic (``ledger``), allocation
strategies (``allocation`` and ``strategies``) and the fulfilment order's status machine
(``fulfilment``)."""

__all__: list[str] = []
