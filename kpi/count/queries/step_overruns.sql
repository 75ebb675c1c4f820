-- Processing steps finished after their step deadline in the period (internal procedure, quy trình nội bộ):
-- who held the step, which step, how many times, by how much.
SELECT d.unit_code, e.step_name, e.official_id, o.full_name, count(*) AS overruns,
       round(avg(epoch(e."at" - e.step_due_at)) / 3600, 1) AS avg_hours_late,
       count(DISTINCT e.dossier_code) AS dossiers
FROM dossier_events e
JOIN dossiers d USING (dossier_code)
LEFT JOIN officials o ON o.official_id = e.official_id
WHERE e.event = 'step_done' AND e.step_due_at IS NOT NULL AND e."at" > e.step_due_at
  AND e."at" >= $ps AND e."at" < $pe
GROUP BY ALL
ORDER BY overruns DESC, d.unit_code, e.step_name
