"""Multi-device sync: the operation log, hybrid logical clocks, merge and exchange.

Every write to a synced user-DB table is logged by triggers (store/user/migrations.py,
0009) and stamped with a hybrid logical clock when its transaction commits (``oplog``);
devices exchange operations since a cursor (``exchange`` on the server, ``client`` on a
device) and merge them deterministically (``merge``). See docs/SYNC.md.

Importing this package is cheap: ``vivim.store.user.db`` imports ``oplog`` on every open.
"""
