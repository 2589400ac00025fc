DROP TABLE mou_signatures;
DROP TABLE key_challenges;
DROP TABLE key_events;
DROP TABLE signatory_keys;
DROP TABLE mou_versions;
DROP TABLE mous;
