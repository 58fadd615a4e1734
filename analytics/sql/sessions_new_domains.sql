-- Run by sessions._classify(): external referrer domains not classified yet (a few, not rows).
SELECT DISTINCT referrer_domain AS domain
FROM wl_scope
WHERE referrer_domain IS NOT NULL
  AND referrer_domain NOT IN (SELECT domain FROM referrer_classes);
