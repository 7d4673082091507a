-- An audit entry not written with an answer or a cancel (audit.lua).
-- KEYS: the audit log stream   ARGV: entry JSON, the cap, the id's time ('*': Redis's)
add_audit(KEYS[1], ARGV[2], ARGV[3], ARGV[1])
return 1
