DROP TABLE outbox_emails;
DROP TABLE signer_contacts;
