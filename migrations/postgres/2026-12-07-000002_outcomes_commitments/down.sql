DROP TABLE commitment_resolutions;
DROP TABLE commitments;
DROP TABLE activity_outcomes;
