-- A replayed statement names its MOU and chain position, and the MOU's id is checked against
-- the path before anything else, so "is this statement already in the chain?" is answered
-- by the (mou_id, seq) key that guards the chain anyway. The table-wide UNIQUE index on
-- statement_sha256 duplicated that guard, at the price of an insert at a random place in one
-- more B-tree for every signature.
ALTER TABLE mou_signatures DROP CONSTRAINT mou_signatures_statement_sha256_key;
