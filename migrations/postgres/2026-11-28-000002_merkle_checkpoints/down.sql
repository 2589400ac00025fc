DROP TABLE checkpoints;
DROP TABLE log_nodes;
