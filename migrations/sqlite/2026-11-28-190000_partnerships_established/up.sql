-- Lists filtered by `since` (established on or after a date) find their rows through this
-- index instead of walking every partnership in id order.
CREATE INDEX partnerships_established ON partnerships (established_on, id);
