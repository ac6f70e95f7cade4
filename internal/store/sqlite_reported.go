package store

import (
	"context"
	"fmt"
)

// SaveReported records (or replaces) a project's last reported result in a
// living comment.
func (s *SQLite) SaveReported(ctx context.Context, r Reported) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO reported(repo, pr, family, project, sha, result, updated) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT(repo, pr, family, project) DO UPDATE SET sha = excluded.sha, result = excluded.result, updated = excluded.updated`,
		r.Repo, r.PR, r.Family, r.Project, r.SHA, r.Result, now())
	if err != nil {
		return fmt.Errorf("save reported result of %s in %s#%d: %w", r.Project, r.Repo, r.PR, err)
	}
	return nil
}

// Reported returns the results a living comment last showed, by project.
func (s *SQLite) Reported(ctx context.Context, repo string, pr int, family string) ([]Reported, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT project, sha, result FROM reported WHERE repo = ? AND pr = ? AND family = ? ORDER BY project`, repo, pr, family)
	if err != nil {
		return nil, fmt.Errorf("reported results of %s#%d: %w", repo, pr, err)
	}
	defer rows.Close()
	var out []Reported
	for rows.Next() {
		r := Reported{Repo: repo, PR: pr, Family: family}
		if err := rows.Scan(&r.Project, &r.SHA, &r.Result); err != nil {
			return nil, fmt.Errorf("reported results of %s#%d: %w", repo, pr, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ForgetReported drops what a living comment showed, before a round that
// reports every project afresh.
func (s *SQLite) ForgetReported(ctx context.Context, repo string, pr int, family string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM reported WHERE repo = ? AND pr = ? AND family = ?`, repo, pr, family); err != nil {
		return fmt.Errorf("forget reported results of %s#%d: %w", repo, pr, err)
	}
	return nil
}
