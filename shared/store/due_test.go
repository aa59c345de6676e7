package store_test

import (
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// newStoreAlone is a store on a project of its own in the emulator, so that
// collection-group queries see only the test's documents.
// newStoreAlone is a store on a project of its own in the emulator (so that
// collection-group queries see only the test's documents), with the
// environment for raw reads and writes.
func newStoreAlone(t *testing.T) (*store.Store, testenv.Env) {
	env := testenv.Require(t)
	env.ProjectID = "demo-alone-" + testenv.RandomID(t)
	return store.New(env.Firestore(t), newKeyring(t, "k1")), env
}

// storedDueBy reads the job's dueBy as stored: zero when the field is absent.
func storedDueBy(t *testing.T, s *store.Store, j *store.Job) time.Time {
	t.Helper()
	got, err := s.GetJob(t.Context(), j.UID, j.AccountID, j.JobID)
	if err != nil {
		t.Fatal(err)
	}
	return got.DueBy
}

// TestDueByFollowsTheJob: every write that hands a job on says by when it
// must be taken up again, and a job that has ended has no dueBy at all
// (but for a lease a cancel kept: TestKeptLeaseStaysDue).
func TestDueByFollowsTheJob(t *testing.T) {
	s, _ := newStoreAlone(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	uid, acct := "uid-"+testenv.RandomID(t), "17841400000000001"
	create := func(j store.Job) *store.Job {
		t.Helper()
		j.JobID, j.UID, j.AccountID, j.Kind, j.CreatedAt, j.UpdatedAt = "job-"+testenv.RandomID(t), uid, acct, "text", now, now
		return createJob(t, s, &j)
	}
	retryAt := now.Add(10 * time.Minute)

	for _, tc := range []struct {
		name string
		// run makes the job and the writes under test, and returns it and
		// the dueBy it must have (zero: none).
		run func(t *testing.T) (*store.Job, time.Time)
	}{
		{"created claimed: the lease's end", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobAccepted, LeaseOwner: "o1", LeaseUntil: now.Add(time.Minute), Attempts: 1})
			return j, now.Add(time.Minute)
		}},
		{"created scheduled: publishAt", func(t *testing.T) (*store.Job, time.Time) {
			return create(store.Job{Status: store.JobScheduled, PublishAt: now.Add(time.Hour)}), now.Add(time.Hour)
		}},
		{"claimed: the new lease's end", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobScheduled, PublishAt: now.Add(-time.Second)})
			claimed, err := s.ClaimJob(ctx, uid, acct, j.JobID, "o2", now, 2*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !claimed.DueBy.Equal(now.Add(2 * time.Minute)) {
				t.Errorf("ClaimJob's job: DueBy %v", claimed.DueBy)
			}
			return j, now.Add(2 * time.Minute)
		}},
		{"progress kept under the lease: unchanged", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobAccepted, LeaseOwner: "o1", LeaseUntil: now.Add(time.Minute), Attempts: 1})
			j.Status, j.DueBy = store.JobPublishing, retryAt // not written without release
			if err := s.UpdateJob(ctx, j, "o1", now, false); err != nil {
				t.Fatal(err)
			}
			return j, now.Add(time.Minute)
		}},
		{"released for a retry: the caller's time", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobAccepted, LeaseOwner: "o1", LeaseUntil: now.Add(time.Minute), Attempts: 1})
			j.DueBy = retryAt
			if err := s.UpdateJob(ctx, j, "o1", now, true); err != nil {
				t.Fatal(err)
			}
			return j, retryAt
		}},
		{"released ended: none", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobAccepted, LeaseOwner: "o1", LeaseUntil: now.Add(time.Minute), Attempts: 1})
			j.Status, j.DueBy = store.JobPublished, retryAt
			if err := s.UpdateJob(ctx, j, "o1", now, true); err != nil {
				t.Fatal(err)
			}
			if !j.DueBy.IsZero() {
				t.Errorf("the written job keeps DueBy %v", j.DueBy)
			}
			return j, time.Time{}
		}},
		{"cancelled by its owner: none", func(t *testing.T) (*store.Job, time.Time) {
			j := create(store.Job{Status: store.JobScheduled, PublishAt: now.Add(time.Hour)})
			if _, err := s.CancelJob(ctx, uid, acct, j.JobID, "cancelled_by_owner", now); err != nil {
				t.Fatal(err)
			}
			return j, time.Time{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, want := tc.run(t)
			if got := storedDueBy(t, s, j); !got.Equal(want) {
				t.Errorf("stored dueBy %v, want %v", got, want)
			}
		})
	}

	// The account disconnected: its pending jobs are cancelled, dueBy gone.
	j := create(store.Job{Status: store.JobAccepted, DueBy: retryAt})
	if n, err := s.CancelPendingJobs(ctx, uid, acct, "account_disconnected", now); err != nil || n == 0 {
		t.Fatalf("CancelPendingJobs = %d, %v", n, err)
	}
	if got := storedDueBy(t, s, j); !got.IsZero() {
		t.Errorf("after CancelPendingJobs: dueBy %v", got)
	}
}

