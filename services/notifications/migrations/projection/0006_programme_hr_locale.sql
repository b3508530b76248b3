-- The language of the programme's HR contact (ProgramLaunched.hr_locale): HR's weekly digest is written in it.
-- Rows from before read English (as their digests were) until `tandem replay notifications` fills it in.
ALTER TABLE programmes ADD COLUMN hr_locale text NOT NULL DEFAULT 'en';
