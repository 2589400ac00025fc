ALTER TABLE mou_signatures ADD CONSTRAINT mou_signatures_statement_sha256_key UNIQUE (statement_sha256);
