-- Allowed origins stored before they were normalized on write take the case and trailing slash a
-- browser's Origin header has, in their first order and once each, so the preflight's lookup can
-- match them exactly (through journeys_allowed_origins_idx) instead of reading every journey.
UPDATE "journeys" AS j
SET "allowed_origins" = (
  SELECT array_agg(normal ORDER BY first)
  FROM (
    SELECT lower(rtrim(o, '/')) AS normal, min(n) AS first
    FROM unnest(j."allowed_origins") WITH ORDINALITY AS u(o, n)
    GROUP BY 1
  ) AS origins
)
WHERE EXISTS (SELECT 1 FROM unnest(j."allowed_origins") AS o WHERE o <> lower(rtrim(o, '/')));
