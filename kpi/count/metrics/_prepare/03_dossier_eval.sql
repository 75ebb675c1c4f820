-- Every dossier received before the period end and not ended before the period start, judged at the
-- period end ($pe, exclusive) by the ON_TIME rules (kpi/count/dossier_judgement.sql).
-- A dossier that ended and has not changed since (no record time nor event at or after $pe) is judged
-- at $pe exactly as at its end: it is read from the facts the loader keeps (dossier_facts). Only the rest
-- — still open at the period end, or changed after it — is judged here, at the period end.
-- A fact kept for another record than the stored one (a row changed outside `kpi load`) is not read.
-- Only dossiers the period can judge are read: a dossier received before the period and finished
-- (finished_at) before it ended before it, whatever else its record says.
CREATE OR REPLACE TEMP TABLE _read AS
SELECT d.dossier_code,
       coalesce(f.end_at IS NOT NULL AND f.changed_at < $pe AND f.record_hash = dossier_record_hash(d), false)
           AS from_facts
FROM dossiers d LEFT JOIN dossier_facts f USING (dossier_code)
WHERE d.received_at < $pe AND NOT coalesce(d.finished_at < $ps AND d.received_at < $ps, false);

CREATE OR REPLACE TEMP TABLE _cand AS
SELECT d.* FROM dossiers d SEMI JOIN (SELECT dossier_code FROM _read WHERE NOT from_facts) r USING (dossier_code);

CREATE OR REPLACE TEMP TABLE _dossier_eval AS
WITH fresh AS (
{{dossier_judgement}}
),
kept AS (
    SELECT f.* EXCLUDE (changed_at, record_hash) FROM dossier_facts f
    SEMI JOIN (SELECT dossier_code FROM _read WHERE from_facts) r USING (dossier_code)
),
every AS (
    SELECT * FROM kept UNION ALL BY NAME SELECT * FROM fresh
)
SELECT * EXCLUDE (overdue_wd, judgement),
       received_at >= $ps AS received_in_period,
       end_kind IN ('finished', 'returned') AND end_at >= $ps AS finished_in_period,
       overdue_wd, judgement
FROM every
WHERE end_at IS NULL OR end_at >= $ps OR received_at >= $ps;
