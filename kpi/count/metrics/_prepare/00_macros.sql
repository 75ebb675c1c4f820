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

-- From when a dossier's events are read (dossier_judgement.sql): its first event's time as the loader kept it
-- (s: its row of dossier_spans), else all of them.
CREATE OR REPLACE TEMP MACRO every_event() AS TIMESTAMP '-infinity';      -- no event is older
CREATE OR REPLACE TEMP MACRO events_from(s) AS coalesce(s.first_event_at, every_event());

-- The columns of a dossier's record the judgement reads (the record also holds the applicant's, never read
-- there): the dossiers judged for a period and those the loader keeps facts of.
CREATE OR REPLACE TEMP MACRO judged_dossiers() AS TABLE
    SELECT dossier_code, unit_code, procedure_code, channel, received_at, due_at, finished_at, returned_at,
           handling_official_id, receiving_official_id
    FROM dossiers;

-- Which ON_TIME rule applied to a judged dossier e (a row of _dossier_eval), in words: the reason an
-- evidence row and the published late-dossier list give. Written where it is read, not for every dossier.
CREATE OR REPLACE TEMP MACRO judgement_text(e) AS
    CASE
         WHEN e.second_request_rule AND e.end_kind = 'supplement' THEN 'trễ hạn: dừng ở yêu cầu bổ sung lần hai'
         WHEN e.second_request_rule THEN 'trễ hạn: yêu cầu bổ sung ' || e.n_req || ' lần rồi '
              || CASE e.end_kind WHEN 'rejected' THEN 'từ chối' WHEN 'stopped' THEN 'dừng xử lý'
                               ELSE 'công dân rút hồ sơ' END
         WHEN e.late THEN 'trễ hạn'
              || CASE WHEN e.end_kind = 'supplement' THEN ': yêu cầu bổ sung khi đã quá hạn'
                      WHEN e.end_at IS NULL THEN ': chưa giải quyết xong, đã quá hạn'
                      ELSE '' END
              || ' ' || CASE WHEN e.over_wd >= 1 THEN e.over_wd || ' ngày làm việc' ELSE vn_duration(e.over_seconds) END
              || CASE WHEN e.due_at IS NULL THEN ' (không có ngày hẹn trả; thời hạn của thủ tục '
                                               || vn_num(e.max_processing_time) || ' '
                                               || CASE coalesce(e.time_unit, 'working_day') WHEN 'day' THEN 'ngày'
                                                    WHEN 'hour' THEN 'giờ' WHEN 'month' THEN 'tháng'
                                                    ELSE 'ngày làm việc' END || ')'
                      ELSE ' (hẹn trả ' || vn_date(e.due_at) || ')' END
              || CASE WHEN e.supp_seconds > 0 THEN ', đã trừ thời gian chờ bổ sung ' || vn_duration(e.supp_seconds)
                      ELSE '' END
         WHEN e.end_at IS NULL THEN 'đang giải quyết, chưa đến hạn'
              || CASE WHEN e.supp_seconds > 0 THEN ' (đã trừ thời gian chờ bổ sung ' || vn_duration(e.supp_seconds) || ')'
                      ELSE '' END
         WHEN e.end_kind = 'supplement' THEN 'đúng hạn: chờ công dân bổ sung (yêu cầu trước hạn, ngày '
              || vn_date(e.end_at) || ')'
         WHEN e.supp_seconds > 0 THEN 'đúng hạn: thời gian chờ bổ sung ' || vn_duration(e.supp_seconds) || ' đã trừ'
         ELSE 'đúng hạn'
    END;
