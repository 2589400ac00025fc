DROP TABLE witness_refusals;
DROP TABLE witness_log_keys;
DROP TABLE witness_logs;
