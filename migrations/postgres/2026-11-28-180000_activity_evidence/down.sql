DROP TABLE activity_evidence;