// TestOverdueJobs: the query across all users finds the jobs due before a
// time, most overdue first, within the limit, and none without a dueBy.
func TestOverdueJobs(t *testing.T) {
	s, _ := newStoreAlone(t)
	ctx := t.Context()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	mk := func(uid string, st store.JobStatus, due time.Time) *store.Job {
		t.Helper()
		j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: uid, AccountID: "17841400000000001", Status: st,
			Kind: "text", CreatedAt: t0, UpdatedAt: t0, DueBy: due}
		return createJob(t, s, j)
	}
	late := mk("uid-a", store.JobAccepted, t0.Add(-3*time.Minute))
	later := mk("uid-b", store.JobPublishing, t0.Add(-2*time.Minute))
	mk("uid-a", store.JobAccepted, t0.Add(time.Minute)) // not yet due
	ended := mk("uid-b", store.JobPublished, t0.Add(-5*time.Minute))
	if ok, err := s.ClearDueBy(ctx, ended, time.Now()); err != nil || !ok {
		t.Fatalf("ClearDueBy = %v, %v", ok, err)
	}

	ids := func(js []*store.Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.JobID)
		}
		return out
	}
	for _, tc := range []struct {
		limit int
		want  []string
	}{
		{10, []string{late.JobID, later.JobID}},
		{1, []string{late.JobID}},
	} {
		got, err := s.OverdueJobs(ctx, t0, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if g := ids(got); len(g) != len(tc.want) || (len(g) > 0 && g[0] != tc.want[0]) || (len(g) > 1 && g[1] != tc.want[1]) {
			t.Errorf("OverdueJobs(limit %d) = %v, want %v", tc.limit, g, tc.want)
		}
	}

	// ClearDueBy writes only a job still as it was read.
	got, err := s.OverdueJobs(ctx, t0, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("OverdueJobs = %v, %v", got, err)
	}
	stale := *got[0]
	if _, err := s.ClaimJob(ctx, late.UID, late.AccountID, late.JobID, "o1", t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.ClearDueBy(ctx, &stale, time.Now()); err != nil || ok {
		t.Errorf("ClearDueBy of a job changed since = %v, %v; want false", ok, err)
	}
	if d := storedDueBy(t, s, late); !d.Equal(t0.Add(time.Minute)) {
		t.Errorf("dueBy after the claim %v, want the lease's end", d)
	}
}

// TestKeptLeaseStaysDue: a job cancelled while an attempt was publishing it
// keeps that attempt's lease and stays due by its end, so that a sweep
// finds it if the attempt dies with the lease kept. The attempt giving the
// lease up (with or without a post) removes the due; the sweep's ClearDueBy
// leaves a live kept lease alone and ends one that has run out, after which
// the dead attempt's late writes change nothing.
func TestKeptLeaseStaysDue(t *testing.T) {
	s, _ := newStoreAlone(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	const owner = "attempt-1"
	leaseEnd := now.Add(time.Minute)
	cancelled := func(t *testing.T) *store.Job {
		t.Helper()
		j := &store.Job{JobID: "job-" + testenv.RandomID(t), UID: "uid-" + testenv.RandomID(t), AccountID: "17841400000000001",
			Kind: "text", Status: store.JobPublishing, ContainerID: "17900000000000001", LeaseOwner: owner, LeaseUntil: leaseEnd,
			Attempts: 1, CreatedAt: now, UpdatedAt: now}
		createJob(t, s, j)
		if n, err := s.CancelPendingJobs(ctx, j.UID, j.AccountID, "account_disconnected", now); err != nil || n != 1 {
			t.Fatalf("CancelPendingJobs = %d, %v", n, err)
		}
		got, err := s.GetJob(ctx, j.UID, j.AccountID, j.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != store.JobCancelled || got.LeaseOwner != owner || !got.DueBy.Equal(leaseEnd) {
			t.Fatalf("cancelled job %s, lease %q, dueBy %v; want cancelled, the lease kept, due by its end %v",
				got.Status, got.LeaseOwner, got.DueBy, leaseEnd)
		}
		return got
	}
	for _, tc := range []struct {
		name string
		// end ends the kept lease and reports whether it did.
		end func(t *testing.T, j *store.Job) bool
	}{
		{"its attempt records the post", func(t *testing.T, j *store.Job) bool {
			kept, err := s.KeepPublished(ctx, j, owner, 0, "17890000000000001", now)
			if err != nil {
				t.Fatal(err)
			}
			return kept != nil
		}},
		{"its attempt gives it up", func(t *testing.T, j *store.Job) bool {
			ok, err := s.ReleaseCancelled(ctx, j, owner, now)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}},
		{"the sweep, once it has run out", func(t *testing.T, j *store.Job) bool {
			// While it runs, the attempt may yet record its post.
			if ok, err := s.ClearDueBy(ctx, j, leaseEnd.Add(-time.Second)); err != nil || ok {
				t.Fatalf("ClearDueBy of a live kept lease = %v, %v; want false", ok, err)
			}
			ok, err := s.ClearDueBy(ctx, j, leaseEnd.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if ok && (j.LeaseOwner != "" || !j.DueBy.IsZero()) {
				t.Errorf("ClearDueBy left the job read with lease %q, dueBy %v", j.LeaseOwner, j.DueBy)
			}
			return ok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := cancelled(t)
			if !tc.end(t, j) {
				t.Fatal("the kept lease was not ended")
			}
			got, err := s.GetJob(ctx, j.UID, j.AccountID, j.JobID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LeaseOwner != "" || !got.LeaseUntil.IsZero() || !got.DueBy.IsZero() {
				t.Errorf("after: lease %q until %v, dueBy %v; want none", got.LeaseOwner, got.LeaseUntil, got.DueBy)
			}
			// Nothing of the attempt's may change it now.
			if kept, err := s.KeepPublished(ctx, got, owner, 0, "17890000000000002", now); err != nil || kept != nil {
				t.Errorf("KeepPublished after the lease ended = %+v, %v; want nil", kept, err)
			}
		})
	}
}
