package store_test

import (
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// TestCancelMarksAChainsParts: cancelling a chain (the owner's cancel of a
// scheduled one, or a disconnect's) marks every part not published
// cancelled, not left pending.
func TestCancelMarksAChainsParts(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	cancels := []struct {
		name   string
		cancel func(t *testing.T, j *store.Job)
	}{
		{"owner's cancel", func(t *testing.T, j *store.Job) {
			if _, err := s.CancelJob(t.Context(), j.UID, j.AccountID, j.JobID, "cancelled_by_owner", now); err != nil {
				t.Fatal(err)
			}
		}},
		{"disconnect's cancel", func(t *testing.T, j *store.Job) {
			if n, err := s.CancelPendingJobs(t.Context(), j.UID, j.AccountID, "disconnected", now); err != nil || n != 1 {
				t.Fatalf("CancelPendingJobs = %d, %v", n, err)
			}
		}},
	}
	for _, tc := range cancels {
		t.Run(tc.name, func(t *testing.T) {
			j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: "uid-" + testenv.RandomID(t), AccountID: "17841400000000001",
				Kind: "text", Status: store.JobScheduled, PublishAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
				Parts: []store.JobPart{{Text: "one", Status: store.PartPending}, {Text: "two", Status: store.PartPending}}}
			if _, ok, err := s.CreateJob(t.Context(), j); err != nil || !ok {
				t.Fatalf("CreateJob: %v, %v", ok, err)
			}
			tc.cancel(t, j)
			got, err := s.GetJob(t.Context(), j.UID, j.AccountID, j.JobID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != store.JobCancelled || len(got.Parts) != 2 {
				t.Fatalf("job %s with %d parts, want cancelled with 2", got.Status, len(got.Parts))
			}
			for i, p := range got.Parts {
				if p.Status != string(store.JobCancelled) {
					t.Errorf("part %d %q, want cancelled", i, p.Status)
				}
			}
		})
	}
}
