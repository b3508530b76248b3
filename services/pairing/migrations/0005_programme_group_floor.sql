-- The smallest group whose outcome figures are shown (programme policy; callers may raise it, never lower it).
ALTER TABLE programmes ADD COLUMN min_group_size integer NOT NULL DEFAULT 5 CHECK (min_group_size BETWEEN 3 AND 100);
