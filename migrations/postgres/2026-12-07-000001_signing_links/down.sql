DROP TABLE signing_links;
