DROP INDEX mou_signatures_signers;
