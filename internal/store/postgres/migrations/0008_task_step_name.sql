-- 0008: tasks record the name of their next step (model.Task.StepName), so
-- that a step list changed between releases resumes a task at the right
-- step. Rows written before have '' and resume at their step index.

ALTER TABLE tasks ADD COLUMN step_name text NOT NULL DEFAULT '';
