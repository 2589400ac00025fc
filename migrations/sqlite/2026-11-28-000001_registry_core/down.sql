DROP TABLE status_events;
DROP TABLE partnerships;
DROP TABLE tokens;
DROP TABLE offices;
DROP TABLE cities;
DROP TABLE log_entries;
DROP TABLE log_head;
