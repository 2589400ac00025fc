-- Who signed each version of an MOU, answered from the index alone. Every signature asks it
-- on the serial writer (already signed? executed now?); through the (mou_id, seq) index the
-- answer took one table-row read per earlier signature of the MOU, each on its own page.
CREATE INDEX mou_signatures_signers ON mou_signatures (mou_id, version, signer, signer_city, role);
