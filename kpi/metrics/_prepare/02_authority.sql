-- Procedures under each unit's authority in the period: provincial procedures belong to the
-- department that implements them; commune procedures to every commune that existed in the period.
CREATE OR REPLACE TEMP TABLE _authority AS
SELECT p.agency_code AS unit_code, p.procedure_code
FROM procedures p
WHERE p.agency_code IS NOT NULL AND coalesce(p.status, 'public') NOT IN ('abolished', 'draft')
UNION
SELECT u.unit_code, p.procedure_code
FROM procedures p
JOIN units u ON u.level = 'commune'
    AND coalesce(u.valid_from, DATE '1900-01-01') < CAST($pe AS DATE)
    AND coalesce(u.valid_to, DATE '9999-12-31') >= CAST($ps AS DATE)
WHERE p.authority_level = 'commune' AND coalesce(p.status, 'public') NOT IN ('abolished', 'draft');
