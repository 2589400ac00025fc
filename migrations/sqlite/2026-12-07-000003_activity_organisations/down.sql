DROP TABLE activity_organisations;
