DROP INDEX partnerships_established;
