-- ELECTRONIC_CERTIFIED_COPY = communes providing electronic certified copies from originals
--                             / communes under the unit (latest declaration at the period end).
-- one row per entity
SELECT u.unit_code AS entity, u.unit_code, NULL AS procedure_code, NULL AS official_id, [] AS charged,
       coalesce(c.provides_e_certified_copy, false) AS in_num, true AS in_den, NULL::DOUBLE AS value,
       CASE WHEN coalesce(c.provides_e_certified_copy, false) THEN 'có cung cấp chứng thực điện tử'
            ELSE 'chưa cung cấp chứng thực điện tử' END AS reason
FROM units u
LEFT JOIN (SELECT unit_code, arg_max(provides_e_certified_copy, as_of) AS provides_e_certified_copy
           FROM certified_copy_units WHERE as_of < CAST($pe AS DATE) GROUP BY unit_code) c USING (unit_code)
WHERE u.level = 'commune'
  AND coalesce(u.valid_from, DATE '1900-01-01') < CAST($pe AS DATE)
  AND coalesce(u.valid_to, DATE '9999-12-31') >= CAST($ps AS DATE)
