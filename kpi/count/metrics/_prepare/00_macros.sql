-- Text helpers for evidence reasons: a duration in Vietnamese ("2 ngày 16 giờ") and a day-first date.
CREATE OR REPLACE TEMP MACRO vn_duration(secs) AS
    CASE WHEN secs IS NULL THEN NULL
         ELSE coalesce(nullif(concat_ws(' ',
             CASE WHEN secs >= 86400 THEN CAST(floor(secs / 86400) AS BIGINT) || ' ngày' END,
             CASE WHEN floor((secs % 86400) / 3600) > 0 THEN CAST(floor((secs % 86400) / 3600) AS BIGINT) || ' giờ' END,
             CASE WHEN floor((secs % 3600) / 60) > 0 THEN CAST(floor((secs % 3600) / 60) AS BIGINT) || ' phút' END), ''),
             'dưới 1 phút')
    END;

CREATE OR REPLACE TEMP MACRO vn_date(ts) AS strftime(CAST(ts AS TIMESTAMP), '%d/%m/%Y');


-- A number as a person writes it: whole numbers without decimals, else a decimal comma (8 → "8", 1.5 → "1,5").
CREATE OR REPLACE TEMP MACRO vn_num(x) AS
    CASE WHEN x = floor(x) THEN CAST(CAST(x AS BIGINT) AS VARCHAR) ELSE replace(CAST(x AS VARCHAR), '.', ',') END;

-- What a dossier's judgement reads from its record: a fact kept for another record (a row changed since
-- the load that kept it) is not read, the dossier is judged again.
CREATE OR REPLACE TEMP MACRO dossier_record_hash(d) AS
    hash(d.received_at, d.due_at, d.finished_at, d.returned_at, d.procedure_code, d.unit_code, d.channel,
         d.handling_official_id, d.receiving_official_id);
