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
			createJob(t, s, j)
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

// TestCancelSaysWhatWasPosted: a cancelled job's message says what had
// been posted, from its parts and whether it was publishing. A job being
// published by an attempt that holds its lease keeps the lease, and only
// that attempt may then record its post (KeepPublished), on the part in
// progress; KeepPublished changes no job that is not cancelled.
func TestCancelSaysWhatWasPosted(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	part := func(status string) store.JobPart { return store.JobPart{Text: status, Status: status} }
	published, pending, publishing := string(store.JobPublished), store.PartPending, string(store.JobPublishing)
	const owner = "attempt-1"
	cases := []struct {
		name       string
		status     store.JobStatus
		parts      []store.JobPart
		leaseUntil time.Time // with owner; zero: no lease
		want       string
		keepsLease bool
	}{
		{name: "nothing sent", status: store.JobContainerCreated, leaseUntil: now.Add(time.Minute),
			want: "Cancelled: the Threads account was disconnected. Nothing was posted."},
		{name: "publish call sent, attempt gone", status: store.JobPublishing, leaseUntil: now.Add(-time.Second),
			want: "Cancelled: the Threads account was disconnected. It was being published and may have gone out."},
		{name: "publish call in flight", status: store.JobPublishing, leaseUntil: now.Add(time.Minute), keepsLease: true,
			want: "Cancelled: the Threads account was disconnected. It was being published and may have gone out."},
		{name: "a chain's first part out", status: store.JobAccepted, parts: []store.JobPart{part(published), part(pending)},
			want: "Cancelled: the Threads account was disconnected. Part 1 of 2 had been published; the rest were not posted."},
		{name: "a chain's first part sent", status: store.JobPublishing, parts: []store.JobPart{part(publishing), part(pending), part(pending)},
			want: "Cancelled: the Threads account was disconnected. Part 1 of 3 was being published and may have gone out; the rest were not posted."},
		{name: "a chain's last part in flight", status: store.JobPublishing, leaseUntil: now.Add(time.Minute), keepsLease: true,
			parts: []store.JobPart{part(published), part(published), part(publishing)},
			want:  "Cancelled: the Threads account was disconnected. Parts 1 to 2 of 3 had been published; part 3 of 3 was being published and may have gone out."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: "uid-" + testenv.RandomID(t), AccountID: "17841400000000001",
				Kind: "text", Status: tc.status, Parts: tc.parts, Part: max(len(tc.parts)-1, 0), CreatedAt: now, UpdatedAt: now}
			for i, p := range tc.parts {
				if p.Status != published {
					j.Part = i
					break
				}
			}
			if !tc.leaseUntil.IsZero() {
				j.LeaseOwner, j.LeaseUntil = owner, tc.leaseUntil
			}
			createJob(t, s, j)
			// Not cancelled: KeepPublished leaves it to its attempt.
			if kept, err := s.KeepPublished(t.Context(), j, owner, j.Part, "17890000000000001", now); err != nil || kept != nil {
				t.Fatalf("KeepPublished of a %s job = %+v, %v; want nil", tc.status, kept, err)
			}
			if n, err := s.CancelPendingJobs(t.Context(), j.UID, j.AccountID, "account_disconnected", now); err != nil || n != 1 {
				t.Fatalf("CancelPendingJobs = %d, %v", n, err)
			}
			got, err := s.GetJob(t.Context(), j.UID, j.AccountID, j.JobID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != store.JobCancelled || got.Error == nil || got.Error.Reason != "account_disconnected" || got.Error.Message != tc.want {
				t.Fatalf("job %s, error %+v; want cancelled with %q", got.Status, got.Error, tc.want)
			}
			if kept := got.LeaseOwner == owner; kept != tc.keepsLease {
				t.Errorf("lease owner %q after the cancel: kept %v, want %v", got.LeaseOwner, kept, tc.keepsLease)
			}
			// Another attempt's post, or one on another part, is not this
			// job's to record.
			if kept, err := s.KeepPublished(t.Context(), got, "attempt-2", got.Part, "17890000000000002", now); err != nil || kept != nil {
				t.Errorf("KeepPublished by another attempt = %+v, %v; want nil", kept, err)
			}
			if kept, err := s.KeepPublished(t.Context(), got, owner, got.Part+1, "17890000000000002", now); err != nil || kept != nil {
				t.Errorf("KeepPublished of another part = %+v, %v; want nil", kept, err)
			}
			if released, err := s.ReleaseCancelled(t.Context(), got, "attempt-2", now); err != nil || released {
				t.Errorf("ReleaseCancelled by another attempt = %v, %v; want false", released, err)
			}
			kept, err := s.KeepPublished(t.Context(), got, owner, got.Part, "17890000000000003", now)
			if err != nil || (kept != nil) != tc.keepsLease {
				t.Fatalf("KeepPublished by the attempt in flight = %+v, %v; want a job: %v", kept, err, tc.keepsLease)
			}
			if kept != nil && (kept.Status != store.JobPublished || kept.LeaseOwner != "" || kept.Error != nil) {
				t.Errorf("kept job %s, lease %q, error %+v; want published, no lease, no error", kept.Status, kept.LeaseOwner, kept.Error)
			}
			// Its lease given up, nothing is left to release.
			if released, err := s.ReleaseCancelled(t.Context(), got, owner, now); err != nil || released {
				t.Errorf("ReleaseCancelled after the attempt ended = %v, %v; want false", released, err)
			}
		})
	}
}
