-- Procedures under each unit's authority in the period: provincial procedures belong to the
-- department that implements them; commune procedures to every commune that existed in the period.
-- _authority_all keeps abolished procedures (their abolition decisions count for PUBLISH_ON_TIME and
-- PUBLIC_UPDATE_ON_TIME); _authority is what is in force.
-- One set per period in _periods (pid).
CREATE OR REPLACE TEMP TABLE _authority_all AS
SELECT pp.pid, p.agency_code AS unit_code, p.procedure_code, coalesce(p.status, 'public') = 'abolished' AS abolished
FROM procedures p, _periods pp
WHERE p.agency_code IS NOT NULL AND coalesce(p.status, 'public') <> 'draft'
UNION
SELECT pp.pid, u.unit_code, p.procedure_code, coalesce(p.status, 'public') = 'abolished'
FROM procedures p
JOIN units u ON u.level = 'commune'
JOIN _periods pp ON coalesce(u.valid_from, DATE '1900-01-01') < CAST(pp.pe AS DATE)
    AND coalesce(u.valid_to, DATE '9999-12-31') >= CAST(pp.ps AS DATE)
WHERE p.authority_level = 'commune' AND coalesce(p.status, 'public') <> 'draft';

CREATE OR REPLACE TEMP TABLE _authority AS
SELECT pid, unit_code, procedure_code FROM _authority_all WHERE NOT abolished;
