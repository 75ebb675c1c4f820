-- The unit tree: every unit with each of its ancestors (itself included), and its final successor.
CREATE OR REPLACE TEMP TABLE _closure AS
WITH RECURSIVE up(ancestor, unit_code, depth) AS (
    SELECT unit_code, unit_code, 0 FROM units
    UNION ALL
    SELECT u.parent_code, up.unit_code, up.depth + 1
    FROM up JOIN units u ON u.unit_code = up.ancestor
    WHERE u.parent_code IS NOT NULL AND up.depth < 20
)
SELECT DISTINCT ancestor, unit_code FROM up;

CREATE OR REPLACE TEMP TABLE _successor AS
WITH RECURSIVE chain(unit_code, current_code, depth) AS (
    SELECT unit_code, unit_code, 0 FROM units
    UNION ALL
    SELECT chain.unit_code, u.successor_code, chain.depth + 1
    FROM chain JOIN units u ON u.unit_code = chain.current_code
    WHERE u.successor_code IS NOT NULL AND u.successor_code <> u.unit_code AND chain.depth < 10
)
SELECT unit_code, arg_max(current_code, depth) AS current_code FROM chain GROUP BY unit_code;
