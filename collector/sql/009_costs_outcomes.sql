-- Migration 9: what a campaign cost, and what became of a lead (the closed loop: `webleads cost import`,
-- `webleads outcome import`, POST /api/v1/outcomes). Outcomes are appended, never changed: a lead's
-- outcome is its latest by `ts` (then by arrival). They hold no more than the lead's id, the outcome, its
-- value and its time.
CREATE TABLE campaign_costs (
    site        VARCHAR NOT NULL,  -- '' for every site
    day         DATE NOT NULL,
    source      VARCHAR NOT NULL,  -- lower-cased, as the sessions' landing
    medium      VARCHAR NOT NULL,
    campaign    VARCHAR NOT NULL,
    cost        DECIMAL(14, 2) NOT NULL,  -- euros
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (site, day, source, medium, campaign)
);

CREATE TABLE lead_outcomes (
    lead_id     VARCHAR NOT NULL,  -- the conversion's event_id (the leads report's lead_id)
    outcome     VARCHAR NOT NULL,  -- free text: inscrit, financé, abandon...
    value       DECIMAL(14, 2),    -- euros, optional
    ts          TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    origin      VARCHAR NOT NULL   -- import | api | dashboard
);
