-- The language of the programme's HR contact (ProgramLaunched.hr_locale): HR's weekly digest is written in it.
-- Programmes from before read English, as their digests were.
ALTER TABLE programmes ADD COLUMN hr_locale text NOT NULL DEFAULT 'en' CHECK (hr_locale IN ('de', 'en'));
