-- Members cannot lift what admins set (issue 8): a key paused by an organization admin (or the
-- platform admin) can be resumed only by an admin; a key its MEMBER owner paused, by that member too.
ALTER TABLE virtual_keys ADD COLUMN paused_by_admin boolean NOT NULL DEFAULT false;
